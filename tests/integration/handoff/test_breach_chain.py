"""SLA clocks firing on a FixedClock: warning, then the contract's breach actions in order
(reassign -> escalate -> recycle), each published for marketing on leads.feedback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import REGISTRY

from tests.infra import read_topic
from tests.integration.handoff.conftest import HOT, WARM, Harness, a_scored

TUESDAY_10_NY = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def breached(team: str, kind: str = "first_contact") -> float:
    labels = {"team": team, "tier": "hot", "kind": kind, "outcome": "breached"}
    return REGISTRY.get_sample_value("leadrelay_sla_outcomes_total", labels) or 0.0


async def an_attempt(harness: Harness, lead_id: str, rep_id: str, at: datetime) -> Any:
    return await harness.post(
        f"/v1/leads/{lead_id}/attempts",
        {
            "attempt_id": f"a-{rep_id}-{at.timestamp()}",
            "rep_id": rep_id,
            "channel": "call",
            "outcome": "no_answer",
            "at": at.isoformat(),
        },
    )


async def test_an_untouched_hot_lead_is_reassigned_then_escalated_then_recycled(
    harness: Harness,
) -> None:
    team = harness.team("chain")
    ana, ben, boss = f"{team}-ana", f"{team}-ben", f"{team}-boss"
    for rep in (ana, ben):
        await harness.put_rep(rep, team)
    await harness.put_rep(boss, team, weight=0)
    answer = await harness.client.put(
        f"/v1/teams/{team}", json={"manager": boss}, headers=harness.auth
    )
    assert answer.status_code == 200, answer.text
    harness.clock.set(TUESDAY_10_NY)
    event = a_scored(team=team)
    lead_id = event.data.lead.lead_id
    await harness.feed(event)
    assert (await harness.lead(lead_id))["rep_id"] == ana

    harness.clock.advance(4 * MINUTE)  # 80% of five minutes: the warning
    assert (await harness.scan()).warnings >= 1
    harness.clock.advance(2 * MINUTE)  # past the breach: reassign, never back to ana
    await harness.scan()
    view = await harness.lead(lead_id)
    assert view["rep_id"] == ben
    assert view["breaches"] == 1
    assert view["sla"]["first_contact_due_at"] == "2026-11-24T15:11:00Z"
    late = await an_attempt(harness, lead_id, ana, TUESDAY_10_NY + 7 * MINUTE)
    assert late.status_code == 409
    assert late.headers["content-type"] == "application/problem+json"
    assert late.json()["current_rep_id"] == ben

    harness.clock.advance(6 * MINUTE)  # ben misses it too: escalate to the manager
    await harness.scan()
    view = await harness.lead(lead_id)
    assert view["rep_id"] == ben
    assert view["escalated_to_rep_id"] == boss
    assert view["breaches"] == 2
    pending = {t["kind"]: t["due_at"] for t in view["sla"]["pending"]}
    assert pending["first_contact_breach"] == "2026-11-24T15:17:00Z"  # re-armed, 5 more minutes

    harness.clock.advance(6 * MINUTE)  # still nobody called: back to marketing
    await harness.scan()
    view = await harness.lead(lead_id)
    assert view["status"] == "recycled"
    assert view["rep_id"] is None
    assert view["breaches"] == 3
    assert view["sla"]["pending"] == []
    assert [a["end_reason"] for a in view["assignments"]] == [
        "sla_breach:first_contact",
        "recycled",
    ]
    kinds = [e["kind"] for e in view["timeline"]]
    assert kinds == [
        "received",
        "scored",
        "assigned",
        "sla_warning",
        "sla_breached",
        "assigned",
        "reassigned",
        "sla_warning",
        "sla_breached",
        "escalated",
        "sla_warning",
        "sla_breached",
        "recycled",
    ]
    gone = await an_attempt(harness, lead_id, ben, TUESDAY_10_NY + 19 * MINUTE)
    assert gone.status_code == 409
    assert gone.json()["current_rep_id"] is None
    assert gone.json()["status"] == "recycled"
    assert breached(team) == 3

    def mine(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [r["value"]["data"] for r in records if r["key"] == lead_id]

    feedback = mine(
        await read_topic(
            harness.broker,
            "leads.feedback",
            until=lambda rs: any(d["kind"] == "recycled" for d in mine(rs)),
        )
    )
    assert [d["kind"] for d in feedback] == [
        "sla_warning",
        "sla_breached",
        "reassigned",
        "sla_warning",
        "sla_breached",
        "escalated",
        "sla_warning",
        "sla_breached",
        "recycled",
    ]
    assert [d["sla"].get("action") for d in feedback if d["kind"] == "sla_breached"] == [
        "reassign",
        "escalate",
        "recycle",
    ]
    reassigned = next(d for d in feedback if d["kind"] == "reassigned")
    assert (reassigned["previous_rep_id"], reassigned["rep_id"]) == (ana, ben)
    assert next(d for d in feedback if d["kind"] == "escalated")["sla"]["manager_rep_id"] == boss
    assert {d["campaign_id"] for d in feedback} == {"fall-webinar"}
    handoff = [
        r["value"]["data"]
        for r in await read_topic(
            harness.broker,
            "leads.handoff",
            until=lambda rs: sum(r["key"] == lead_id for r in rs) >= 2,
        )
        if r["key"] == lead_id
    ]
    assert [(d["rep_id"], d.get("previous_rep_id")) for d in handoff] == [(ana, None), (ben, ana)]


async def test_a_first_attempt_in_time_settles_the_clock_as_met(harness: Harness) -> None:
    team = harness.team("met")
    await harness.put_rep(f"{team}-ana", team)
    harness.clock.set(TUESDAY_10_NY)
    event = a_scored(team=team)
    lead_id = event.data.lead.lead_id
    await harness.feed(event)
    harness.clock.advance(3 * MINUTE)
    answer = await an_attempt(harness, lead_id, f"{team}-ana", TUESDAY_10_NY + 2 * MINUTE)
    assert answer.status_code == 201, answer.text
    met = {"team": team, "tier": "hot", "kind": "first_contact", "outcome": "met"}
    assert REGISTRY.get_sample_value("leadrelay_sla_outcomes_total", met) == 1
    ttfc = {"team": team, "tier": "hot"}
    assert REGISTRY.get_sample_value("leadrelay_time_to_first_contact_seconds_sum", ttfc) == 120
    harness.clock.advance(10 * MINUTE)
    await harness.scan()
    view = await harness.lead(lead_id)
    assert view["breaches"] == 0
    assert view["sla"]["first_contact_met"] is True
    assert [t["kind"] for t in view["sla"]["pending"]] == ["attempts_breach"]


async def test_too_few_attempts_in_the_window_is_an_attempts_breach(harness: Harness) -> None:
    team = harness.team("few")
    for rep in ("ana", "ben"):
        await harness.put_rep(f"{team}-{rep}", team)
    harness.clock.set(TUESDAY_10_NY)
    event = a_scored(team=team, sla=WARM)  # 2 attempts in 5 days, then reassign
    lead_id = event.data.lead.lead_id
    await harness.feed(event)
    answer = await an_attempt(harness, lead_id, f"{team}-ana", TUESDAY_10_NY + MINUTE)
    assert answer.status_code == 201
    harness.clock.advance(timedelta(days=5, minutes=1))
    await harness.scan()
    view = await harness.lead(lead_id)
    assert view["rep_id"] == f"{team}-ben"
    assert view["timeline"][-3]["detail"]["clock"] == "attempts"
    labels = {"team": team, "tier": "warm", "kind": "attempts", "outcome": "breached"}
    assert REGISTRY.get_sample_value("leadrelay_sla_outcomes_total", labels) == 1


async def test_a_team_without_a_manager_skips_escalation_to_the_next_action(
    harness: Harness,
) -> None:
    team = harness.team("nomgr")
    await harness.put_rep(f"{team}-ana", team)
    harness.clock.set(TUESDAY_10_NY)
    terms = HOT.model_copy(update={"on_breach": ("escalate",)})
    event = a_scored(team=team, sla=terms)
    await harness.feed(event)
    harness.clock.advance(6 * MINUTE)
    result = await harness.scan()
    view = await harness.lead(event.data.lead.lead_id)
    assert "recycled" in result.actions
    assert view["status"] == "recycled"


async def test_contact_after_an_escalation_stops_the_rearmed_clock_but_is_no_sla_met(
    harness: Harness,
) -> None:
    team = harness.team("late")
    ana, boss = f"{team}-ana", f"{team}-boss"
    await harness.put_rep(ana, team)
    await harness.put_rep(boss, team, weight=0)
    await harness.client.put(f"/v1/teams/{team}", json={"manager": boss}, headers=harness.auth)
    harness.clock.set(TUESDAY_10_NY)
    event = a_scored(team=team, sla=HOT.model_copy(update={"on_breach": ("escalate", "recycle")}))
    lead_id = event.data.lead.lead_id
    await harness.feed(event)
    harness.clock.advance(6 * MINUTE)
    await harness.scan()
    assert (await harness.lead(lead_id))["escalated_to_rep_id"] == boss
    answer = await an_attempt(harness, lead_id, ana, TUESDAY_10_NY + 7 * MINUTE)
    assert answer.status_code == 201, answer.text
    harness.clock.advance(10 * MINUTE)
    await harness.scan()
    view = await harness.lead(lead_id)
    assert view["status"] == "assigned"
    assert view["breaches"] == 1
    assert view["sla"]["first_contact_met"] is False
    met = {"team": team, "tier": "hot", "kind": "first_contact", "outcome": "met"}
    assert REGISTRY.get_sample_value("leadrelay_sla_outcomes_total", met) is None
    assert breached(team) == 1
