"""Loading contracts: the shipped files load, and every problem is named with its line and path."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from services.scoring.contract import ContractInvalid, ContractIssue, load_contract
from services.scoring.contract.loader import MAX_CHARS
from tests.unit.scoring.builders import CONTRACTS, default_contract, example_contract

VALID = """\
version: "1"
name: test
thresholds: {qualified: 50}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ContractInvalid) as raised:
        load_contract(text)
    return [str(issue) for issue in raised.value.issues]


def test_the_shipped_contracts_load():
    assert default_contract().name == "B2B SaaS default"
    example = example_contract()
    assert example.version == "2026.2-example"
    assert example.engagement.half_life == timedelta(days=14)
    assert example.required == ("email", "company", "country", "attributes.employees")


def test_the_version_comes_from_the_document_as_written():
    assert load_contract(VALID.replace('"1"', "2026.10")).version == "2026.10"


def test_an_issue_renders_line_path_and_message():
    issue = ContractIssue(14, "sla.first_contact.hot.within", "expected a duration, got 'soon'")
    assert str(issue) == "line 14: sla.first_contact.hot.within: expected a duration, got 'soon'"
    assert str(ContractIssue(None, "", "the contract is empty")) == "the contract is empty"


def test_contract_invalid_is_a_value_error_listing_every_issue():
    with pytest.raises(ValueError, match="2 problems") as raised:
        load_contract(VALID + "fit: {cap: lots}\ntiers: 3\n")
    assert isinstance(raised.value, ContractInvalid)
    assert len(raised.value.issues) == 2


def test_a_bad_duration_names_its_line_and_path():
    text = VALID + "tiers: [{name: hot, min_score: 50}]\nsla:\n  first_contact:\n    hot:\n"
    text += "      within: soon\n"
    assert problems(text) == [
        "line 8: sla.first_contact.hot.within: expected a duration like 5m or 4h, got 'soon'"
    ]


def test_every_error_is_reported_not_just_the_first():
    text = VALID + (
        "fit:\n"
        "  rules:\n"
        "    - {name: a, points: ten, when: {field: country, equals: US}}\n"
        "    - {name: b, points: 1, when: {field: job_title, matches: '(unclosed'}}\n"
        "engagement:\n"
        "  half_life: soon\n"
    )
    assert problems(text) == [
        "line 6: fit.rules[0].points: expected a number, got 'ten'",
        "line 7: fit.rules[1].when.matches: invalid regular expression: "
        "missing ), unterminated subpattern at position 0",
        "line 9: engagement.half_life: expected a duration like 5m or 4h, got 'soon'",
    ]


def test_malformed_yaml_is_reported_with_its_line():
    [problem] = problems(VALID + "fit: [\n")
    assert problem.startswith("line 4: invalid YAML:")  # the last line, not past the end


def test_an_empty_document_is_reported():
    assert problems("") == ["the contract is empty"]
    assert problems("# nothing\n") == ["the contract is empty"]


def test_a_root_that_is_not_a_mapping_is_reported():
    assert problems("- a\n- b\n") == [
        "line 1: expected a mapping at the top of the contract, got a list"
    ]


def test_several_documents_are_refused():
    [problem] = problems(VALID + "---\n" + VALID)
    assert "single document" in problem


def test_unknown_keys_are_reported_with_a_suggestion():
    assert problems(VALID + "tierz: []\n") == [
        "line 4: tierz: unknown key 'tierz' (did you mean 'tiers'?)"
    ]


def test_missing_required_keys_are_reported():
    assert problems("name: x\n") == ["line 1: version: required", "line 1: thresholds: required"]


def test_duplicate_keys_are_reported():
    assert problems(VALID + "name: again\n") == ["line 4: name: duplicate key 'name'"]


def test_wrong_types_are_reported():
    assert problems(VALID + "required: email\n") == [
        "line 4: required: expected a list, got 'email'"
    ]
    assert problems(VALID.replace("{qualified: 50}", "{qualified: [1]}")) == [
        "line 3: thresholds.qualified: expected a number, got a list"
    ]


