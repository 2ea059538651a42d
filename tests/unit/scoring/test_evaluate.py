"""Decisions: outcome, scores, caps, decay, tiers, missing attributes, SLA and routing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.scoring.contract import LeadFacts, evaluate, route, sla_for
from tests.unit.scoring.builders import (
    NOW,
    a_lead,
    contract,
    default_contract,
    example_contract,
    facts,
    touch,
)

ENGAGEMENT = """
engagement:
  half_life: 10d
  rules:
    - {name: forms, touch: form_submit, points: 10}
"""


def test_a_senior_buyer_at_a_target_company_who_submitted_a_form_is_qualified():
    decision = evaluate(default_contract(), facts(), now=NOW)
    assert decision.outcome == "qualified"
    assert decision.tier == "hot"
    assert decision.contract_version == "2026.1"
    assert decision.decided_at == NOW
    assert {f.rule for f in decision.fired} >= {"executive_buyer", "form_submit"}


def test_a_gmail_address_is_disqualified_with_its_reason_code():
    decision = evaluate(default_contract(), facts(email="jane@gmail.com"), now=NOW)
    assert decision.outcome == "disqualified"
    assert decision.tier is None
    assert decision.fired[0].group == "disqualifier"
    assert decision.fired[0].reason == "free_mail_domain"


def test_students_are_disqualified():
    decision = evaluate(default_contract(), facts(job_title="MBA Student"), now=NOW)
    assert [f.reason for f in decision.fired if f.group == "disqualifier"] == ["student"]


def test_lead_missing_a_required_attribute_is_never_qualified():
    decision = evaluate(default_contract(), facts(company=None), now=NOW)
    assert decision.score >= 65
    assert decision.outcome == "nurture"
    assert decision.missing == ("company",)
    assert decision.tier is None


def test_disqualifiers_win_over_missing_attributes():
    decision = evaluate(default_contract(), facts(email="x@gmail.com", country=None), now=NOW)
    assert decision.outcome == "disqualified"
    assert decision.missing == ("country",)


def test_a_score_below_the_nurture_threshold_is_disqualified():
    c = contract("thresholds: {qualified: 50, nurture: 10}\n")
    decision = evaluate(c, facts(), now=NOW)
    assert decision.outcome == "disqualified"
    assert decision.fired[0].reason == "below_nurture_threshold"


def test_a_score_between_the_thresholds_is_nurture():
    c = contract("fit:\n  rules:\n    - {name: us, points: 20, when: {field: country, equals: US}}")
    assert evaluate(c, facts(), now=NOW).outcome == "nurture"


def test_scores_split_into_fit_and_engagement_and_add_up():
    decision = evaluate(default_contract(), facts(), now=NOW)
    assert decision.fit_score == 60
    assert decision.engagement_score == pytest.approx(19.98)
    assert decision.score == round(decision.fit_score + decision.engagement_score, 2)


def test_engagement_points_halve_every_half_life():
    c = contract(ENGAGEMENT)
    fresh = evaluate(c, facts(touches=(touch("form_submit"),)), now=NOW)
    one_half_life = evaluate(c, facts(touches=(touch("form_submit", days_ago=10),)), now=NOW)
    two_half_lives = evaluate(c, facts(touches=(touch("form_submit", days_ago=20),)), now=NOW)
    assert (fresh.engagement_score, one_half_life.engagement_score) == (10, 5)
    assert two_half_lives.engagement_score == 2.5


def test_a_touch_stamped_after_now_counts_as_new():
    c = contract(ENGAGEMENT)
    lead = facts(touches=(touch("form_submit", hours_ago=-1),))
    assert evaluate(c, lead, now=NOW).engagement_score == 10


def test_without_a_half_life_engagement_does_not_decay():
    c = contract("engagement:\n  rules:\n    - {name: forms, touch: form_submit, points: 10}\n")
    lead = facts(touches=(touch("form_submit", days_ago=400),))
    assert evaluate(c, lead, now=NOW).engagement_score == 10


def test_each_touch_earns_points_up_to_the_rules_cap():
    c = contract("engagement:\n  rules:\n    - {name: f, touch: form_submit, points: 10, cap: 25}")
    lead = facts(touches=tuple(touch("form_submit") for _ in range(4)))
    fired = evaluate(c, lead, now=NOW).fired
    assert [(f.rule, f.points, f.reason) for f in fired] == [("f", 25, "4 touches, capped at 25")]


def test_a_rules_within_ignores_older_touches():
    c = contract("engagement:\n  rules:\n    - {name: f, touch: webinar, points: 10, within: 7d}\n")
    lead = facts(touches=(touch("webinar", days_ago=3), touch("webinar", days_ago=30)))
    assert evaluate(c, lead, now=NOW).engagement_score == 10


def test_the_group_cap_limits_the_groups_score_but_each_rule_shows_its_points():
    c = contract(
        "fit:\n  cap: 25\n  rules:\n"
        "    - {name: a, points: 20, when: {field: country, equals: US}}\n"
        "    - {name: b, points: 20, when: {field: company, exists: true}}\n"
    )
    decision = evaluate(c, facts(), now=NOW)
    assert decision.fit_score == 25
    assert [f.points for f in decision.fired] == [20, 20]


def test_negative_points_lower_the_score():
    c = contract("fit:\n  rules:\n    - {name: tiny, points: -5, when: {field: employees, lt: 10}}")
    assert evaluate(c, facts(attributes={"employees": 3}), now=NOW).fit_score == -5


def test_scores_are_rounded_to_two_decimals():
    c = contract("engagement:\n  half_life: 7d\n  rules:\n    - {name: f, touch: x, points: 10}\n")
    decision = evaluate(c, facts(touches=(touch("x", days_ago=1),)), now=NOW)
    assert decision.score == 9.06


def test_a_qualified_lead_gets_the_highest_tier_it_reaches():
    tiers = "tiers:\n  - {name: hot, min_score: 80}\n  - {name: warm, min_score: 50}\n"
    sla = "sla:\n  first_contact:\n    hot: {within: 5m}\n    warm: {within: 4h}\n"
    rule = "fit:\n  rules:\n    - {{name: r, points: {points}, when: {{field: x, missing: true}}}}"
    for points, tier in ((90, "hot"), (80, "hot"), (79.99, "warm"), (50, "warm"), (49, None)):
        c = contract(tiers + sla + rule.format(points=points))
        assert evaluate(c, facts(), now=NOW).tier == tier


def test_sla_terms_come_from_the_tier():
    terms = sla_for(default_contract(), "hot")
    assert terms is not None
    assert terms.first_contact_seconds == 300
    assert terms.business_hours is True
    assert (terms.attempts_min, terms.attempts_window_seconds) == (3, 2 * 86400)
    assert terms.on_breach == ("reassign", "escalate", "recycle")
    assert terms.warn_at_fraction == 0.8


def test_a_lead_without_a_tier_has_no_sla():
    assert sla_for(default_contract(), None) is None
    assert sla_for(default_contract(), "lukewarm") is None


def test_attempts_default_to_one_within_the_first_contact_window():
    c = contract(
        "tiers: [{name: hot, min_score: 50}]\nsla:\n  first_contact:\n    hot: {within: 1h}\n"
    )
    terms = sla_for(c, "hot")
    assert terms is not None
    assert (terms.attempts_min, terms.attempts_window_seconds, terms.on_breach) == (
        1,
        3600,
        ("reassign",),
    )


def test_routing_takes_the_first_matching_rule():
    hint = route(default_contract(), facts(country="DE"))
    assert (hint.team, hint.rule) == ("emea", "emea_by_country")


def test_routing_falls_back_to_the_default_team():
    hint = route(default_contract(), facts(country="US"))
    assert (hint.team, hint.rule) == ("na", None)


def test_routing_rules_apply_in_order():
    c = example_contract()
    assert route(c, facts(country="GB", attributes={"employees": 5000})).team == "enterprise"
    assert route(c, facts(country="GB", attributes={"employees": 50})).team == "emea"


def test_a_contract_without_routing_names_no_team():
    assert route(contract(""), facts()).team is None


def test_naive_touch_times_are_taken_as_utc():
    c = contract(ENGAGEMENT)
    naive = a_lead(touches=()).model_copy(
        update={"touches": (touch("form_submit", days_ago=10).model_copy(
            update={"at": (NOW - timedelta(days=10)).replace(tzinfo=None)}),)}
    )  # fmt: skip
    assert evaluate(c, LeadFacts.from_lead(naive), now=NOW).engagement_score == 5
