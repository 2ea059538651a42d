"""scoring_rate: leads scored per second by one worker, beside a bare consume loop over the
same `lead.received` events on the same broker."""

from __future__ import annotations

import time

from bench.config import Scale
from bench.kafka_io import Arrivals, assigned_consumer, consume_count, create_topics, producer
from bench.kafka_io import send_all as produce_all
from bench.load import received_events
from bench.procs import wait_ready
from bench.report import Figure, Target, figure, missing
from bench.stack import Stack
from shared.events import ALL_TOPICS, TOPIC_KEYS, TOPIC_RECEIVED, TOPIC_SCORED

TARGET = Target(">= 0.5 of baseline", min_ratio=0.5)
FIGURES = [("scoring_rate", "leads/s", TARGET)]


async def run(stack: Stack, scale: Scale) -> list[Figure]:
    """Pre-fill leads.received, time the bare loop over it, then start scoring and time
    from its readiness until every lead's `lead.scored` is on leads.scored."""
    name, unit, n = "scoring_rate", "leads/s", scale.scoring_leads
    await create_topics(stack.bootstrap, ALL_TOPICS)
    records, keys = received_events(n)
    async with producer(stack.bootstrap) as p:
        await produce_all(p, TOPIC_KEYS, keys)
        await produce_all(p, TOPIC_RECEIVED, records)

    async with assigned_consumer(stack.bootstrap, TOPIC_RECEIVED) as c:
        started = time.perf_counter()
        seen = await consume_count(c, n, timeout=scale.scoring_timeout)
        bare_seconds = time.perf_counter() - started
    if seen < n:
        note = f"the bare loop read only {seen} of {n} records"
        return [missing(name, stack.database, unit, TARGET, note)]

    scored = Arrivals(stack.bootstrap, TOPIC_SCORED)
    async with scored.watching():
        worker = stack.spawn("scoring")
        ready_at = await wait_ready(worker)
        with stack.profiling({"scoring": worker}, "scoring_rate"):
            complete = await scored.wait_for(n, timeout=scale.scoring_timeout)
    done = len(scored.at)
    if done == 0:
        note = f"nothing on {TOPIC_SCORED} within {scale.scoring_timeout:.0f}s"
        return [missing(name, stack.database, unit, TARGET, note)]
    last = max(scored.at.values())
    seconds = max(last - ready_at, 1e-6)
    early = sum(1 for t in scored.at.values() if t < ready_at)
    note = f"{done} of {n} leads scored in {seconds:.2f}s (from the first /readyz 200)"
    if early:
        note += f"; {early} were published before that probe was sent"
    if not complete:
        note += f"; stopped after {scale.scoring_timeout:.0f}s"
    return [
        figure(
            name,
            stack.database,
            done / seconds,
            unit,
            TARGET,
            baseline=n / bare_seconds,
            note=note + f"; bare loop {bare_seconds:.2f}s",
        )
    ]
