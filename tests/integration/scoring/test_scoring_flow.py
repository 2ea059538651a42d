"""Leads in on leads.received (real Tansu), decisions out on leads.scored and over HTTP,
under a contract proposed and activated through the API, on both backends."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from shared.events import Touch
from tests.infra import eventually, read_topic
from tests.integration.scoring.conftest import (
    NOW,
    Scoring,
    default_as,
    lead_data,
    received,
    updated,
)

# No decay (no half_life), so every expected number below is plain arithmetic.
FLOW = """\
version: "flow-1"
name: Flow test
required: [email, company]
disqualifiers:
  - {name: free_mail, reason: free_mail_domain, when: {free_mail: true}}
fit:
  cap: 50
  rules:
    - {name: executive, points: 30, when: {job_level_in: [c_level, vp]}}
    - {name: enterprise, points: 25, when: {field: employees, gte: 1000}}
    - {name: home_market, points: 10, when: {field: country, equals: US}}
engagement:
  rules:
    - {name: demo, touch: demo_request, points: 20, cap: 40}
    - {name: clicks, touch: email_click, points: 2}
thresholds: {qualified: 60, nurture: 20}
tiers:
  - {name: hot, min_score: 80}
  - {name: warm, min_score: 60}
sla:
  first_contact:
    hot: {within: 1h}
    warm: {within: 1d, business_hours: false}
  attempts:
    hot: {min: 3, within: 2d}
routing:
  account_match: false
  rules:
    - {name: dach, when: {field: country, in: [DE, AT, CH]}, team: dach}
  default_team: na
