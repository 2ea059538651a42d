"""`python -m bench.stages [--db sqlite|postgresql] [--rate 200] [--seconds 10]`: where a
lead's end-to-end time goes, hop by hop, at a fixed offered rate on a fresh stack.

Each hop is read off what the records carry: an event's `time` (set when the service built
it, inside its transaction) and the record's timestamp (set by the relay's producer when it
sent it). A diagnostic, not a figure: it prints percentiles per hop and the slowest leads
with their hops, so a stall shows where it happened."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import datetime

from bench.client import pool, post_leads
from bench.kafka_io import Arrivals, assigned_consumer, create_topics
from bench.load import lead_bodies, open_loop, percentile
from bench.procs import Processes
from bench.stack import open_stack
from shared.events import (
    ALL_TOPICS,
    TOPIC_HANDOFF,
    TOPIC_RECEIVED,
    TOPIC_SCORED,
    LeadAssigned,
    LeadReceived,
    LeadScored,
)

HOPS = (
    "POST answered -> lead.received sent (intake's relay)",
    "lead.received sent -> lead.scored built (scoring's consumer)",
    "lead.scored built -> sent (scoring's commit and relay)",
    "lead.scored sent -> lead.assigned built (handoff's consumer)",
    "lead.assigned built -> sent (handoff's commit and relay)",
    "lead.assigned sent -> read by the watcher",
)
WARMUP = 20
SLOWEST = 10


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


async def _read(bootstrap: str, topic: str, ce_type: str) -> dict[str, tuple[float, float]]:
    """key -> (event time, record timestamp), first record of `ce_type` per key."""
    out: dict[str, tuple[float, float]] = {}
    async with assigned_consumer(bootstrap, topic) as c:
        idle = 0
        while idle < 5:
            batch = await c.getmany(timeout_ms=200, max_records=5000)
            idle = 0 if batch else idle + 1
            for msgs in batch.values():
                for m in msgs:
                    if m.value is None or m.key is None:
                        continue
                    if dict(m.headers).get("ce_type", b"").decode() != ce_type:
                        continue
                    event = json.loads(m.value)
                    out.setdefault(m.key.decode(), (_epoch(event["time"]), m.timestamp / 1000))
    return out


async def run(database: str, rate: float, seconds: float) -> None:
    wall_offset = time.time() - time.perf_counter()
    procs = Processes()
    try:
        async with open_stack(database, procs, None) as stack:
            await create_topics(stack.bootstrap, ALL_TOPICS)
            services = await stack.start_services("intake", "scoring", "handoff")
            count = int(rate * seconds)
            bodies = lead_bodies(count + WARMUP)
            assigned = Arrivals(stack.bootstrap, TOPIC_HANDOFF, ce_type=LeadAssigned.TYPE)
            async with (
                assigned.watching(),
                pool(services["intake"].url, 64, timeout=10) as connections,
            ):
                send = post_leads(connections, bodies, stack.keys)
                warm = [await send(count + i) for i in range(WARMUP)]
                await assigned.wait_for({r.key for r in warm if r.key}, timeout=15)
                answers = await open_loop(send, rate=rate, count=count)
                answered = {
                    a.reply.key: a.answered_at + wall_offset
                    for a in answers
                    if a.reply.ok and a.reply.key
                }
                await assigned.wait_for(set(answered), timeout=10)
            received = await _read(stack.bootstrap, TOPIC_RECEIVED, LeadReceived.TYPE)
            scored = await _read(stack.bootstrap, TOPIC_SCORED, LeadScored.TYPE)
            handed = await _read(stack.bootstrap, TOPIC_HANDOFF, LeadAssigned.TYPE)
    finally:
        procs.stop_all()
    start = min(answered.values(), default=0.0)
    rows: list[tuple[float, float, list[float]]] = []
    for key, t0 in answered.items():
        if key not in received or key not in scored or key not in handed:
            continue
        if key not in assigned.at:
            continue
        seen = assigned.at[key] + wall_offset
        r, s, a = received[key], scored[key], handed[key]
        hops = [r[1] - t0, s[0] - r[1], s[1] - s[0], a[0] - s[1], a[1] - a[0], seen - a[1]]
        rows.append(((seen - t0) * 1000, t0 - start, [h * 1000 for h in hops]))
    print(f"{database}: {len(rows)} of {len(answered)} accepted leads assigned, {rate:.0f}/s")
    if not rows:
        return
    print(f"{'hop (ms)':64s} {'p50':>7s} {'p90':>7s} {'p99':>7s}")
    for i, name in enumerate((*HOPS, "total")):
        values = [r[2][i] for r in rows] if i < len(HOPS) else [r[0] for r in rows]
        print(
            f"{name:64s} {percentile(values, 50):7.1f} {percentile(values, 90):7.1f} "
            f"{percentile(values, 99):7.1f}"
        )
    print("total by second sent (s: count p50 p99 max, ms):")
    for second in range(int(max(r[1] for r in rows)) + 1):
        totals = [r[0] for r in rows if second <= r[1] < second + 1]
        if totals:
            print(
                f"  {second:3d}: {len(totals):5d} {percentile(totals, 50):7.1f} "
                f"{percentile(totals, 99):7.1f} {max(totals):7.1f}"
            )
    print("slowest (total ms, sent at s, hops ms):")
    for total, at, hops in sorted(rows, reverse=True)[:SLOWEST]:
        print(f"  {total:6.0f} at {at:6.2f}s  {[round(h) for h in hops]}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.stages", description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    asyncio.run(run(args.db, args.rate, args.seconds))


if __name__ == "__main__":
    main()