def test_a_version_must_be_safe_in_a_url():
    assert problems(VALID.replace('"1"', '"v 1/2"')) == [
        "line 1: version: expected letters, digits, dots, dashes or underscores, like 2026.11, "
        "got 'v 1/2'"
    ]


def test_unknown_operators_are_reported_with_a_suggestion():
    text = VALID + "fit:\n  rules:\n    - {name: a, points: 1, when: {field: x, greater: 3}}\n"
    assert problems(text) == [
        "line 6: fit.rules[0].when.greater: unknown operator 'greater' (did you mean 'gte'?)"
    ]


def test_a_condition_needs_exactly_one_operator():
    two = VALID + "fit:\n  rules:\n    - {name: a, points: 1, when: {field: x, gt: 1, lt: 5}}\n"
    none = VALID + "fit:\n  rules:\n    - {name: a, points: 1, when: {field: x}}\n"
    assert "one operator per condition, found gt, lt" in problems(two)[0]
    assert problems(none)[0].startswith("line 6: fit.rules[0].when: expected one operator:")


def test_a_field_operator_needs_a_field():
    text = VALID + "fit:\n  rules:\n    - {name: a, points: 1, when: {gt: 1}}\n"
    assert problems(text) == [
        "line 6: fit.rules[0].when.field: gt needs a field, like field: country"
    ]


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ("{field: x, between: [5, 1]}", "when.between: low must not exceed high, got [5, 1]"),
        ("{field: x, between: [1]}", "when.between: expected [low, high], got 1 items"),
        ("{field: x, in: []}", "when.in: expected a list with at least one item"),
        ("{field: x, exists: maybe}", "when.exists: expected true or false, got 'maybe'"),
        ("{job_level_in: [boss]}", "when.job_level_in: unknown job level 'boss'; levels: "
         "c_level, vp, director, manager, individual"),
        ("{email_domain_in: ['not a domain']}",
         "when.email_domain_in: expected domains like acme.com, got 'not a domain'"),
        ("{touches: {type: webinar, min_count: 0}}",
         "when.touches.min_count: expected a whole number of at least 1, got 0"),
        ("{field: utm, equals: x}", "when.field: utm needs a key, like utm.<name>"),
        ("{field: company.size, gt: 1}", "when.field: company has no sub-fields; "
         "free attributes are attributes.<name>"),
        ("{all: []}", "when.all: expected a list with at least one item"),
        ("{not: {field: x, equals: 1}, field: y}", "when.field: not takes no field"),
        ("{field: x, equals: null}", "when.equals: expected a text, number or true/false, "
         "got nothing"),
    ],
)  # fmt: skip
def test_bad_operator_values_are_reported(when, message):
    text = VALID + f"fit:\n  rules:\n    - name: a\n      points: 1\n      when: {when}\n"
    assert problems(text) == [f"line 8: fit.rules[0].{message}"]


def test_bad_regular_expressions_are_reported():
    text = VALID + "disqualifiers:\n  - {name: d, reason: r, when: {field: x, matches: '[a-'}}\n"
    assert problems(text)[0].startswith(
        "line 5: disqualifiers[0].when.matches: invalid regular expression:"
    )


def test_deeply_nested_conditions_are_refused():
    when = "{not: " * 20 + "{field: x, exists: true}" + "}" * 20
    text = VALID + f"fit:\n  rules:\n    - {{name: a, points: 1, when: {when}}}\n"
    assert "conditions nest at most 12 deep" in problems(text)[0]


def test_disqualifiers_need_a_snake_case_reason_code():
    text = VALID + "disqualifiers:\n  - {name: d, reason: Free Mail, when: {free_mail: true}}\n"
    assert problems(text) == [
        "line 5: disqualifiers[0].reason: expected a snake_case reason code like "
        "free_mail_domain, got 'Free Mail'"
    ]


