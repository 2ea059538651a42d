"""Simulating a draft over stored leads, compared with scoring the same leads one by one:
first the stored decisions (the active contract's column), then the draft activated and
the leads scored again through Kafka (the draft's column). Pages hold 7 leads (the
fixture's setting), so 24 leads take 4 pages, and ties on received_at straddle pages."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from services.scoring.contract import LeadFacts, evaluate, load_contract
from shared.events import LeadData, Touch
from tests.integration.scoring.conftest import (
    NOW,
    Scoring,
    default_as,
    lead_data,
    received,
    updated,
)

DRAFT = default_as(  # qualifies from 55 instead of 65, and owes fewer a month
    "2026.2-draft",
    ("qualified: 65", "qualified: 55"),
    ("min_score: 65", "min_score: 55"),
    ("qualified_per_month: 300", "qualified_per_month: 100"),
)
TITLES = ("VP Marketing", "Director of IT", "Marketing Manager", "Engineer", "CEO")
SIZES = (10, 50, 500, 5000)
COUNTRIES = ("US", "DE", "BR")
TOUCHES = ((), ("demo_request",), ("demo_request", "webinar"), ("email_click",) * 3)


def varied_leads(count: int, *, received_days_ago: int = 0) -> list[LeadData]:
    """Leads that land on every side of the default and draft thresholds."""
    leads = []
    for i in range(count):
        touches = tuple(
            Touch(type=kind, at=NOW - timedelta(hours=6 * (j + 1)))
            for j, kind in enumerate(TOUCHES[i % len(TOUCHES)])
        )
        leads.append(
            lead_data(
                job_title=TITLES[i % len(TITLES)],
                attributes={"employees": SIZES[(i // 2) % len(SIZES)]},
                country=COUNTRIES[(i // 3) % len(COUNTRIES)],
                touches=touches,
                # threes received in the same microsecond: pages (of 7) split ties
                received_at=NOW - timedelta(days=received_days_ago, minutes=i // 3),
                **({"email": f"lead{i}@gmail.com"} if i % 9 == 4 else {}),
            )
        )
    return leads


async def decisions_of(scoring: Scoring, leads: list[LeadData], version: str) -> list[Any]:
    return [await scoring.score(lead.lead_id, version=version) for lead in leads]


def tally(decisions: list[dict[str, Any]]) -> tuple[dict[str, int], dict[str, int]]:
    outcomes = Counter(d["outcome"] for d in decisions)
    tiers = Counter(d["tier"] for d in decisions if d["tier"])
    return (
        {o: outcomes.get(o, 0) for o in ("qualified", "nurture", "disqualified")},
        {t: tiers.get(t, 0) for t in ("hot", "warm")},
    )


async def simulate(scoring: Scoring, query: str, body: str = DRAFT) -> dict[str, Any]:
    answer = await scoring.http.post(
        f"/v1/contracts/simulate?{query}",
        content=body,
        headers={**scoring.admin, "Content-Type": "application/yaml"},
    )
    assert answer.status_code == 200, answer.text
    report: dict[str, Any] = answer.json()
    return report


async def test_a_simulation_matches_scoring_the_same_leads_one_by_one(scoring: Scoring) -> None:
    recent, old = varied_leads(24), varied_leads(3, received_days_ago=40)
    await scoring.send(*(received(lead) for lead in recent + old))
    stored = await decisions_of(scoring, recent + old, "2026.1")

    report = await simulate(scoring, "days=30&sample=4")
    assert report["leads"] == len(recent)  # the 40-day-old ones are outside the period
    assert (report["since"], report["until"]) == ("2026-10-25T15:00:00Z", "2026-11-24T15:00:00Z")
    assert report["period_days"] == 30
    # the active contract's column is exactly what scoring decided, lead by lead
    assert report["active"]["contract_version"] == "2026.1"
    assert (report["active"]["by_outcome"], report["active"]["by_tier"]) == tally(
        stored[: len(recent)]
    )
    # the draft's column is exactly what the draft decides, lead by lead
    draft = load_contract(DRAFT)
    expected = [evaluate(draft, LeadFacts.from_lead(lead), now=NOW) for lead in recent]
    assert (report["draft"]["by_outcome"], report["draft"]["by_tier"]) == tally(
        [d.model_dump() for d in expected]
    )
    changed = {
        lead.lead_id
        for lead, before, after in zip(recent, stored, expected, strict=False)
        if before["outcome"] != after.outcome
    }
    assert report["changed"] == len(changed) > 4
    assert len(report["changes"]) == 4
    assert {c["lead_id"] for c in report["changes"]} <= changed
    qualified = report["draft"]["by_outcome"]["qualified"]
    assert report["projected_qualified_per_month"] == qualified
    assert report["quota_qualified_per_month"] == 100
    assert report["projected_share_of_quota"] == round(qualified / 100, 4)

    longer = await simulate(scoring, "days=60")
    assert longer["leads"] == len(recent) + len(old)
    assert longer["period_days"] == 60
    since = await simulate(scoring, "since=2026-10-25T15:00:00%2B00:00&sample=4")
    assert since == report

    # the same draft, stored, simulates the same; then it goes live
    proposed = await scoring.propose(DRAFT)
    assert proposed.status_code == 201
    stored_version = await scoring.http.post(
        "/v1/contracts/2026.2-draft/simulate?days=30&sample=4", headers=scoring.admin
    )
    assert stored_version.json() == report
    activated = await scoring.http.post(
        "/v1/contracts/2026.2-draft/activate", headers=scoring.admin
    )
    assert activated.status_code == 200

    # each lead scored again through Kafka, one by one, now under the draft
    await scoring.send(*(updated(lead) for lead in recent))
    rescored = await decisions_of(scoring, recent, "2026.2-draft")
    assert (report["draft"]["by_outcome"], report["draft"]["by_tier"]) == tally(rescored)
    moved = {
        lead.lead_id
        for lead, before, after in zip(recent, stored, rescored, strict=False)
        if before["outcome"] != after["outcome"]
    }
    assert moved == changed
