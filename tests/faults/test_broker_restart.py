"""The broker dies mid-flow and a new one starts on the same port."""

from __future__ import annotations

import asyncio

import pytest

from tests.faults.conftest import LeadPoster, Stack, audit, meanwhile

pytestmark = pytest.mark.faults

OUTAGE_SECONDS = 1.5


async def test_broker_killed_mid_flow_then_restarted_empty(stack: Stack) -> None:
    """Tansu is SIGKILLed while 300 leads are posted at ~100/s (once 40 are assigned, so
    events are in flight at every hop), and a new Tansu starts on the same port 1.5 s later.
    Intake keeps answering 202 during the outage; every row still in an outbox must flow
    once the new broker listens, and every consumer must carry on.

    Tansu keeps everything in memory, so the new broker is empty: topics, groups, committed
    offsets and every earlier message are gone, including events the killed broker had
    acknowledged and no consumer had read yet. Nothing may be lost all the same, and the
    audit has no excuse for it: each relay notices that the broker lost what it had
    acknowledged (a partition's end fell below an offset it acked there, or the topic is
    gone) and sends those outbox rows again, in order; each consumer rejoins and reads the
    new log from its start (a stale position or commit must not skip what lands there),
    deduplicating through its inbox. So every topic ends up holding exactly one event per
    lead the databases know of, duplicate deliveries aside."""
    async with asyncio.timeout(200):
        await stack.up()
        poster = LeadPoster(stack.url(), stack.api_key)
        async with meanwhile(poster.post(300, rate=100)):
            await stack.wait_count("select count(*) from handoff.assignments", 40)
            stack.kill_broker()
            stack.note("killed the broker (SIGKILL)")
            await asyncio.sleep(OUTAGE_SECONDS)
            await stack.start_broker()
            stack.note(f"started an empty broker on the same port after {OUTAGE_SECONDS}s")
        stack.note(poster.summary())
        await audit(stack, poster)
