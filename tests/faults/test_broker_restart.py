"""The broker dies mid-flow and a new one starts on the same port."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from tests.faults.conftest import LeadPoster, Stack, audit, meanwhile

pytestmark = pytest.mark.faults

OUTAGE_SECONDS = 1.5


@pytest.mark.xfail(
    strict=False,
    reason="known gap: Tansu's memory engine comes back empty, and a consumer whose position "
    "or last commit lies past the new log's end can skip events published after the restart "
    "(Apache Kafka keeps its log, so a restart there does not reset offsets); see the "
    "closing note of the session that added this test",
)
async def test_broker_killed_mid_flow_then_restarted_empty(stack: Stack) -> None:
    """Tansu is SIGKILLed while 300 leads are posted at ~100/s (once 40 are assigned, so
    events are in flight at every hop), and a new Tansu starts on the same port 1.5 s later.
    Intake keeps answering 202 during the outage; every row still in an outbox must flow
    once the new broker listens, and every consumer must carry on.

    Tansu keeps everything in memory, so the new broker is empty: topics, groups, committed
    offsets and every earlier message are gone. That shapes the audit (our choice):
    - the database audit is strict but for events the killed broker had acked (marked sent
      before the new broker was started) and no consumer had read: those died with the
      broker's memory, which no client can prevent; they are counted and reported ("lost
      with the killed in-memory broker"), not failed. A durable Kafka keeps them.
    - the topic audit is one way: every event on the new broker is in the databases, once
      per lead, and every outbox row marked sent after the restart (+2 s) is on it."""
    async with asyncio.timeout(200):
        await stack.up()
        poster = LeadPoster(stack.url(), stack.api_key)
        async with meanwhile(poster.post(300, rate=100)):
            await stack.wait_count("select count(*) from handoff.assignments", 40)
            stack.kill_broker()
            stack.note("killed the broker (SIGKILL)")
            await asyncio.sleep(OUTAGE_SECONDS)
            restarted_at = datetime.now(UTC)
            await stack.start_broker()
            stack.note(f"started an empty broker on the same port after {OUTAGE_SECONDS}s")
        stack.note(poster.summary())
        await audit(stack, poster, broker_restarted_at=restarted_at)
