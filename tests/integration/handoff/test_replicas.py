"""Two handoff replicas on one PostgreSQL database, consuming in one group: no lead is
assigned twice, capacity holds, the rotation stays fair and every SLA timer fires once."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from services.handoff.tables import assignments, leads, rotation, timeline
from shared.clock import FixedClock
from tests.infra import eventually, read_topic, running
from tests.integration.handoff.conftest import (
    a_rep,
    a_scored,
    feed,
    handoff_app,
    reps_file,
    send_scored,
)

pytestmark = pytest.mark.postgres

CAPACITY = 8
REPS = ("rep-a", "rep-b", "rep-c")
HELD = CAPACITY * len(REPS)


async def test_two_replicas_never_assign_a_lead_twice_nor_overfill_a_rep(
    pg_url: str, broker: str, keys_file: Path, auth: dict[str, str], tmp_path: Path
) -> None:
    seed = reps_file(
        tmp_path,
        [a_rep(r, "na", capacity=CAPACITY) for r in REPS] + [a_rep("boss", "na", weight=0)],
        managers={"na": "boss"},
    )
    clock = FixedClock(datetime(2026, 11, 24, 15, 0, tzinfo=UTC))
    one = handoff_app(pg_url, broker, keys_file, seed, clock, scan_batch_size=5)
    two = handoff_app(pg_url, broker, keys_file, seed, clock, scan_batch_size=5)
    over_kafka = [a_scored(team="na") for _ in range(24)]
    direct = [a_scored(team="na") for _ in range(12)]
    everyone = {e.data.lead.lead_id for e in over_kafka + direct}

    def handed(records: list[dict[str, Any]]) -> Counter[str]:
        return Counter(r["key"] for r in records if r["key"] in everyone)

    async with running(one) as client, running(two):  # both seed the reps: one waits
        await send_scored(broker, *over_kafka)
        # Meanwhile both replicas take leads in parallel transactions on the same team row.
        await asyncio.gather(feed(one, *direct[::2]), feed(two, *direct[1::2]))
        sessionmaker = one.state.runtime.sessionmaker

        async def all_routed() -> bool:
            async with sessionmaker() as session:
                stmt = select(func.count()).select_from(leads).where(leads.c.lead_id.in_(everyone))
                return await session.scalar(stmt) == len(everyone)

        await eventually(all_routed, timeout=30)
        async with sessionmaker() as session:
            picks = (
                await session.execute(select(assignments.c.lead_id, assignments.c.rep_id))
            ).all()
            held = dict((await session.execute(select(leads.c.lead_id, leads.c.rep_id))).all())
            counts = dict(
                (await session.execute(select(rotation.c.rep_id, rotation.c.assigned))).all()
            )
        assert len(picks) == len({lead for lead, _ in picks}) == HELD
        assert Counter(rep for _, rep in picks) == dict.fromkeys(REPS, CAPACITY)
        assert Counter(r for r in held.values() if r) == dict.fromkeys(REPS, CAPACITY)
        assert counts == dict.fromkeys(REPS, CAPACITY)
        team = (await client.get("/v1/teams/na", headers=auth)).json()
        assert team["queued_leads"] == len(everyone) - HELD
        events = handed(
            await read_topic(broker, "leads.handoff", until=lambda rs: len(handed(rs)) >= HELD)
        )
        assert set(events.values()) == {1}  # one lead.assigned per assigned lead
        assert set(events) == {lead for lead, _ in picks}

        # Both scanners at once, on a clock past every first-contact due time.
        clock.advance(timedelta(minutes=6))
        for _ in range(2):
            await asyncio.gather(one.state.scanner.scan_once(), two.state.scanner.scan_once())
        async with sessionmaker() as session:
            fired = (
                await session.execute(
                    select(timeline.c.lead_id, timeline.c.kind).where(
                        timeline.c.kind.in_(("sla_warning", "sla_breached")),
                        timeline.c.lead_id.in_(list(events)),
                    )
                )
            ).all()
            open_assignments = (
                await session.execute(
                    select(assignments.c.lead_id, func.count())
                    .where(assignments.c.ended_at.is_(None))
                    .group_by(assignments.c.lead_id)
                )
            ).all()
    per_timer = Counter(fired)
    assert len(per_timer) == 2 * HELD  # every lead warned and breached...
    assert set(per_timer.values()) == {1}  # ...exactly once, though two scanners ran
    assert {n for _, n in open_assignments} == {1}
