"""A loaded contract as frozen data: what the loader builds and evaluation reads, nothing else."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from services.scoring.contract.conditions import Condition

BreachAction = Literal["reassign", "escalate", "recycle"]
BREACH_ACTIONS: tuple[BreachAction, ...] = ("reassign", "escalate", "recycle")


@dataclass(frozen=True, slots=True)
class Disqualifier:
    """Any disqualifier that holds makes the lead disqualified, with `reason` as the code."""

    name: str
    reason: str
    when: Condition


@dataclass(frozen=True, slots=True)
class Rule:
    """Points for a lead: flat when `touch` is None, else per matching touch (decayed)."""

    name: str
    points: float
    when: Condition | None = None
    cap: float | None = None
    touch: frozenset[str] | None = None
    within: timedelta | None = None


@dataclass(frozen=True, slots=True)
class RuleGroup:
    """Fit or engagement: its rules, a cap on the group's sum, and (engagement) a half-life."""

    rules: tuple[Rule, ...] = ()
    cap: float | None = None
    half_life: timedelta | None = None


@dataclass(frozen=True, slots=True)
class Thresholds:
    qualified: float
    nurture: float = 0.0


@dataclass(frozen=True, slots=True)
class Tier:
    name: str
    min_score: float


@dataclass(frozen=True, slots=True)
class Quota:
    """What marketing owes sales a month, and its agreed share of pipeline and of revenue."""

    qualified_per_month: int
    pipeline_share: float | None = None
    revenue_share: float | None = None


@dataclass(frozen=True, slots=True)
class TierSla:
    """How fast and how often sales must work a lead of one tier, and what a breach does."""

    first_contact_within: timedelta
    business_hours: bool = True
    warn_at: float = 0.8
    attempts_min: int = 1
    attempts_within: timedelta | None = None
    on_breach: tuple[BreachAction, ...] = ("reassign",)


@dataclass(frozen=True, slots=True)
class Team:
    name: str
    manager: str | None = None


@dataclass(frozen=True, slots=True)
class RoutingRule:
    name: str
    when: Condition
    team: str


@dataclass(frozen=True, slots=True)
class Routing:
    """Account owner first (when `account_match`), then rules in order, then `default_team`."""

    account_match: bool = True
    rules: tuple[RoutingRule, ...] = ()
    default_team: str | None = None
    teams: tuple[Team, ...] = ()


@dataclass(frozen=True, slots=True)
class Contract:
    """One version of the marketing/sales agreement; every decision names its `version`."""

    version: str
    name: str
    thresholds: Thresholds
    description: str | None = None
    required: tuple[str, ...] = ()
    disqualifiers: tuple[Disqualifier, ...] = ()
    fit: RuleGroup = RuleGroup()
    engagement: RuleGroup = RuleGroup()
    tiers: tuple[Tier, ...] = ()
    quota: Quota | None = None
    sla: Mapping[str, TierSla] = field(default_factory=dict)
    routing: Routing = Routing()