"""


def touches(*kinds: str) -> tuple[Touch, ...]:
    return tuple(Touch(type=k, at=NOW - timedelta(hours=i + 1)) for i, k in enumerate(kinds))


def fired(*rules: tuple[str, str, float, str | None]) -> list[dict[str, Any]]:
    return [{"rule": r, "group": g, "points": p, "reason": why} for r, g, p, why in rules]


# lead fields -> (outcome, score, tier, fired rules, missing)
CASES: dict[str, tuple[dict[str, Any], tuple[str, float, str | None, list[Any], list[str]]]] = {
    "hot": (
        {"job_title": "VP Sales", "attributes": {"employees": 5000},
         "touches": touches("demo_request", "demo_request", "demo_request")},
        ("qualified", 90, "hot", fired(
            ("executive", "fit", 30, None), ("enterprise", "fit", 25, None),
            ("home_market", "fit", 10, None), ("demo", "engagement", 40, "3 touches, capped at 40"),
        ), []),
    ),
    "warm in dach": (
        {"job_title": "Head of IT", "country": "DE", "attributes": {"employees": "1000"},
         "touches": touches("demo_request")},
        ("qualified", 70, "warm", fired(  # fit capped at 50
            ("executive", "fit", 30, None), ("enterprise", "fit", 25, None),
            ("demo", "engagement", 20, "1 touch"),
        ), []),
    ),
    "nurture": (
        {"job_title": "Marketing Manager", "country": "FR", "attributes": {"employees": 50},
         "touches": touches("demo_request", "email_click", "email_click")},
        ("nurture", 24, None, fired(
            ("demo", "engagement", 20, "1 touch"), ("clicks", "engagement", 4, "2 touches"),
        ), []),
    ),
    "missing company": (
        {"company": None, "job_title": "CEO", "touches": touches("demo_request")},
        ("nurture", 60, None, fired(
            ("executive", "fit", 30, None), ("home_market", "fit", 10, None),
            ("demo", "engagement", 20, "1 touch"),
        ), ["company"]),
    ),
    "free mail": (
        {"email": "someone@gmail.com", "job_title": "CEO", "attributes": {"employees": 2000}},
        ("disqualified", 50, None, fired(
            ("free_mail", "disqualifier", 0, "free_mail_domain"),
            ("executive", "fit", 30, None), ("enterprise", "fit", 25, None),
            ("home_market", "fit", 10, None),
        ), []),
    ),
    "below nurture": (
        {"job_title": "Engineer", "country": "FR", "attributes": {"employees": 10}, "touches": ()},
        ("disqualified", 0, None, fired(
            ("thresholds.nurture", "disqualifier", 0, "below_nurture_threshold"),
        ), []),
    ),
}  # fmt: skip


async def test_a_proposed_and_activated_contract_decides_leads_sent_on_kafka(
    scoring: Scoring,
) -> None:
    await scoring.adopt(FLOW, "flow-1")
    leads = {name: lead_data(**fields) for name, (fields, _) in CASES.items()}
    await scoring.send(*(received(lead) for lead in leads.values()))

    for name, lead in leads.items():
        outcome, score, tier, rules, missing = CASES[name][1]
        decision = await scoring.score(lead.lead_id)
        assert (decision["outcome"], decision["score"], decision["tier"]) == (
            outcome,
            score,
            tier,
        ), name
        assert decision["fired"] == rules, name
        assert decision["missing"] == missing, name
        assert decision["contract_version"] == "flow-1"
        assert decision["decided_at"] == "2026-11-24T15:00:00Z"

    ids = {lead.lead_id: name for name, lead in leads.items()}
    records = await read_topic(
        scoring.broker,
        "leads.scored",
        opened=True,
        until=lambda rs: {r["key"] for r in rs} >= set(ids),
    )
    events = {ids[r["key"]]: r["value"] for r in records if r["key"] in ids}
    assert len([r for r in records if r["key"] in ids]) == len(ids)  # one each
    for name, event in events.items():
        assert event["type"] == "com.leadrelay.lead.scored.v1"
        assert event["subject"] == leads[name].lead_id
        assert event["data"]["decision"]["outcome"] == CASES[name][1][0]
        assert event["data"]["decision"]["contract_version"] == "flow-1"
        assert event["data"]["lead"]["lead_id"] == leads[name].lead_id
        assert "previous_outcome" not in event["data"]
    assert events["hot"]["data"]["sla"] == {
        "tier": "hot",
        "first_contact_seconds": 3600,
        "business_hours": True,
        "warn_at_fraction": 0.8,
        "attempts_min": 3,
        "attempts_window_seconds": 172800,
        "on_breach": ["reassign"],
    }
    assert events["warm in dach"]["data"]["sla"]["business_hours"] is False
    assert events["warm in dach"]["data"]["route"] == {
        "team": "dach",
        "rule": "dach",
        "account_match": False,
    }
    assert events["hot"]["data"]["route"] == {"team": "na", "account_match": False}
    assert "sla" not in events["nurture"]["data"]


async def test_an_updated_lead_is_scored_again_and_a_changed_decision_published(
    scoring: Scoring,
) -> None:
    # the default contract: a director (20) at a 500-person (20) US (10) company: 50, nurture
    lead = lead_data(job_title="Director of Marketing", touches=())
    first = received(lead)
    await scoring.send(first, first)  # a redelivery: the inbox makes it one
    assert (await scoring.score(lead.lead_id))["outcome"] == "nurture"

    # intake merged a duplicate with a demo request (19.98 after decay): 69.98, warm
    merged = updated(lead, touches=touches("demo_request"))
    await scoring.send(merged)
    decision = await _until(scoring, lead.lead_id, lambda d: d["outcome"] == "qualified")
    assert (decision["score"], decision["tier"]) == (69.98, "warm")

    # revision 3 adds a click (3): a higher score, the same decision, nothing published
    clicked = updated(merged.data, touches=(*merged.data.touches, *touches("email_click")))
    await scoring.send(clicked)
    decision = await _until(scoring, lead.lead_id, lambda d: d["score"] > 70)
    assert (decision["outcome"], decision["tier"], decision["score"]) == (
        "qualified",
        "warm",
        72.98,
    )

    # a late copy of revision 2 changes nothing: revision 3 was already scored
    await scoring.send(updated(lead, touches=touches("webinar")))

    # a new contract does not re-score anyone...
    await scoring.adopt(default_as("2026.9", ("min_score: 75", "min_score: 70")), "2026.9")
    assert (await scoring.score(lead.lead_id))["contract_version"] == "2026.1"
    # ...until the lead changes again: revision 4 is decided by 2026.9 (hot from 70 now)
    await scoring.send(updated(clicked.data))
    decision = await scoring.score(lead.lead_id, version="2026.9")
    assert (decision["outcome"], decision["tier"]) == ("qualified", "hot")

    records = await read_topic(
        scoring.broker,
        "leads.scored",
        opened=True,
        until=lambda rs: sum(r["key"] == lead.lead_id for r in rs) >= 3,
    )
    published = [r["value"]["data"] for r in records if r["key"] == lead.lead_id]
    assert [
        (
            d["decision"]["outcome"],
            d["decision"].get("tier"),
            d["decision"]["contract_version"],
            d.get("previous_outcome"),
            d["lead"]["revision"],
        )
        for d in published
    ] == [
        ("nurture", None, "2026.1", None, 1),
        ("qualified", "warm", "2026.1", "nurture", 2),
        ("qualified", "hot", "2026.9", "qualified", 4),
    ]


async def _until(scoring: Scoring, lead_id: str, holds: Any) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        decision = await scoring.score(lead_id)
        return decision if holds(decision) else None

    result: dict[str, Any] = await eventually(check, timeout=20)
    return result
