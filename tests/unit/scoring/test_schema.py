"""contracts/contract.schema.json stays consistent with the loader and the shipped contracts."""

from __future__ import annotations

import json

import pytest
import yaml

from services.scoring.contract import loader
from services.scoring.contract.conditions import OPERATORS
from services.scoring.contract.handoff_terms import ROUTING_KEYS, SLA_KEYS
from services.scoring.contract.job_levels import JOB_LEVELS
from tests.unit.scoring.builders import CONTRACTS

SCHEMA = json.loads((CONTRACTS / "contract.schema.json").read_text())


@pytest.mark.parametrize("name", ["default.yaml", "example.yaml"])
def test_the_shipped_contracts_match_the_schema(name):
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(SCHEMA)
    document = yaml.safe_load((CONTRACTS / name).read_text())
    assert [e.message for e in validator.iter_errors(document)] == []


def test_the_schema_is_a_valid_json_schema():
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_the_schema_knows_the_same_keys_as_the_loader():
    props = SCHEMA["properties"]
    assert list(props) == list(loader.TOP_KEYS)
    assert set(props["fit"]["properties"]) == set(loader.FIT_KEYS)
    assert set(props["engagement"]["properties"]) == set(loader.ENGAGEMENT_KEYS)
    fit_rule = props["fit"]["properties"]["rules"]["items"]["properties"]
    assert set(fit_rule) == set(loader.FIT_RULE_KEYS)
    engagement_rule = props["engagement"]["properties"]["rules"]["items"]["properties"]
    assert set(engagement_rule) == set(loader.ENGAGEMENT_RULE_KEYS)
    assert set(props["sla"]["properties"]) == set(SLA_KEYS)
    assert set(props["routing"]["properties"]) == set(ROUTING_KEYS)
    assert set(props["quota"]["properties"]) == set(loader.QUOTA_KEYS)
    assert set(props["tiers"]["items"]["properties"]) == set(loader.TIER_KEYS)


def test_the_schema_knows_the_same_operators_and_job_levels_as_the_loader():
    condition = SCHEMA["$defs"]["condition"]["properties"]
    assert set(condition) == {*OPERATORS, "field"}
    assert SCHEMA["$defs"]["job_level"]["enum"] == list(JOB_LEVELS)
