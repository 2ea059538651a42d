"""Handoff consumes lead.scored from a real broker, routes the lead and tells the rep."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY

from shared.clock import FixedClock
from tests.infra import eventually, read_topic, running
from tests.integration.handoff.conftest import (
    Harness,
    a_rep,
    a_scored,
    handoff_app,
    reps_file,
    send_scored,
)

TUESDAY_10_NY = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


async def test_a_scored_lead_is_assigned_with_everything_the_rep_needs_on_leads_handoff(
    db_urls: dict[str, str], broker: str, keys_file: Path, auth: dict[str, str], tmp_path: Path
) -> None:
    reps = reps_file(tmp_path, [a_rep("rep-ana")])
    app = handoff_app(db_urls["handoff"], broker, keys_file, reps, FixedClock(TUESDAY_10_NY))
    event = a_scored()
    lead_id = event.data.lead.lead_id
    async with running(app) as client:
        await send_scored(broker, event, event)  # redelivered: still assigned once

        async def assigned() -> dict[str, Any] | None:
            r = await client.get(f"/v1/leads/{lead_id}", headers=auth)
            return r.json() if r.status_code == 200 and r.json()["rep_id"] else None

        view = await eventually(assigned)
        records = await read_topic(
            broker,
            "leads.handoff",
            opened=True,
            until=lambda rs: any(r["key"] == lead_id for r in rs),
        )
    assert view["status"] == "assigned"
    assert view["rep_id"] == "rep-ana"
    assert view["assignments"][0]["reason"] == "round_robin"
    assert "weighted round robin in team na" in view["assignments"][0]["why"]
    assert view["sla"]["first_contact_due_at"] == "2026-11-24T15:05:00Z"
    assert [e["kind"] for e in view["timeline"]] == ["received", "scored", "assigned"]

    (record,) = [r for r in records if r["key"] == lead_id]
    data = record["value"]["data"]
    assert record["value"]["type"] == "com.leadrelay.lead.assigned.v1"
    assert data["rep_id"] == "rep-ana"
    assert data["rep_name"] == "Rep Ana"
    assert data["lead"]["email"] == event.data.lead.email
    assert data["lead"]["company"] == "Acme"
    assert [t["type"] for t in data["lead"]["touches"]] == ["page_view", "webinar", "form_submit"]
    assert data["decision"]["score"] == 82
    assert [r["rule"] for r in data["decision"]["fired"]] == [
        "vp_or_above",
        "company_500_plus",
        "demo_request",
    ]
    assert data["sla"] == {
        "first_contact_due_at": "2026-11-24T10:05:00-05:00",
        "first_contact_warn_at": "2026-11-24T10:04:00-05:00",
        "attempts_due_at": "2026-11-26T10:00:00-05:00",
        "attempts_min": 3,
        "tier": "hot",
        "business_hours": True,
        "time_zone": "America/New_York",
    }
    assert data["brief"].startswith("Jane Doe - VP Marketing, Acme, US. Score 82 (hot).")
    assert "Did: page_view" in data["brief"]


async def test_a_nurture_lead_is_recorded_but_never_assigned(harness: Harness) -> None:
    team = harness.team()
    await harness.put_rep(f"{team}-ana", team)
    event = a_scored(team=team, outcome="nurture", sla=None)
    await harness.feed(event)
    view = await harness.lead(event.data.lead.lead_id)
    assert view["status"] == "nurture"
    assert view["rep_id"] is None
    assert view["assignments"] == []


async def test_the_account_owner_gets_the_next_lead_from_the_same_company(
    harness: Harness,
) -> None:
    team, other = harness.team(), harness.team()
    for rep in ("ana", "ben"):
        await harness.put_rep(f"{team}-{rep}", team)
    await harness.put_rep(f"{other}-eve", other)
    company = f"globex-{team}.example"
    first = a_scored(team=team, email=f"cto@{company}")
    same_company = a_scored(team=other, email=f"cfo@{company}")
    other_company = a_scored(team=team, email=f"cfo@initech-{team}.example")
    gmail = [a_scored(team=team, email=f"someone{i}.{team}@gmail.com") for i in range(2)]
    events = (first, same_company, other_company, *gmail)
    await harness.feed(*events)
    views = [await harness.lead(e.data.lead.lead_id) for e in events]
    owner = views[0]["rep_id"]
    assert views[1]["rep_id"] == owner  # the account owner, though the rules said `other`
    assert views[1]["assignments"][0]["reason"] == "account_owner"
    assert views[2]["rep_id"] != owner  # round robin moves on
    assert {v["assignments"][0]["reason"] for v in views[3:]} == {"round_robin"}
    assert views[3]["rep_id"] != views[4]["rep_id"]  # two gmail.com leads are no account


async def test_the_contract_can_turn_account_matching_off(harness: Harness) -> None:
    team = harness.team()
    for rep in ("ana", "ben"):
        await harness.put_rep(f"{team}-{rep}", team)
    company = f"hooli-{team}.example"
    events = [a_scored(team=team, email=f"p{i}@{company}", account_match=False) for i in (1, 2)]
    await harness.feed(*events)
    views = [await harness.lead(e.data.lead.lead_id) for e in events]
    assert views[0]["rep_id"] != views[1]["rep_id"]


async def test_a_team_with_nobody_available_queues_the_lead_until_a_rep_returns(
    harness: Harness,
) -> None:
    team = harness.team()
    rep_id = f"{team}-ana"
    await harness.put_rep(rep_id, team, available=False)
    event = a_scored(team=team)
    lead_id = event.data.lead.lead_id
    await harness.feed(event)
    queued = await harness.lead(lead_id)
    gauge = REGISTRY.get_sample_value("leadrelay_leads_queued_unassigned", {"team": team})
    await harness.put_rep(rep_id, team, available=True)
    assigned = await harness.lead(lead_id)
    after = REGISTRY.get_sample_value("leadrelay_leads_queued_unassigned", {"team": team})
    assert queued["status"] == "queued"
    assert queued["queued_at"] == "2026-11-24T15:00:00Z"
    assert gauge == 1
    assert assigned["status"] == "assigned"
    assert assigned["rep_id"] == rep_id
    assert after == 0
    assert [e["kind"] for e in assigned["timeline"]] == ["received", "scored", "queued", "assigned"]


async def test_a_rep_back_from_leave_is_assigned_queued_leads_by_the_scanner(
    harness: Harness,
) -> None:
    team = harness.team()
    rep_id = f"{team}-ana"
    harness.clock.set(TUESDAY_10_NY)
    await harness.put_rep(rep_id, team, out_of_office_until="2026-11-24T17:00:00Z")
    event = a_scored(team=team)
    await harness.feed(event)
    assert (await harness.lead(event.data.lead.lead_id))["status"] == "queued"
    harness.clock.set(datetime(2026, 11, 24, 17, 30, tzinfo=UTC))
    result = await harness.scan()
    view = await harness.lead(event.data.lead.lead_id)
    assert result.assigned_from_queue >= 1
    assert view["rep_id"] == rep_id
    assert view["sla"]["first_contact_due_at"] == "2026-11-24T17:35:00Z"
