"""Two replicas of scoring and of handoff in one consumer group; one of each dies."""

from __future__ import annotations

import asyncio

import pytest

from tests.faults.conftest import LeadPoster, Stack, audit, meanwhile

pytestmark = pytest.mark.faults


async def test_one_of_two_replicas_killed_during_the_run(stack: Stack) -> None:
    """intake, scoring x2 and handoff x2 (each pair one consumer group over three
    partitions, all on one database). 300 leads at ~100/s; once 80 are assigned, SIGKILL
    scoring-2 and handoff-2 (no LeaveGroup, no offset commit). The survivors take over their
    partitions once the group notices (session timeout) and redelivery must change nothing:
    no lead lost, none assigned twice."""
    async with asyncio.timeout(200):
        await stack.up(replicas={"scoring": 2, "handoff": 2})
        poster = LeadPoster(stack.url(), stack.api_key)
        async with meanwhile(poster.post(300, rate=100)):
            await stack.wait_count("select count(*) from handoff.assignments", 80)
            stack.kill("scoring-2")
            stack.kill("handoff-2")
        stack.note(poster.summary())
        await audit(stack, poster)
