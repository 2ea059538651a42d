"""intake_post_rate and intake_batch_rate, each beside its baseline from the same run."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import httpx

from bench.client import auth, pool, post_leads
from bench.config import Scale
from bench.kafka_io import create_topics, producer, send_all
from bench.load import closed_loop, lead_bodies
from bench.procs import Child, wait_ready
from bench.report import Figure, Target, figure, missing
from bench.stack import Stack
from shared.events import ALL_TOPICS

POST_TARGET = Target(">= 0.5 of baseline", min_ratio=0.5)
BATCH_TARGET = Target(">= 10000 leads/s and >= 0.3 of baseline", min_ratio=0.3, min_value=10_000)
FIGURES = [
    ("intake_post_rate", "leads/s", POST_TARGET),
    ("intake_batch_rate", "leads/s", BATCH_TARGET),
]
BASELINE_TOPIC = "bench.baseline"
PROBE_LEADS = 100
DRAIN_SECONDS = 10.0


async def run(stack: Stack, scale: Scale) -> list[Figure]:
    await create_topics(stack.bootstrap, [*ALL_TOPICS, BASELINE_TOPIC])
    baseline = stack.start_baseline_app(BASELINE_TOPIC)
    intake = stack.spawn("intake")
    await asyncio.gather(wait_ready(baseline), wait_ready(intake))
    figures = [await post_rate(stack, intake, baseline, scale)]
    stack.stop(baseline)
    figures.append(await batch_rate(stack, intake, scale))
    return figures


async def post_rate(stack: Stack, intake: Child, baseline: Child, scale: Scale) -> Figure:
    """Closed loop, same bodies and headers to both; the baseline goes first, so intake's
    relay is not still publishing while the baseline runs."""
    bodies = lead_bodies(scale.post_max_requests)
    rates = []
    for target in (baseline, intake):
        profiled = {"intake": intake} if target is intake else {}
        async with pool(target.url, scale.concurrency) as connections:
            send = post_leads(connections, bodies, stack.keys)
            with stack.profiling(profiled, "intake_post_rate"):
                rates.append(
                    await closed_loop(
                        send,
                        concurrency=scale.concurrency,
                        warmup=scale.warmup_seconds,
                        duration=scale.post_seconds,
                        max_requests=len(bodies),
                    )
                )
    base, ours = rates
    note = (
        f"{ours.completed} leads committed in {ours.seconds:.1f}s at concurrency "
        f"{scale.concurrency}; baseline {base.completed}"
    )
    if ours.failures or base.failures:
        note += f"; non-2xx answers: ours [{ours.failures}] baseline [{base.failures}]"
    return figure(
        "intake_post_rate",
        stack.database,
        ours.per_second,
        "leads/s",
        POST_TARGET,
        baseline=base.per_second,
        note=note,
    )


async def batch_rate(stack: Stack, intake: Child, scale: Scale) -> Figure:
    """One NDJSON upload of `batch_leads` leads, timed to its answer; beside a bare producer
    sending the same lines (send all, flush, every ack)."""
    name, unit = "intake_batch_rate", "leads/s"
    backlog = await _drain_outbox(intake)
    url = f"{intake.url}/v1/leads/batch"
    bodies = lead_bodies(scale.batch_leads)
    async with httpx.AsyncClient(timeout=scale.batch_timeout) as client:
        try:
            probe = await _post_batch(client, url, lead_bodies(PROBE_LEADS), stack.keys)
        except httpx.HTTPError as exc:
            return missing(name, stack.database, unit, BATCH_TARGET, f"probe failed: {exc!r}")
        if probe.status_code in (404, 405):
            note = f"POST /v1/leads/batch answered {probe.status_code}: not built yet"
            return missing(name, stack.database, unit, BATCH_TARGET, note)
        if probe.status_code >= 300:
            note = f"probe batch of {PROBE_LEADS} answered {probe.status_code}: {probe.text[:200]}"
            return missing(name, stack.database, unit, BATCH_TARGET, note)
        started = time.perf_counter()
        try:
            with stack.profiling({"intake": intake}, "intake_batch_rate"):
                answer = await _post_batch(client, url, bodies, stack.keys)
        except httpx.TimeoutException:
            limit = len(bodies) / scale.batch_timeout
            note = f"upload of {len(bodies)} leads not answered in {scale.batch_timeout:.0f}s"
            note += f" (under {limit:.0f} leads/s)"
            return missing(name, stack.database, unit, BATCH_TARGET, note)
        except httpx.HTTPError as exc:
            note = f"upload of {len(bodies)} leads failed: {exc!r}"
            return missing(name, stack.database, unit, BATCH_TARGET, note)
        elapsed = time.perf_counter() - started
    if answer.status_code >= 300:
        note = f"upload of {len(bodies)} leads answered {answer.status_code}: {answer.text[:200]}"
        return missing(name, stack.database, unit, BATCH_TARGET, note)
    accepted = accepted_rows(answer)
    note = f"{len(bodies)} leads in one upload took {elapsed:.2f}s"
    if backlog:
        note += f"; intake's outbox backlog was still {backlog} after {DRAIN_SECONDS:.0f}s idle"
    if accepted is None:
        accepted = len(bodies)
        note += "; the answer's accepted count was not found, so every row counts"
    elif accepted < len(bodies):
        note += f"; only {accepted} rows accepted"
    base_seconds = await _bare_produce(stack.bootstrap, bodies)
    return figure(
        name,
        stack.database,
        accepted / elapsed,
        unit,
        BATCH_TARGET,
        baseline=len(bodies) / base_seconds,
        note=note,
    )


async def _post_batch(
    client: httpx.AsyncClient, url: str, bodies: list[bytes], keys: list[str]
) -> httpx.Response:
    headers = {"Content-Type": "application/x-ndjson", **auth(keys, 0)}
    return await client.post(url, content=b"\n".join(bodies) + b"\n", headers=headers)


def accepted_rows(answer: httpx.Response) -> int | None:
    """Accepted rows from a batch answer: a summary count, or rows with status "accepted"
    (a JSON document or NDJSON lines); None if the shape is unknown."""
    try:
        if "ndjson" in answer.headers.get("content-type", ""):
            doc: object = [json.loads(line) for line in answer.text.splitlines() if line.strip()]
        else:
            doc = answer.json()
    except ValueError:
        return None
    if isinstance(doc, dict):
        summary = doc.get("summary")
        if isinstance(summary, dict) and isinstance(summary.get("accepted"), int):
            return int(summary["accepted"])
        doc = next((v for v in doc.values() if isinstance(v, list)), None)
    if isinstance(doc, list):
        return sum(1 for row in doc if isinstance(row, dict) and row.get("status") == "accepted")
    return None


async def _bare_produce(bootstrap: str, bodies: list[bytes]) -> float:
    records = [(str(uuid.uuid4()).encode(), body) for body in bodies]
    async with producer(bootstrap) as p:
        started = time.perf_counter()
        await send_all(p, BASELINE_TOPIC, records)
        return time.perf_counter() - started


async def _drain_outbox(intake: Child) -> int | None:
    """Wait (bounded) until the relay has published what the POST figure left behind;
    the backlog left (0 when drained, None when /readyz did not say)."""
    deadline = time.monotonic() + DRAIN_SECONDS
    backlog = None
    async with httpx.AsyncClient(timeout=5.0) as client:
        while time.monotonic() < deadline:
            try:
                checks = (await client.get(f"{intake.url}/readyz")).json().get("checks", {})
            except (httpx.HTTPError, ValueError):
                checks = {}
            backlog = checks.get("outbox_backlog")
            if backlog == 0:
                break
            await asyncio.sleep(0.2)
    return backlog if isinstance(backlog, int) else None
