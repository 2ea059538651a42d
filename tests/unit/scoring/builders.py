"""Plain builders for the scoring unit tests: a lead, a one-rule contract, a pinned clock."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from services.scoring.contract import Contract, LeadFacts, evaluate, load_contract
from shared.events import LeadData, Touch

NOW = datetime(2026, 11, 20, 16, 55, tzinfo=UTC)
CONTRACTS = Path(__file__).resolve().parents[3] / "contracts"
_ids = itertools.count(1)


def default_contract() -> Contract:
    return load_contract((CONTRACTS / "default.yaml").read_text())


def example_contract() -> Contract:
    return load_contract((CONTRACTS / "example.yaml").read_text())


def touch(kind: str, *, days_ago: float = 0, hours_ago: float = 0) -> Touch:
    return Touch(type=kind, at=NOW - timedelta(days=days_ago, hours=hours_ago))


def a_lead(**fields: Any) -> LeadData:
    """Jane from Acme by default: a VP at a 500-person US company who submitted a form."""
    values: dict[str, Any] = {
        "lead_id": f"lead-{next(_ids)}",
        "email": "jane@acme.io",
        "company": "Acme",
        "country": "US",
        "job_title": "VP Marketing",
        "source": "web",
        "attributes": {"employees": 500},
        "touches": (touch("form_submit", hours_ago=1),),
        "received_at": NOW,
    }
    values.update(fields)
    return LeadData(**values)


def facts(**fields: Any) -> LeadFacts:
    return LeadFacts.from_lead(a_lead(**fields))


def contract(body: str, *, version: str = "test") -> Contract:
    """A contract from a YAML body; version, name and thresholds are added when absent."""
    head = "" if "version:" in body else f"version: {version}\n"
    head += "" if "\nname:" in f"\n{body}" else "name: test\n"
    tail = "" if "thresholds:" in body else "\nthresholds: {qualified: 50}\n"
    return load_contract(head + body + tail)


def one_fit_rule(when: str) -> Contract:
    """A contract whose only rule is `fit.rules[0]`, one point when `when` holds."""
    return contract(f"fit:\n  rules:\n    - name: r\n      points: 1\n      when: {when}\n")


def holds(when: str, lead: LeadFacts | None = None, *, now: datetime = NOW) -> bool:
    """Does a condition, written as YAML, hold for the lead (Jane by default)?"""
    decision = evaluate(one_fit_rule(when), lead or facts(), now=now)
    return any(f.rule == "r" for f in decision.fired)
