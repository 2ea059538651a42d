"""Weighted round robin and capacity through the service and the database, not only the
pure function (tests/unit/handoff/test_routing.py runs 1,000 leads through choose_rep):
counts live in rotation_counts, every pick is an assignments row, queues drain."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from fractions import Fraction

from prometheus_client import REGISTRY
from sqlalchemy import select

from services.handoff.assignment import receive_scored
from services.handoff.tables import assignments, rotation
from shared.db import transaction
from tests.integration.handoff.conftest import Harness, a_scored

LEADS = 300  # ~20 ms a lead on SQLite: enough to prove the stored rotation is the pure one


async def test_every_rep_stays_within_one_lead_of_its_weighted_share_at_every_step(
    harness: Harness,
) -> None:
    team = harness.team("rr")
    weights = {f"{team}-a": 1, f"{team}-b": 2, f"{team}-c": 3, f"{team}-d": 4}
    for rep_id, weight in weights.items():
        await harness.put_rep(rep_id, team, weight=weight, capacity=10_000)
    events = [a_scored(team=team) for _ in range(LEADS)]
    sessionmaker = harness.app.state.runtime.sessionmaker
    for start in range(0, LEADS, 100):  # a consumer batch is one transaction
        async with transaction(sessionmaker) as session:
            for event in events[start : start + 100]:
                await receive_scored(session, event, handoff=harness.app.state.handoff)
    async with sessionmaker() as session:
        picks = (
            await session.scalars(
                select(assignments.c.rep_id)
                .where(assignments.c.team == team)
                .order_by(assignments.c.id)
            )
        ).all()
        stored = dict(
            (
                await session.execute(
                    select(rotation.c.rep_id, rotation.c.assigned).where(rotation.c.team == team)
                )
            ).all()
        )
    assert len(picks) == LEADS
    total = sum(weights.values())
    counts: Counter[str] = Counter()
    for n, rep_id in enumerate(picks, start=1):
        counts[rep_id] += 1
        for rep, weight in weights.items():
            assert abs(counts[rep] - Fraction(n * weight, total)) < 1, (n, rep, counts)
    assert counts == {rep: LEADS * w // total for rep, w in weights.items()}
    assert stored == counts


async def test_capacity_is_never_exceeded_and_a_first_attempt_makes_room_for_a_queued_lead(
    harness: Harness,
) -> None:
    team = harness.team("cap")
    capacity = {f"{team}-a": 2, f"{team}-b": 3, f"{team}-c": 1}
    for rep_id, cap in capacity.items():
        await harness.put_rep(rep_id, team, capacity=cap, weight=3 if rep_id.endswith("c") else 1)
    first = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
    events = [a_scored(team=team, received_at=first + timedelta(minutes=i)) for i in range(9)]
    await harness.feed(*events)
    views = [await harness.lead(e.data.lead.lead_id) for e in events]
    held = Counter(v["rep_id"] for v in views if v["rep_id"])
    assert held == capacity
    queued = [v for v in views if v["status"] == "queued"]
    assert len(queued) == 3
    gauge = REGISTRY.get_sample_value("leadrelay_leads_queued_unassigned", {"team": team})
    assert gauge == 3

    lead_of_a = next(v for v in views if v["rep_id"] == f"{team}-a")
    answer = await harness.post(
        f"/v1/leads/{lead_of_a['lead_id']}/attempts",
        {
            "attempt_id": "call-1",
            "rep_id": f"{team}-a",
            "channel": "call",
            "outcome": "no_answer",
            "at": "2026-11-24T15:00:00Z",
        },
    )
    assert answer.status_code == 201, answer.text
    oldest_queued = min(queued, key=lambda v: (v["queued_at"], v["received_at"]))
    now_held = await harness.lead(oldest_queued["lead_id"])
    assert now_held["rep_id"] == f"{team}-a"  # the one rep with room again
    reps = (await harness.client.get(f"/v1/reps?team={team}", headers=harness.auth)).json()
    assert {r["rep_id"]: r["open_leads"] for r in reps} == capacity
    gauge = REGISTRY.get_sample_value("leadrelay_leads_queued_unassigned", {"team": team})
    assert gauge == 2
