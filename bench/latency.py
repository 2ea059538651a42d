"""e2e_latency_p50/p99 (POST answered -> `lead.assigned` read from leads.handoff) at a fixed
offered rate with the whole stack running, beside a raw Kafka produce -> consume round
trip at the same rate on the same broker; and each service's peak RSS under that load."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

from aiokafka.errors import KafkaError

from bench.client import pool, post_leads
from bench.config import Scale
from bench.kafka_io import Arrivals, create_topics, producer
from bench.load import Answer, Reply, achieved_rate, lead_bodies, open_loop, percentile
from bench.procs import Child, rss_mb
from bench.report import Figure, Target, figure, missing
from bench.stack import Stack
from shared.events import ALL_TOPICS, TOPIC_HANDOFF, LeadAssigned

P99_TARGET = Target("<= 100 ms", max_value=100)
P50_TARGET = Target("<= 100 ms (as p99)", max_value=100)
RSS_TARGET = Target("<= 150 MB", max_value=150)
ROUNDTRIP_TOPIC = "bench.roundtrip"
SERVICES = ("intake", "scoring", "handoff")
WARMUP = 20  # requests (or records) before the timed load, excluded
CONNECTIONS = 64  # open loop: enough that requests do not queue in the client's pool
POST_TIMEOUT = 10.0  # a POST not answered by then (queueing included) counts as failed
SAMPLE_SECONDS = 0.2
AFTER_SECONDS = 2.0  # RSS is still sampled this long after the last assignment
FIGURES = [
    ("e2e_latency_p50", "ms", P50_TARGET),
    ("e2e_latency_p99", "ms", P99_TARGET),
    *((f"rss_mb_{svc}", "MB", RSS_TARGET) for svc in SERVICES),
]


async def run(stack: Stack, scale: Scale) -> list[Figure]:
    await create_topics(stack.bootstrap, [*ALL_TOPICS, ROUNDTRIP_TOPIC])
    services = await stack.start_services(*SERVICES)
    count = int(scale.latency_rate * scale.latency_seconds)
    bodies = lead_bodies(count + WARMUP)
    idle = {svc: rss_mb(c.pid) or 0.0 for svc, c in services.items()}
    base = await _roundtrip(stack.bootstrap, bodies, count, scale)
    peak = dict(idle)
    async with _sampling(services, peak):
        with stack.profiling(services, "e2e_latency"):
            ours, note = await _pipeline(stack, services["intake"], bodies, count, scale)
        await asyncio.sleep(AFTER_SECONDS)
    if not ours or not base:
        why = note or "no lead was accepted"
        return [missing(n, stack.database, u, t, why) for n, u, t in FIGURES]
    offered = f"{count} leads offered at {scale.latency_rate:.0f}/s "
    figures = [
        figure(
            f"e2e_latency_p{q}",
            stack.database,
            percentile(ours, q),
            "ms",
            target,
            baseline=percentile(base, q),
            note=offered + note if q == 99 else "",
        )
        for q, target in ((50, P50_TARGET), (99, P99_TARGET))
    ]
    figures += [
        figure(
            f"rss_mb_{svc}",
            stack.database,
            peak[svc],
            "MB",
            RSS_TARGET,
            baseline=idle[svc],
            note="peak VmRSS during and after the latency load; baseline: idle, once ready"
            if svc == "intake"
            else "",
        )
        for svc in SERVICES
    ]
    return figures


async def _roundtrip(bootstrap: str, bodies: list[bytes], count: int, scale: Scale) -> list[float]:
    """Raw produce (send_and_wait, acks=all) -> plain consumer, in ms from send to arrival."""
    arrivals = Arrivals(bootstrap, ROUNDTRIP_TOPIC)
    async with arrivals.watching(), producer(bootstrap) as p:

        async def send(i: int) -> Reply:
            key = f"rt-{i}"
            try:
                await p.send_and_wait(ROUNDTRIP_TOPIC, bodies[i], key=key.encode())
            except KafkaError:
                return Reply(0)
            return Reply(200, key)

        warm = [await send(count + i) for i in range(WARMUP)]
        await arrivals.wait_for({r.key for r in warm if r.key}, timeout=10)
        answers = await open_loop(send, rate=scale.latency_rate, count=count)
        sent = {a.reply.key: a.sent_at for a in answers if a.reply.key}
        await arrivals.wait_for(set(sent), timeout=scale.drain_timeout)
        cutoff = time.perf_counter()
    return [(arrivals.at.get(k, cutoff) - t) * 1000 for k, t in sent.items()]


async def _pipeline(
    stack: Stack, intake: Child, bodies: list[bytes], count: int, scale: Scale
) -> tuple[list[float], str]:
    """POST at the offered rate; ms from each 202 to its `lead.assigned` on leads.handoff."""
    assigned = Arrivals(stack.bootstrap, TOPIC_HANDOFF, ce_type=LeadAssigned.TYPE)
    async with (
        assigned.watching(),
        pool(intake.url, CONNECTIONS, timeout=POST_TIMEOUT) as connections,
    ):
        send = post_leads(connections, bodies, stack.keys)
        warm = [await send(count + i) for i in range(WARMUP)]
        await assigned.wait_for({r.key for r in warm if r.key}, timeout=15)
        answers = await open_loop(send, rate=scale.latency_rate, count=count)
        answered = {a.reply.key: a.answered_at for a in answers if a.reply.ok and a.reply.key}
        complete = await assigned.wait_for(set(answered), timeout=scale.drain_timeout)
        cutoff = time.perf_counter()
    latencies = [(assigned.at.get(k, cutoff) - t) * 1000 for k, t in answered.items()]
    return latencies, _describe(answers, answered, assigned, complete, scale)


def _describe(
    answers: list[Answer],
    answered: dict[str | None, float],
    assigned: Arrivals,
    complete: bool,
    scale: Scale,
) -> str:
    post_ms = [(a.answered_at - a.sent_at) * 1000 for a in answers if a.reply.ok]
    parts = []
    if post_ms:
        parts.append(
            f"POST answered in p50 {percentile(post_ms, 50):.1f} ms, "
            f"p99 {percentile(post_ms, 99):.1f} ms"
        )
    failed = len(answers) - len(answered)
    if failed:
        statuses = sorted({a.reply.status for a in answers if not a.reply.ok})
        parts.append(
            f"{failed} POSTs not accepted (status {statuses}; 0 = no answer in {POST_TIMEOUT:.0f}s)"
        )
    if not complete:
        lost = sum(1 for k in answered if k not in assigned.at)
        parts.append(
            f"{lost} leads not assigned within {scale.drain_timeout:.0f}s after the last "
            "answer, counted at that cut-off (so these percentiles are lower bounds)"
        )
    return "; ".join([f"(sent at {achieved_rate(answers):.0f}/s)", *parts])


@contextlib.asynccontextmanager
async def _sampling(services: dict[str, Child], peak: dict[str, float]) -> AsyncIterator[None]:
    """Sample each service's VmRSS every SAMPLE_SECONDS, keeping the max in `peak`."""

    async def sample() -> None:
        while True:
            for svc, child in services.items():
                mb = rss_mb(child.pid)
                if mb is not None:
                    peak[svc] = max(peak.get(svc, 0.0), mb)
            await asyncio.sleep(SAMPLE_SECONDS)

    task = asyncio.create_task(sample())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
