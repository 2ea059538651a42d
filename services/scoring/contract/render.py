"""A loaded contract as plain JSON data, in the contract's own vocabulary.

This is what the API shows as "the parsed model": defaults filled in, field names made
canonical (`employees` -> `attributes.employees`), durations written back as `5m`/`1h30m`,
absent optional values left out. Compared values inside `in`/`not_in` are shown as the
loader keeps them (text case-folded, numbers as numbers), which is how they are compared.
Dumped as YAML, the result loads back into an equal contract (a unit test holds this).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from services.scoring.contract.conditions import (
    AllOf,
    AnyOf,
    Between,
    Compare,
    Condition,
    EmailDomainIn,
    Equals,
    FreeMail,
    JobLevelIn,
    Key,
    Matches,
    Not,
    OneOf,
    Presence,
    TouchCount,
)
from services.scoring.contract.job_levels import JOB_LEVELS
from services.scoring.contract.model import Contract, Rule, RuleGroup, TierSla

_UNITS = (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1))


def contract_as_dict(contract: Contract) -> dict[str, Any]:
    """Every section of the contract, defaults included, as JSON-ready data."""
    quota = contract.quota
    routing = contract.routing
    return _present(
        {
            "version": contract.version,
            "name": contract.name,
            "description": contract.description,
            "required": list(contract.required),
            "disqualifiers": [
                {"name": d.name, "reason": d.reason, "when": condition_as_dict(d.when)}
                for d in contract.disqualifiers
            ],
            "fit": _group(contract.fit),
            "engagement": _group(contract.engagement),
            "thresholds": {
                "qualified": _number(contract.thresholds.qualified),
                "nurture": _number(contract.thresholds.nurture),
            },
            "tiers": [{"name": t.name, "min_score": _number(t.min_score)} for t in contract.tiers],
            "quota": None
            if quota is None
            else _present(
                {
                    "qualified_per_month": quota.qualified_per_month,
                    "pipeline_share": quota.pipeline_share,
                    "revenue_share": quota.revenue_share,
                }
            ),
            "sla": _sla(contract.sla) if contract.sla else None,
            "routing": _present(
                {
                    "account_match": routing.account_match,
                    "teams": {
                        team.name: {"manager": team.manager} if team.manager else None
                        for team in routing.teams
                    }
                    or None,
                    "rules": [
                        {"name": r.name, "team": r.team, "when": condition_as_dict(r.when)}
                        for r in routing.rules
                    ],
                    "default_team": routing.default_team,
                }
            ),
        }
    )


def duration_text(value: timedelta) -> str:
    """`timedelta(minutes=90)` -> `1h30m`, the contract's own duration syntax."""
    seconds = int(value.total_seconds())
    parts = []
    for unit, size in _UNITS:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def condition_as_dict(condition: Condition) -> dict[str, Any]:
    """A condition written back as the YAML mapping that means it."""
    if isinstance(condition, AllOf | AnyOf):
        op = "all" if isinstance(condition, AllOf) else "any"
        return {op: [condition_as_dict(c) for c in condition.items]}
    if isinstance(condition, Not):
        return {"not": condition_as_dict(condition.item)}
    if isinstance(condition, TouchCount):
        touches: dict[str, Any] = {"min_count": condition.min_count}
        if condition.types is not None:
            touches["type"] = sorted(condition.types)
        if condition.within is not None:
            touches["within"] = duration_text(condition.within)
        return {"touches": touches}
    return {"field": getattr(condition, "field", None), **_field_operator(condition)}


def _field_operator(condition: Condition) -> dict[str, Any]:
    if isinstance(condition, Equals):
        return {"equals": condition.value}
    if isinstance(condition, OneOf):
        values = sorted((_key_value(k) for k in condition.keys), key=lambda v: (str(type(v)), v))
        return {"not_in" if condition.negate else "in": values}
    if isinstance(condition, Compare):
        return {condition.op: _number(condition.bound)}
    if isinstance(condition, Between):
        return {"between": [_number(condition.low), _number(condition.high)]}
    if isinstance(condition, Matches):
        return {"matches": condition.pattern.pattern}
    if isinstance(condition, Presence):
        return {"exists" if condition.present else "missing": True}
    if isinstance(condition, EmailDomainIn):
        return {"email_domain_in": sorted(condition.domains)}
    if isinstance(condition, FreeMail):
        return {"free_mail": condition.expected}
    if isinstance(condition, JobLevelIn):
        return {"job_level_in": [lv for lv in JOB_LEVELS if lv in condition.levels]}
    raise TypeError(f"no rendering for {type(condition).__name__}")


def _group(group: RuleGroup) -> dict[str, Any]:
    return _present(
        {
            "cap": _optional_number(group.cap),
            "half_life": duration_text(group.half_life) if group.half_life else None,
            "rules": [_rule(rule) for rule in group.rules],
        }
    )


def _present(values: dict[str, Any]) -> dict[str, Any]:
    """Leave out what is not set, as the contract itself would."""
    return {k: v for k, v in values.items() if v is not None}


def _rule(rule: Rule) -> dict[str, Any]:
    out: dict[str, Any] = {"name": rule.name, "points": _number(rule.points)}
    if rule.when is not None:
        out["when"] = condition_as_dict(rule.when)
    if rule.touch is not None:
        out["touch"] = sorted(rule.touch)
    if rule.within is not None:
        out["within"] = duration_text(rule.within)
    if rule.cap is not None:
        out["cap"] = _number(rule.cap)
    return out


def _sla(terms: Mapping[str, TierSla]) -> dict[str, Any]:
    """Grouped by term, then tier, as the contract writes it."""
    return {
        "first_contact": {
            tier: {
                "within": duration_text(t.first_contact_within),
                "business_hours": t.business_hours,
                "warn_at": t.warn_at,
            }
            for tier, t in terms.items()
        },
        "attempts": {
            tier: {
                "min": t.attempts_min,
                "within": duration_text(t.attempts_within or t.first_contact_within),
            }
            for tier, t in terms.items()
        },
        "on_breach": {tier: list(t.on_breach) for tier, t in terms.items()},
    }


def _key_value(key: Key) -> object:
    kind, value = key
    return _number(value) if kind == "number" and isinstance(value, float) else value


def _number(value: float) -> float | int:
    """30.0 reads as 30; 0.5 stays 0.5."""
    return int(value) if float(value).is_integer() and abs(value) < 2**53 else value


def _optional_number(value: float | None) -> float | int | None:
    return None if value is None else _number(value)