def test_rule_names_are_unique_within_a_group():
    rule = "    - {name: a, points: 1, when: {field: x, exists: true}}\n"
    assert problems(VALID + "fit:\n  rules:\n" + rule + rule) == [
        "line 7: fit.rules[1].name: duplicate fit rule name 'a'"
    ]


def test_an_engagement_rule_needs_a_touch_or_a_condition():
    text = VALID + "engagement:\n  rules:\n    - {name: a, points: 1}\n"
    assert problems(text) == [
        "line 6: engagement.rules[0]: an engagement rule needs touch: (points per touch) or when:"
    ]


def test_fit_rules_do_not_score_touches():
    text = VALID + "fit:\n  rules:\n    - {name: a, points: 1, touch: webinar}\n"
    assert problems(text) == [
        "line 6: fit.rules[0].touch: unknown key 'touch'; expected one of: "
        "name, points, when, cap, description",
        "line 6: fit.rules[0].when: required",
    ]


def test_caps_cannot_be_negative():
    text = VALID + "fit:\n  cap: -1\n"
    assert problems(text) == ["line 5: fit.cap: expected a number of at least 0, got -1"]


def test_thresholds_out_of_order_are_reported():
    text = VALID.replace("{qualified: 50}", "{qualified: 10, nurture: 20}")
    assert problems(text) == [
        "line 3: thresholds.qualified: must be at least thresholds.nurture (20), got 10"
    ]


def test_tiers_go_from_highest_to_lowest():
    text = VALID + (
        "tiers:\n  - {name: warm, min_score: 50}\n  - {name: hot, min_score: 80}\n"
        "sla:\n  first_contact: {warm: {within: 4h}, hot: {within: 5m}}\n"
    )
    assert problems(text) == [
        "line 6: tiers[1].min_score: tiers go from the highest min_score to the lowest; "
        "80 is not below 50"
    ]


def test_every_qualified_lead_must_reach_a_tier():
    text = VALID + "tiers:\n  - {name: hot, min_score: 80}\n"
    text += "sla:\n  first_contact: {hot: {within: 5m}}\n"
    assert problems(text) == [
        "line 5: tiers[0].min_score: the lowest tier needs min_score <= thresholds.qualified (50) "
        "so every qualified lead gets a tier"
    ]


def test_a_tier_without_sla_terms_is_reported():
    assert problems(VALID + "tiers:\n  - {name: hot, min_score: 50}\n") == [
        "line 5: tiers[0].name: tier 'hot' has no SLA; add sla.first_contact.hot"
    ]


def test_sla_terms_for_an_unknown_tier_are_reported():
    text = VALID + (
        "tiers: [{name: hot, min_score: 50}]\n"
        "sla:\n"
        "  first_contact: {hot: {within: 5m}, cold: {within: 1d}}\n"
        "  attempts: {tepid: {min: 1, within: 1d}}\n"
    )
    assert problems(text) == [
        "line 6: sla.first_contact.cold: no tier named 'cold' (tiers: hot)",
        "line 7: sla.attempts.tepid: tier 'tepid' has no sla.first_contact.tepid",
    ]


def test_on_breach_actions_must_be_known():
    text = VALID + (
        "tiers: [{name: hot, min_score: 50}]\n"
        "sla:\n"
        "  first_contact: {hot: {within: 5m}}\n"
        "  on_breach:\n"
        "    hot: [reassign, escalte]\n"
    )
    assert problems(text) == [
        "line 8: sla.on_breach.hot[1]: unknown action 'escalte' (did you mean 'escalate'?)"
    ]


