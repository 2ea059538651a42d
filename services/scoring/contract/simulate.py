"""Replay past leads under a draft and the active contract, so a change is seen before it ships."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from services.scoring.contract.evaluate import evaluate
from services.scoring.contract.facts import LeadFacts
from services.scoring.contract.model import Contract
from shared.events import Decision, LeadData, Outcome

OUTCOMES: tuple[Outcome, ...] = ("qualified", "nurture", "disqualified")


class _Report(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OutcomeChange(_Report):
    """One lead whose decision differs between the two contracts."""

    lead_id: str
    before: Outcome
    after: Outcome
    before_tier: str | None = None
    after_tier: str | None = None
    before_score: float
    after_score: float


class ContractTally(_Report):
    """How one contract decided the leads: counts by outcome and by tier (zeros included)."""

    contract_version: str
    by_outcome: dict[str, int]
    by_tier: dict[str, int]


class SimulationReport(_Report):
    """What activating the draft would change over the simulated period."""

    leads: int
    period_days: int
    active: ContractTally
    draft: ContractTally
    changed: int
    changes: list[OutcomeChange]
    tier_moves: int
    projected_qualified_per_month: float
    quota_qualified_per_month: int | None = None
    projected_share_of_quota: float | None = None


def simulate(
    draft: Contract,
    active: Contract,
    leads: Sequence[LeadData],
    *,
    now: datetime,
    period_days: int,
    sample: int = 20,
) -> SimulationReport:
    """Evaluate every lead under both contracts exactly as `evaluate` would, and compare."""
    if period_days <= 0:
        raise ValueError("period_days must be at least 1")
    facts = [LeadFacts.from_lead(lead) for lead in leads]
    before = [evaluate(active, f, now=now) for f in facts]
    after = [evaluate(draft, f, now=now) for f in facts]
    changes = [
        OutcomeChange(
            lead_id=b.lead_id,
            before=b.outcome,
            after=a.outcome,
            before_tier=b.tier,
            after_tier=a.tier,
            before_score=b.score,
            after_score=a.score,
        )
        for b, a in zip(before, after, strict=True)
        if b.outcome != a.outcome
    ]
    tier_moves = sum(
        1
        for b, a in zip(before, after, strict=True)
        if b.outcome == a.outcome == "qualified" and b.tier != a.tier
    )
    draft_tally = tally(draft, after)
    projected = round(draft_tally.by_outcome["qualified"] / period_days * 30, 2)
    quota = draft.quota.qualified_per_month if draft.quota is not None else None
    return SimulationReport(
        leads=len(facts),
        period_days=period_days,
        active=tally(active, before),
        draft=draft_tally,
        changed=len(changes),
        changes=changes[: max(sample, 0)],
        tier_moves=tier_moves,
        projected_qualified_per_month=projected,
        quota_qualified_per_month=quota,
        projected_share_of_quota=round(projected / quota, 4) if quota else None,
    )


def tally(contract: Contract, decisions: Sequence[Decision]) -> ContractTally:
    """Counts by outcome and tier; every outcome and every tier of the contract is listed."""
    by_outcome = dict.fromkeys(OUTCOMES, 0)
    by_tier = {tier.name: 0 for tier in contract.tiers}
    for decision in decisions:
        by_outcome[decision.outcome] += 1
        if decision.tier is not None:
            by_tier[decision.tier] = by_tier.get(decision.tier, 0) + 1
    return ContractTally(contract_version=contract.version, by_outcome=by_outcome, by_tier=by_tier)
