"""Kafka in for handoff, and erasure: open the leads, then scores, then erased leads.

`receive_batch` is the consumer's handler for leads.scored: it opens the leads' personal
fields with the stored data keys (shared.keyring), hands the scores to
`assignment.receive_scored_batch` and erases the leads scoring passed lead.erased on for.
Erasing keeps every anonymous fact the reports count (status, times, team, rep, tier,
outcome, amounts) and publishes lead.erased on leads.handoff and to webhook subscribers.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.handoff import assignment, store
from services.handoff.service import SOURCE, Handoff, publish_many
from services.handoff.tables import erasures, keyring
from shared.events import Event, LeadErased, LeadErasedData, LeadErasedHandoff
from shared.keyring import record_erasures


async def receive_batch(
    session: AsyncSession, events: Sequence[Event], *, handoff: Handoff
) -> None:
    opened = await keyring.take_keys(session, events, handoff.now())
    erased = [e for e in opened if isinstance(e, LeadErased)]
    scored = [e for e in opened if not isinstance(e, LeadErased)]
    if scored:
        await assignment.receive_scored_batch(session, scored, handoff=handoff)
    if erased:
        await erase_leads(session, erased, handoff=handoff)


async def erase_leads(
    session: AsyncSession, events: Sequence[LeadErased], *, handoff: Handoff
) -> None:
    """Erase handoff's copies of the leads, delete their keys, audit it, tell sales."""
    now = handoff.now()
    lead_ids = {e.data.lead_id for e in events}
    await store.erase_leads(session, lead_ids, now)
    await keyring.shred(session, lead_ids, now)
    await record_erasures(session, erasures, events, now)
    await publish_many(
        session,
        [
            LeadErasedHandoff(
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
        now=now,
    )