@pytest.mark.parametrize(
    ("terms", "message"),
    [
        ("{within: 5m, warn_at: 1.5}",
         "warn_at: expected a fraction between 0 and 1, like 0.8, got 1.5"),
        ("{within: 5m, business_hours: sometimes}",
         "business_hours: expected true or false, got 'sometimes'"),
        ("{within: 0m}", "within: expected a duration like 5m or 4h, got '0m'"),
        ("{within: 300}", "within: expected a duration like 5m or 4h, got 300"),
        ("{business_hours: true}", "within: required"),
    ],
)  # fmt: skip
def test_bad_first_contact_terms_are_reported(terms, message):
    text = VALID + "tiers: [{name: hot, min_score: 50}]\n"
    text += f"sla:\n  first_contact:\n    hot: {terms}\n"
    assert problems(text) == [f"line 7: sla.first_contact.hot.{message}"]


def test_quota_shares_are_fractions():
    text = VALID + "quota: {qualified_per_month: 100, pipeline_share: 40}\n"
    assert problems(text) == [
        "line 4: quota.pipeline_share: expected a fraction between 0 and 1, like 0.8, got 40"
    ]


def test_routing_teams_must_be_listed_teams():
    text = VALID + (
        "routing:\n"
        "  teams: {na: {manager: m1}, emea: null}\n"
        "  rules:\n"
        "    - {name: eu, when: {field: country, in: [DE]}, team: emae}\n"
        "  default_team: apac\n"
    )
    assert problems(text) == [
        "line 7: routing.rules[0].team: no team 'emae' under routing.teams (did you mean 'emea'?)",
        "line 8: routing.default_team: no team 'apac' under routing.teams; expected one of: "
        "na, emea",
    ]


def test_routing_cannot_depend_on_touches():
    text = VALID + "routing:\n  rules:\n    - {name: r, team: t, when: {touches: {type: x}}}\n"
    assert problems(text) == [
        "line 6: routing.rules[0].when.touches: routing cannot depend on touches; use fields"
    ]


def test_unsupported_yaml_tags_are_reported():
    assert problems(VALID + "quota: {qualified_per_month: !!int many}\n") == [
        "line 4: quota.qualified_per_month: expected a whole number, got 'many' tagged "
        "tag:yaml.org,2002:int"
    ]


def test_an_alias_bomb_is_refused_without_expanding_it():
    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    for name, prev in zip("bcdefghij", "abcdefghi", strict=True):
        bomb += f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]\n"
    assert problems(bomb) == ["line 1: the contract has more than 50000 values (aliases included)"]


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_deeply_nested_yaml_is_refused_quickly(depth):
    started = time.perf_counter()
    [problem] = problems("a: " + "[" * depth + "]" * depth)
    assert problem.startswith("line 1: invalid YAML:") or problem == (
        "invalid YAML: nested too deeply"  # PyYAML without libyaml
    )
    assert "nest" in problem
    assert time.perf_counter() - started < 2


def test_a_self_referencing_alias_is_refused():
    assert problems("a: &a [*a, *a]\n") == [
        "line 1: the contract has more than 50000 values (aliases included)"
    ]


def test_a_document_over_the_size_limit_is_refused_before_parsing():
    text = VALID + "description: >\n" + ("  lorem ipsum dolor sit amet\n" * 10_000)
    assert len(text) > MAX_CHARS
    started = time.perf_counter()
    [problem] = problems(text)
    assert problem.endswith(f"characters long; at most {MAX_CHARS} are accepted")
    assert problem.startswith("line ")
    assert time.perf_counter() - started < 0.1


def test_control_characters_are_reported_with_their_line():
    assert problems(VALID + "description: a\x00b\n") == [
        "line 4: invalid YAML: character #x0000 is not allowed in YAML text"
    ]


def test_a_large_valid_contract_loads_in_reasonable_time():
    rules = "".join(
        f"    - {{name: r{i}, points: 1, when: {{field: country, in: [US, CA]}}}}\n"
        for i in range(2_000)
    )
    started = time.perf_counter()
    contract = load_contract(VALID + "fit:\n  rules:\n" + rules)
    assert len(contract.fit.rules) == 2_000
    assert time.perf_counter() - started < 5


def test_the_shipped_contracts_are_in_the_contracts_folder():
    assert {p.name for p in CONTRACTS.glob("*.yaml")} >= {"default.yaml", "example.yaml"}
