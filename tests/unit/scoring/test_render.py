"""The parsed contract as JSON data: what GET /v1/contract shows, and it means the same."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import yaml

from services.scoring.contract import contract_as_dict, load_contract
from services.scoring.contract.render import duration_text
from tests.unit.scoring.builders import CONTRACTS, contract, default_contract, example_contract


@pytest.mark.parametrize("name", ["default.yaml", "example.yaml"])
def test_a_rendered_contract_loads_back_into_the_same_contract(name):
    loaded = load_contract((CONTRACTS / name).read_text())
    rendered = contract_as_dict(loaded)
    assert load_contract(yaml.safe_dump(rendered, sort_keys=False)) == loaded
    assert json.loads(json.dumps(rendered)) == rendered  # plain JSON data


def test_defaults_are_filled_in_and_field_names_made_canonical():
    rendered = contract_as_dict(example_contract())
    assert rendered["required"] == ["email", "company", "country", "attributes.employees"]
    assert rendered["fit"]["rules"][0]["when"] == {
        "field": "job_title",
        "job_level_in": ["c_level", "vp"],
    }
    assert rendered["sla"]["attempts"]["warm"] == {"min": 2, "within": "5d"}
    assert rendered["sla"]["first_contact"]["warm"] == {
        "within": "4h",
        "business_hours": True,
        "warn_at": 0.8,
    }
    assert rendered["engagement"]["half_life"] == "14d"


def test_absent_sections_are_left_out():
    rendered = contract_as_dict(contract("fit: {rules: []}"))
    assert rendered == {
        "version": "test",
        "name": "test",
        "required": [],
        "disqualifiers": [],
        "fit": {"rules": []},
        "engagement": {"rules": []},
        "thresholds": {"qualified": 50, "nurture": 0},
        "tiers": [],
        "routing": {"account_match": True, "rules": []},
    }


def test_every_operator_is_written_back():
    rendered = contract_as_dict(
        contract(
            "disqualifiers:\n"
            "  - name: every\n"
            "    reason: every\n"
            "    when:\n"
            "      any:\n"
            "        - {field: country, not_in: [US, 500]}\n"
            "        - {field: employees, between: [1, 9]}\n"
            "        - {field: employees, lte: 3}\n"
            "        - {field: job_title, matches: '(?i)intern'}\n"
            "        - {field: phone, exists: false}\n"
            "        - {free_mail: false}\n"
            "        - {email_domain_in: [Acme.com]}\n"
            "        - {not: {touches: {type: webinar, min_count: 2, within: 90m}}}\n"
            "        - {all: [{field: partner, equals: true}]}\n"
        )
    )
    assert rendered["disqualifiers"][0]["when"]["any"] == [
        {"field": "country", "not_in": [500, "us"]},
        {"field": "attributes.employees", "between": [1, 9]},
        {"field": "attributes.employees", "lte": 3},
        {"field": "job_title", "matches": "(?i)intern"},
        {"field": "phone", "missing": True},
        {"field": "email", "free_mail": False},
        {"field": "email", "email_domain_in": ["acme.com"]},
        {"not": {"touches": {"min_count": 2, "type": ["webinar"], "within": "1h30m"}}},
        {"all": [{"field": "attributes.partner", "equals": True}]},
    ]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(minutes=5), "5m"),
        (timedelta(hours=1, minutes=30), "1h30m"),
        (timedelta(days=14), "14d"),
        (timedelta(days=1, seconds=1), "1d1s"),
    ],
)
def test_durations_read_as_the_contract_writes_them(value, text):
    assert duration_text(value) == text


def test_the_default_contract_renders_its_routing():
    routing = contract_as_dict(default_contract())["routing"]
    assert routing["teams"] == {"na": {"manager": "mgr-na"}, "emea": {"manager": "mgr-emea"}}
    assert routing["default_team"] == "na"
    assert routing["rules"][0]["name"] == "emea_by_country"
