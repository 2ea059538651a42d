"""Scoring's use cases, in the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring import store
from services.scoring.contract import (
    Contract,
    LeadFacts,
    evaluate,
    load_contract,
    route,
    sla_for,
)
from services.scoring.tables import plumbing
from shared import metrics
from shared.clock import Clock
from shared.events import (
    Decision,
    Event,
    LeadData,
    LeadReceived,
    LeadScored,
    LeadScoredData,
    LeadUpdated,
)
from shared.problems import Conflict, NotFound

SOURCE = "/leadrelay/scoring"


class NoActiveContract(Conflict):
    title = "No contract is active"


@dataclass
class Scoring:
    """The clock and a cache of parsed contract versions (a version never changes)."""

    clock: Clock
    parsed: dict[str, Contract] = field(default_factory=dict)

    async def active(self, session: AsyncSession) -> Contract:
        row = await store.active_contract_document(session)
        if row is None:
            raise NoActiveContract("activate a contract first")
        version, document = row
        if version not in self.parsed:
            self.parsed[version] = load_contract(document)
        return self.parsed[version]


async def ensure_active_contract(session: AsyncSession, document: str, scoring: Scoring) -> str:
    """On first start, the shipped contract becomes version one's active contract."""
    row = await store.active_contract_document(session)
    if row is not None:
        return row[0]
    contract = load_contract(document)
    now = scoring.clock.now()
    if await store.contract_document(session, contract.version) is None:
        await store.add_contract(session, contract.version, document, now)
    await store.activate_contract(session, contract.version, now)
    return contract.version


async def score_lead(session: AsyncSession, event: Event, *, scoring: Scoring) -> None:
    """Decide, store the decision and queue lead.scored when the decision is new or changed."""
    if not isinstance(event, LeadReceived | LeadUpdated):
        raise ValueError(f"scoring does not consume {event.type}")
    lead: LeadData = event.data
    await store.save_lead(session, lead)
    contract = await scoring.active(session)
    facts = LeadFacts.from_lead(lead)
    decision = evaluate(contract, facts, now=scoring.clock.now())
    previous = await store.get_decision(session, lead.lead_id)
    await store.save_decision(session, decision, existed=previous is not None)
    if previous is not None and _same(previous, decision):
        return
    metrics.DECISIONS.labels(decision.outcome, decision.tier or "none").inc()
    metrics.LEAD_SCORE.observe(decision.score)
    await plumbing.outbox.add(
        session,
        LeadScored(
            source=SOURCE,
            subject=lead.lead_id,
            traceparent=event.traceparent,
            data=LeadScoredData(
                decision=decision,
                lead=lead,
                sla=sla_for(contract, decision.tier) if decision.tier else None,
                route=route(contract, facts),
                previous_outcome=previous.outcome if previous else None,
            ),
        ),
    )


def _same(a: Decision, b: Decision) -> bool:
    return (a.outcome, a.tier, a.contract_version) == (b.outcome, b.tier, b.contract_version)


async def lead_score(session: AsyncSession, lead_id: str) -> Decision:
    decision = await store.get_decision(session, lead_id)
    if decision is None:
        raise NotFound(f"no decision for lead {lead_id}")
    return decision
