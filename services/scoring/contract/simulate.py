"""Replay past leads under a draft and the active contract, so a change is seen before it ships.

`Simulation` takes leads one at a time (the service feeds it pages of stored leads, so memory
stays flat whatever the period holds); `simulate` is the one-call form over a list.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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


class _Tally:
    def __init__(self, contract: Contract) -> None:
        self.version = contract.version
        self.by_outcome = dict.fromkeys(OUTCOMES, 0)
        self.by_tier = {tier.name: 0 for tier in contract.tiers}

    def add(self, decision: Decision) -> None:
        self.by_outcome[decision.outcome] += 1
        if decision.tier is not None:
            self.by_tier[decision.tier] = self.by_tier.get(decision.tier, 0) + 1

    def frozen(self) -> ContractTally:
        return ContractTally(
            contract_version=self.version,
            by_outcome=dict(self.by_outcome),
            by_tier=dict(self.by_tier),
        )


class Simulation:
    """Counts, tier moves and a bounded sample of changes, accumulated one lead at a time."""

    def __init__(
        self, draft: Contract, active: Contract, *, period_days: int, sample: int = 20
    ) -> None:
        if period_days <= 0:
            raise ValueError("period_days must be at least 1")
        self.draft, self.active = draft, active
        self.period_days = period_days
        self.sample = max(sample, 0)
        self.leads = 0
        self.changed = 0
        self.tier_moves = 0
        self.changes: list[OutcomeChange] = []
        self._before, self._after = _Tally(active), _Tally(draft)

    def add(self, lead: LeadData, *, now: datetime) -> None:
        """Decide one lead under both contracts as `evaluate` would at `now`, and count it."""
        facts = LeadFacts.from_lead(lead)
        before = evaluate(self.active, facts, now=now)
        after = evaluate(self.draft, facts, now=now)
        self.leads += 1
        self._before.add(before)
        self._after.add(after)
        if before.outcome != after.outcome:
            self.changed += 1
            if len(self.changes) < self.sample:
                self.changes.append(
                    OutcomeChange(
                        lead_id=before.lead_id,
                        before=before.outcome,
                        after=after.outcome,
                        before_tier=before.tier,
                        after_tier=after.tier,
                        before_score=before.score,
                        after_score=after.score,
                    )
                )
        elif before.outcome == "qualified" and before.tier != after.tier:
            self.tier_moves += 1

    def add_all(self, leads: Iterable[tuple[LeadData, datetime]]) -> None:
        for lead, now in leads:
            self.add(lead, now=now)

    def report(self) -> SimulationReport:
        draft = self._after.frozen()
        projected = round(draft.by_outcome["qualified"] / self.period_days * 30, 2)
        quota = self.draft.quota.qualified_per_month if self.draft.quota is not None else None
        return SimulationReport(
            leads=self.leads,
            period_days=self.period_days,
            active=self._before.frozen(),
            draft=draft,
            changed=self.changed,
            changes=list(self.changes),
            tier_moves=self.tier_moves,
            projected_qualified_per_month=projected,
            quota_qualified_per_month=quota,
            projected_share_of_quota=round(projected / quota, 4) if quota else None,
        )


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
    simulation = Simulation(draft, active, period_days=period_days, sample=sample)
    simulation.add_all((lead, now) for lead in leads)
    return simulation.report()
