"""Erasure of a person's data (GDPR art. 17), intake's part, in the caller's transaction.

Intake blanks the personal fields of the leads it stores, forgets what else carried them
(idempotency records, outbox rows, the leads' data keys), and queues, per lead, lead.erased
on leads.received (keyed by the lead, so it comes after the lead's events) and a tombstone
on leads.keys. Scoring and handoff erase their copies in turn; handoff's lead.erased on
leads.handoff, which intake reads back, completes the request. Every copy left on a topic
is sealed with a key that no longer exists anywhere (shared/pii.py).

The audit trail (`erasures`, `erasure_leads`) records who asked, when, which leads and when
each was done; it never holds the email.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import store
from services.intake.normalize import identity_of, normalize_email
from services.intake.tables import keyring, plumbing
from shared import ids
from shared.auth import Principal
from shared.clock import Clock
from shared.events import TOPIC_KEYS, Event, LeadErased, LeadErasedData
from shared.problems import FieldProblem, InvalidInput, NotFound

SOURCE = "/leadrelay/intake"

log = logging.getLogger(__name__)


class LeadNotFound(NotFound):
    title = "No such lead"
    type = "https://leadrelay.dev/problems/lead-not-found"


class ErasureNotFound(NotFound):
    title = "No such erasure"
    type = "https://leadrelay.dev/problems/erasure-not-found"


@dataclass(frozen=True)
class ErasureState:
    erasure_id: str
    scope: Literal["lead", "email"]
    status: Literal["erasing", "completed"]
    lead_ids: list[str]
    leads_done: int
    requested_by: str
    requested_at: datetime
    erased_at: datetime | None
    completed_at: datetime | None


async def erase_lead(
    session: AsyncSession, lead_id: str, *, by: Principal, clock: Clock
) -> ErasureState:
    """Erase one lead by id; an unknown id is a 404 (the caller named a resource)."""
    if not await store.lead_exists(session, lead_id):
        raise LeadNotFound(f"there is no lead {lead_id}")
    return await _erase(session, [lead_id], "lead", by=by, now=clock.now())


async def erase_person(
    session: AsyncSession, email: str, *, by: Principal, clock: Clock
) -> ErasureState:
    """Erase every lead of the person with this email. A person intake never saw gets an
    erasure with no leads, completed at once: the answer does not tell who is known."""
    try:
        identity = identity_of(normalize_email(email))
    except ValueError as exc:
        raise InvalidInput(
            "email is not a valid address",
            errors=[FieldProblem(pointer="/email", message=str(exc))],
        ) from None
    await store.lock(session, {identity})  # no lead of this person is being added meanwhile
    lead_ids = await store.lead_ids_of_person(session, identity)
    return await _erase(session, lead_ids, "email", by=by, now=clock.now())


async def _erase(
    session: AsyncSession,
    lead_ids: Sequence[str],
    scope: Literal["lead", "email"],
    *,
    by: Principal,
    now: datetime,
) -> ErasureState:
    erasure_id = ids.new_id()
    await store.erase_leads(session, lead_ids, now)
    await keyring.shred(session, lead_ids, now)
    events: list[Event] = [
        LeadErased(
            source=SOURCE,
            subject=lead_id,
            data=LeadErasedData(
                lead_id=lead_id, erasure_id=erasure_id, requested_at=now, erased_at=now
            ),
        )
        for lead_id in lead_ids
    ]
    await plumbing.outbox.add_many(session, events)
    for lead_id in lead_ids:
        await plumbing.outbox.add_tombstone(session, topic=TOPIC_KEYS, key=lead_id)
    await store.add_erasure(
        session,
        {
            "erasure_id": erasure_id,
            "scope": scope,
            "lead_count": len(lead_ids),
            "requested_by_key_id": by.key_id,
            "requested_by_name": by.name,
            "requested_at": now,
            "erased_at": now,
            "completed_at": None if lead_ids else now,
        },
        lead_ids,
    )
    log.info(
        "erasure requested",
        extra={
            "audit": "erasure",
            "erasure_id": erasure_id,
            "scope": scope,
            "lead_ids": list(lead_ids),
            "requested_by_key_id": by.key_id,
        },
    )
    return ErasureState(
        erasure_id=erasure_id,
        scope=scope,
        status="erasing" if lead_ids else "completed",
        lead_ids=list(lead_ids),
        leads_done=0,
        requested_by=by.name,
        requested_at=now,
        erased_at=now,
        completed_at=None if lead_ids else now,
    )


async def erasure_state(session: AsyncSession, erasure_id: str) -> ErasureState:
    found = await store.get_erasure(session, erasure_id)
    if found is None:
        raise ErasureNotFound(f"there is no erasure {erasure_id}")
    row, leads = found
    return ErasureState(
        erasure_id=row["erasure_id"],
        scope=row["scope"],
        status="completed" if row["completed_at"] is not None else "erasing",
        lead_ids=[lead_id for lead_id, _ in leads],
        leads_done=sum(1 for _, at in leads if at is not None),
        requested_by=row["requested_by_name"] or row["requested_by_key_id"],
        requested_at=row["requested_at"],
        erased_at=row["erased_at"],
        completed_at=row["completed_at"],
    )


async def confirm_erasures(session: AsyncSession, events: Sequence[Event], *, clock: Clock) -> None:
    """Kafka in (leads.handoff): handoff's lead.erased ends a lead's erasure; the rest of the
    topic is not intake's business."""
    done = {(e.data.erasure_id, e.data.lead_id) for e in events if isinstance(e, LeadErased)}
    if done:
        await store.confirm_erased(session, done, clock.now())
        log.info("erasures confirmed", extra={"audit": "erasure", "confirmed": len(done)})
