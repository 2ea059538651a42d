"""Scoring's use cases for leads, in the caller's transaction: decide, store, publish, read.

Contract versions live in `versions.py`, the simulation in `simulation.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring import store
from services.scoring.contract import LeadFacts, evaluate, route, sla_for
from services.scoring.tables import erasures, keyring, plumbing
from services.scoring.versions import ContractCache
from shared import metrics
from shared.clock import Clock
from shared.events import (
    Decision,
    Event,
    LeadData,
    LeadErased,
    LeadErasedData,
    LeadErasedScored,
    LeadReceived,
    LeadScored,
    LeadScoredData,
    LeadUpdated,
)
from shared.keyring import record_erasures
from shared.pii import for_wire
from shared.problems import NotFound

SOURCE = "/leadrelay/scoring"

log = logging.getLogger(__name__)


class LeadNotScored(NotFound):
    title = "No decision for this lead"
    type = "https://leadrelay.dev/problems/lead-not-scored"


@dataclass(frozen=True)
class Scoring:
    """What scoring's use cases need besides a session: the clock, the contract cache and
    the simulation's page size. Built once in `create_app`."""

    clock: Clock
    contracts: ContractCache = field(default_factory=lambda: ContractCache(ttl=1.0))
    page_size: int = 1000


async def receive_batch(
    session: AsyncSession, events: Sequence[Event], *, scoring: Scoring
) -> None:
    """Kafka in: open the leads' personal fields with their stored data keys, score the
    leads, then apply erasures (a lead's erasure comes after its events on its partition)."""
    opened = await keyring.take_keys(session, events, scoring.clock.now())
    erased = [e for e in opened if isinstance(e, LeadErased)]
    leads = [e for e in opened if not isinstance(e, LeadErased)]
    if leads:
        await score_leads(session, leads, scoring=scoring)
    if erased:
        await erase_leads(session, erased, scoring=scoring)


async def erase_leads(
    session: AsyncSession, events: Sequence[LeadErased], *, scoring: Scoring
) -> None:
    """Forget the leads' snapshots (the simulation's input) and keys; decisions stay (they
    hold no personal data) so counts still add up; pass lead.erased on to handoff."""
    now = scoring.clock.now()
    lead_ids = {e.data.lead_id for e in events}
    await store.delete_leads(session, lead_ids)
    await keyring.shred(session, lead_ids, now)
    await record_erasures(session, erasures, events, now)
    await plumbing.outbox.add_many(
        session,
        [
            LeadErasedScored(
                source=SOURCE,
                subject=e.data.lead_id,
                traceparent=e.traceparent,
                data=LeadErasedData(
                    lead_id=e.data.lead_id,
                    erasure_id=e.data.erasure_id,
                    requested_at=e.data.requested_at,
                    erased_at=now,
                ),
            )
            for e in events
        ],
    )


async def score_leads(session: AsyncSession, events: Sequence[Event], *, scoring: Scoring) -> None:
    """Decide a batch of leads, store the decisions and queue lead.scored for each decision
    that is new or changed, in the caller's transaction.

    The batch costs one query for what is known of its leads and one statement per table
    written (leads, decisions, outbox), whatever its size; the active contract comes from
    the cache. Events of one lead are applied in order, so a lead received and updated in
    the same batch publishes both decisions, as it would one event at a time."""
    leads: list[LeadData] = []
    for event in events:
        if not isinstance(event, LeadReceived | LeadUpdated):
            raise ValueError(f"scoring does not consume {event.type}")
        leads.append(event.data)
    known = await store.priors(session, {lead.lead_id for lead in leads})
    stored_leads = set(known)
    stored_decisions = {lead_id for lead_id, prior in known.items() if prior.decision}
    contract = await scoring.contracts.active(session)
    now = scoring.clock.now()
    latest: dict[str, tuple[LeadData, Decision]] = {}
    published: list[Event] = []
    for event, lead in zip(events, leads, strict=True):
        prior = known.get(lead.lead_id)
        if prior is not None and prior.revision > lead.revision:
            log.info("lead %s revision %d is older than the scored %d; skipped",
                     lead.lead_id, lead.revision, prior.revision)  # fmt: skip
            continue
        facts = LeadFacts.from_lead(lead)
        decision = evaluate(contract, facts, now=now)
        known[lead.lead_id] = store.Prior(lead.revision, decision)
        latest[lead.lead_id] = (lead, decision)
        previous = prior.decision if prior is not None else None
        if previous is not None and _same(previous, decision):
            continue
        metrics.DECISIONS.labels(decision.outcome, decision.tier or "none").inc()
        metrics.LEAD_SCORE.observe(decision.score)
        published.append(
            LeadScored(
                source=SOURCE,
                subject=lead.lead_id,
                traceparent=event.traceparent,
                data=LeadScoredData(
                    decision=decision,
                    lead=for_wire(lead),
                    sla=sla_for(contract, decision.tier) if decision.tier else None,
                    route=route(contract, facts),
                    previous_outcome=previous.outcome if previous else None,
                ),
            )
        )
    final = latest.values()
    await store.save_leads(
        session,
        new=[lead for lead, _ in final if lead.lead_id not in stored_leads],
        known=[lead for lead, _ in final if lead.lead_id in stored_leads],
    )
    await store.save_decisions(
        session,
        new=[d for _, d in final if d.lead_id not in stored_decisions],
        known=[d for _, d in final if d.lead_id in stored_decisions],
    )
    await plumbing.outbox.add_many(session, published)


def _same(a: Decision, b: Decision) -> bool:
    """What handoff acts on: outcome, tier, and the version that decided them."""
    return (a.outcome, a.tier, a.contract_version) == (b.outcome, b.tier, b.contract_version)


async def lead_score(session: AsyncSession, lead_id: str) -> Decision:
    decision = await store.get_decision(session, lead_id)
    if decision is None:
        raise LeadNotScored(f"no decision for lead {lead_id} (yet: scoring may be catching up)")
    return decision
