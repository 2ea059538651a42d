"""Intake's use cases: the steps of accepting a lead, in the caller's transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import store
from services.intake.dedupe import merge_leads, request_fingerprint
from services.intake.normalize import identity_key
from services.intake.schemas import LeadAccepted, LeadIn
from services.intake.tables import plumbing
from shared import metrics
from shared.clock import Clock
from shared.events import LeadReceived, LeadUpdated
from shared.problems import Conflict

SOURCE = "/leadrelay/intake"


class IdempotencyKeyReused(Conflict):
    title = "Idempotency-Key reused with a different request"
    type = "https://leadrelay.dev/problems/idempotency-key-reused"


@dataclass(frozen=True)
class Intake:
    """What accepting a lead needs besides the session."""

    clock: Clock
    dedupe_window: timedelta


async def accept_lead(
    session: AsyncSession,
    lead_in: LeadIn,
    ctx: Intake,
    *,
    channel: str,
    idempotency_key: str | None = None,
    traceparent: str | None = None,
) -> LeadAccepted:
    """Store the lead (or merge it into the same person's) and queue the event, atomically."""
    fingerprint = ""
    if idempotency_key:
        fingerprint = request_fingerprint(lead_in.model_dump(mode="json"))
        earlier = await store.find_idempotent(session, idempotency_key)
        if earlier is not None:
            if earlier[0] != fingerprint:
                raise IdempotencyKeyReused("this Idempotency-Key was used for a different lead")
            metrics.LEADS_DUPLICATE.labels(channel, "idempotency").inc()
            return LeadAccepted.model_validate(earlier[1])

    now = ctx.clock.now()
    key = identity_key(lead_in.email)
    await _lock_identity(session, key)
    incoming = lead_in.to_lead_data(lead_id=str(uuid.uuid4()), received_at=now, channel=channel)
    existing = None
    if ctx.dedupe_window > timedelta(0):
        existing = await store.find_recent_by_identity(session, key, now - ctx.dedupe_window)
    if existing is None:
        await store.insert_lead(session, incoming, key)
        await plumbing.outbox.add(
            session,
            LeadReceived(
                source=SOURCE, subject=incoming.lead_id, data=incoming, traceparent=traceparent
            ),
        )
        metrics.LEADS_RECEIVED.labels(incoming.source, channel).inc()
        answer = LeadAccepted(lead_id=incoming.lead_id, status="accepted")
    else:
        merged = merge_leads(existing, incoming)
        await store.update_lead(session, merged, now)
        await plumbing.outbox.add(
            session,
            LeadUpdated(
                source=SOURCE, subject=merged.lead_id, data=merged, traceparent=traceparent
            ),
        )
        metrics.LEADS_DUPLICATE.labels(channel, "person").inc()
        answer = LeadAccepted(
            lead_id=existing.lead_id, status="duplicate", duplicate_of=existing.lead_id
        )
    if idempotency_key:
        await store.save_idempotent(
            session, idempotency_key, fingerprint, answer.model_dump(mode="json"), now
        )
    return answer


async def _lock_identity(session: AsyncSession, key: str) -> None:
    """Two submissions of one person at once must not both create a lead (SQLite: BEGIN
    IMMEDIATE already serialises writers)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": key})
