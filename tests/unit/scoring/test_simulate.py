"""Simulating a draft contract against past leads before it is activated."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from services.scoring.contract import LeadFacts, Simulation, evaluate, load_contract, simulate
from services.scoring.contract.simulate import OUTCOMES
from tests.unit.scoring.builders import CONTRACTS, NOW, a_lead, default_contract, touch

STRICTER = (
    (CONTRACTS / "default.yaml")
    .read_text()
    .replace('version: "2026.1"', 'version: "2026.2-draft"')
    .replace("qualified: 65", "qualified: 78")
)


def past_leads():
    return [
        a_lead(),
        a_lead(email="jane@gmail.com"),
        a_lead(company=None),
        a_lead(job_title="Director of Marketing"),
        a_lead(job_title="Analyst", touches=()),
        a_lead(touches=(touch("form_submit", hours_ago=1), touch("webinar", days_ago=2))),
        a_lead(country="DE", attributes={"employees": 50}),
    ]


def test_simulation_gives_exactly_what_evaluate_gives_one_by_one():
    draft, active, leads = load_contract(STRICTER), default_contract(), past_leads()
    report = simulate(draft, active, leads, now=NOW, period_days=30)
    for contract, tally in ((draft, report.draft), (active, report.active)):
        decisions = [evaluate(contract, LeadFacts.from_lead(lead), now=NOW) for lead in leads]
        outcomes = Counter(d.outcome for d in decisions)
        assert tally.by_outcome == dict.fromkeys(OUTCOMES, 0) | dict(outcomes)
        assert tally.by_tier == {t: sum(d.tier == t for d in decisions) for t in ("hot", "warm")}
        assert tally.contract_version == contract.version


def test_simulation_lists_the_leads_whose_outcome_changes():
    draft, active, leads = load_contract(STRICTER), default_contract(), past_leads()
    report = simulate(draft, active, leads, now=NOW, period_days=30)
    expected = [
        lead.lead_id
        for lead in leads
        if evaluate(draft, LeadFacts.from_lead(lead), now=NOW).outcome
        != evaluate(active, LeadFacts.from_lead(lead), now=NOW).outcome
    ]
    assert report.changed == len(expected) > 0
    assert [c.lead_id for c in report.changes] == expected
    assert all((c.before, c.after) == ("qualified", "nurture") for c in report.changes)


def test_the_sample_of_changes_is_limited():
    draft, active = load_contract(STRICTER), default_contract()
    leads = [a_lead(job_title="Director of Marketing") for _ in range(5)]
    report = simulate(draft, active, leads, now=NOW, period_days=30, sample=2)
    assert report.changed == 5
    assert len(report.changes) == 2


def test_an_identical_contract_changes_nothing():
    report = simulate(default_contract(), default_contract(), past_leads(), now=NOW, period_days=7)
    assert (report.changed, report.tier_moves, report.changes) == (0, 0, [])
    assert report.draft.by_outcome == report.active.by_outcome


def test_tier_moves_count_leads_qualified_under_both_with_another_tier():
    hotter = (CONTRACTS / "default.yaml").read_text().replace("min_score: 75", "min_score: 66")
    leads = [a_lead(job_title="Director of Marketing")]  # 70 points: warm, then hot
    report = simulate(load_contract(hotter), default_contract(), leads, now=NOW, period_days=30)
    assert (report.changed, report.tier_moves) == (0, 1)


def test_projected_qualified_leads_per_month_are_set_against_the_drafts_quota():
    leads = [a_lead() for _ in range(10)]
    report = simulate(default_contract(), default_contract(), leads, now=NOW, period_days=15)
    assert report.projected_qualified_per_month == 20
    assert report.quota_qualified_per_month == 300
    assert report.projected_share_of_quota == pytest.approx(20 / 300, abs=1e-4)


def test_the_period_must_be_at_least_a_day():
    with pytest.raises(ValueError, match="period_days"):
        simulate(default_contract(), default_contract(), [], now=NOW, period_days=0)


def test_leads_added_page_by_page_report_what_one_call_reports():
    draft, active, leads = load_contract(STRICTER), default_contract(), past_leads() * 3
    whole = simulate(draft, active, leads, now=NOW, period_days=30, sample=5)
    paged = Simulation(draft, active, period_days=30, sample=5)
    for start in range(0, len(leads), 4):
        paged.add_all((lead, NOW) for lead in leads[start : start + 4])
    assert paged.report() == whole


def test_each_lead_is_decided_as_of_its_own_moment():
    """A lead scored a year ago is simulated with the decay it had then, not today's."""
    old_touch = a_lead(touches=(touch("form_submit", days_ago=365),))
    simulation = Simulation(default_contract(), default_contract(), period_days=400)
    simulation.add(old_touch, now=NOW - timedelta(days=365))
    simulation.add(old_touch, now=NOW)
    report = simulation.report()
    assert report.active.by_outcome["qualified"] == 1
    assert report.active.by_outcome["nurture"] == 1
