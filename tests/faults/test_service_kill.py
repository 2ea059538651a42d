"""Each service SIGKILLed in the middle of a burst, then restarted with the same env and port."""

from __future__ import annotations

import asyncio

import pytest

from tests.faults.conftest import SERVICES, LeadPoster, Stack, audit, meanwhile

pytestmark = pytest.mark.faults

BUSY_WITH = {
    # the victim's own output, growing while more input keeps arriving
    "intake": "select count(*) from intake.leads",
    "scoring": "select count(*) from scoring.decisions",
    "handoff": "select count(*) from handoff.assignments",
}


@pytest.mark.parametrize("victim", SERVICES)
async def test_service_killed_mid_batch_and_restarted(stack: Stack, victim: str) -> None:
    """300 leads posted at ~200/s; once the victim has done 60 of them, SIGKILL it (no
    shutdown hook, no offset commit; a transaction, a produce or a request cut short) and
    start it again on the same port with the same environment. Nothing may be lost and
    nothing done twice. While intake is down the client retries each lead with its
    Idempotency-Key until intake answers."""
    async with asyncio.timeout(200):
        await stack.up()
        poster = LeadPoster(stack.url(), stack.api_key)
        async with meanwhile(poster.post(300, rate=200)):
            done = await stack.wait_count(BUSY_WITH[victim], 60)
            stack.kill(victim)
            stack.note(f"{victim} had done {done}+ of 300")
            await stack.restart(victim, timeout=90)
        stack.note(poster.summary())
        await audit(stack, poster)
