"""What sales reports back: accept, reject, contact attempts, outcomes.

Each report is checked against the lead (the rep must hold it; times must fall after the
assignment), stored, added to the timeline, settles the SLA clocks it meets, and is
published for marketing on leads.feedback, all in the request's one transaction. Reporting
the same thing twice answers `replayed` and publishes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.handoff import store
from services.handoff.assignment import drain_queue
from services.handoff.errors import (
    AttemptIdReused,
    InvalidReport,
    LeadNotFound,
    LeadStateConflict,
    NotLeadOwner,
    RepNotFound,
)
from services.handoff.schemas import AcceptIn, AttemptIn, LeadState, OutcomeIn, RejectIn
from services.handoff.service import Handoff, labels, tell_marketing
from services.handoff.sla import time_to_first_contact
from services.handoff.store import OPEN_STATUSES
from shared import metrics
from shared.events import AttemptReport, OutcomeReport, RejectionReport

CLOSED = ("won", "lost")


async def accept_lead(
    session: AsyncSession, lead_id: str, body: AcceptIn, *, handoff: Handoff, trace: str | None
) -> LeadState:
    """The rep takes the lead on; the SLA clocks keep running until the first attempt."""
    lead = await _held(session, lead_id, body.rep_id)
    if lead["status"] == "accepted":
        return _state(lead, replayed=True)
    if lead["status"] != "assigned":
        raise _conflict(lead, f"lead {lead_id} is {lead['status']}: it can no longer be accepted")
    now = handoff.now()
    assignment = await _assignment(session, lead)
    await store.update_assignment(session, assignment["id"], {"accepted_at": now})
    await store.update_lead(session, lead_id, {"status": "accepted", "accepted_at": now})
    await store.add_timeline(
        session, lead_id, "accepted", now, rep_id=body.rep_id, detail={"note": body.note}
    )
    lead = {**lead, "status": "accepted", "accepted_at": now}
    detail = {"note": body.note} if body.note else {}
    await tell_marketing(session, lead, "accepted", at=now, traceparent=trace, detail=detail)
    return _state(lead)


async def reject_lead(
    session: AsyncSession, lead_id: str, body: RejectIn, *, handoff: Handoff, trace: str | None
) -> LeadState:
    """The rep turns the lead down with a reason: it goes back to marketing."""
    if body.reason == "other" and not (body.note or "").strip():
        raise InvalidReport("note", "say why in a note when the reason is other")
    lead = await _lead(session, lead_id, body.rep_id)
    if lead["status"] == "rejected":
        history = await store.lead_assignments(session, lead_id)
        last = history[-1] if history else None
        if last and last["rep_id"] == body.rep_id and last["reject_reason"] == body.reason:
            return _state(lead, replayed=True)
    _check_holder(lead, body.rep_id)
    if lead["status"] not in OPEN_STATUSES:
        raise _conflict(lead, f"lead {lead_id} is {lead['status']}: it can no longer be rejected")
    now = handoff.now()
    assignment = await _assignment(session, lead)
    await store.update_assignment(
        session,
        assignment["id"],
        {
            "rejected_at": now,
            "reject_reason": body.reason,
            "reject_note": body.note,
            "ended_at": now,
            "end_reason": "rejected",
        },
    )
    await store.cancel_timers(session, lead_id, now)
    await store.update_lead(
        session,
        lead_id,
        {"status": "rejected", "rep_id": None, "escalated_to_rep_id": None, "updated_at": now},
    )
    await store.add_timeline(
        session,
        lead_id,
        "rejected",
        now,
        rep_id=body.rep_id,
        detail={"reason": body.reason, "note": body.note},
    )
    await tell_marketing(
        session,
        lead,
        "rejected",
        at=now,
        traceparent=trace,
        rejection=RejectionReport(reason=body.reason, note=body.note),
    )
    await drain_queue(session, lead["team"], handoff=handoff)
    return _state({**lead, "status": "rejected", "rep_id": None})


async def record_attempt(
    session: AsyncSession, lead_id: str, body: AttemptIn, *, handoff: Handoff, trace: str | None
) -> LeadState:
    """Store one contact attempt (idempotent by attempt id) and settle the clocks it meets."""
    lead = await _lead(session, lead_id, body.rep_id)
    at = body.at.astimezone(UTC)
    seen = await store.get_attempt(session, lead_id, body.attempt_id)
    if seen is not None:
        same = (seen["rep_id"], seen["channel"], seen["outcome"], seen["at"]) == (
            body.rep_id,
            body.channel,
            body.outcome,
            at,
        )
        if not same:
            raise AttemptIdReused(
                f"attempt {body.attempt_id} of lead {lead_id} was recorded with other values"
            )
        return _state(lead, replayed=True)
    _check_holder(lead, body.rep_id)
    now = handoff.now()
    assignment = await _assignment(session, lead)
    _check_time(at, assignment["assigned_at"], now, handoff, what="the attempt")
    await store.insert_attempt(
        session,
        {
            "lead_id": lead_id,
            "attempt_id": body.attempt_id,
            "rep_id": body.rep_id,
            "channel": body.channel,
            "outcome": body.outcome,
            "at": at,
            "note": body.note,
            "assignment_id": assignment["id"],
            "recorded_at": now,
        },
    )
    metrics.CONTACT_ATTEMPTS.labels(body.channel, body.outcome).inc()
    previous_first = assignment["first_attempt_at"]
    first = previous_first if previous_first is not None and previous_first <= at else at
    number = int(assignment["attempts"]) + 1
    await store.update_assignment(
        session, assignment["id"], {"attempts": number, "first_attempt_at": first}
    )
    await store.update_lead(
        session, lead_id, {"attempts": number, "first_attempt_at": first, "updated_at": now}
    )
    ttfc = None
    if previous_first is None:
        ttfc = time_to_first_contact(assignment["assigned_at"], at).total_seconds()
        await _first_contact_made(session, lead, assignment, ttfc, now)
    await _attempts_counted(session, lead, assignment, number, now)
    await store.add_timeline(
        session,
        lead_id,
        "attempt",
        at,
        rep_id=body.rep_id,
        detail={
            "attempt_id": body.attempt_id,
            "channel": body.channel,
            "outcome": body.outcome,
            "number": number,
            "note": body.note,
        },
    )
    report = AttemptReport(
        attempt_id=body.attempt_id,
        channel=body.channel,
        outcome=body.outcome,
        at=at,
        number=number,
        time_to_first_contact_seconds=ttfc,
    )
    await tell_marketing(
        session, lead, "attempt", at=now, traceparent=trace, rep_id=body.rep_id, attempt=report
    )
    if previous_first is None and lead["status"] in OPEN_STATUSES:
        await drain_queue(session, lead["team"], handoff=handoff)  # the rep has room again
    return _state({**lead, "attempts": number, "first_attempt_at": first})


async def _first_contact_made(
    session: AsyncSession,
    lead: dict[str, Any],
    assignment: dict[str, Any],
    ttfc: float,
    now: datetime,
) -> None:
    team, tier = labels(lead)
    metrics.TIME_TO_FIRST_CONTACT.labels(team, tier).observe(ttfc)
    # Met only if this clock had not breached: one re-armed by an escalation was already
    # counted as breached.
    if await store.has_pending_timer(
        session, lead["lead_id"], "first_contact_breach", assignment["id"]
    ) and not await store.escalated_on(session, assignment["id"], "first_contact_breach"):
        metrics.SLA_OUTCOMES.labels(team, tier, "first_contact", "met").inc()
    await store.cancel_timers(
        session, lead["lead_id"], now, ("first_contact_warning", "first_contact_breach")
    )


async def _attempts_counted(
    session: AsyncSession, lead: dict[str, Any], assignment: dict[str, Any], n: int, now: datetime
) -> None:
    terms = lead["sla_terms"]
    if not terms or n < int(terms["attempts_min"]):
        return
    if await store.has_pending_timer(session, lead["lead_id"], "attempts_breach", assignment["id"]):
        if not await store.escalated_on(session, assignment["id"], "attempts_breach"):
            team, tier = labels(lead)
            metrics.SLA_OUTCOMES.labels(team, tier, "attempts", "met").inc()
        await store.cancel_timers(session, lead["lead_id"], now, ("attempts_breach",))


async def record_outcome(
    session: AsyncSession, lead_id: str, body: OutcomeIn, *, handoff: Handoff, trace: str | None
) -> LeadState:
    """An opportunity (with its amount), or the lead won or lost: its SLA clocks stop."""
    lead = await _held(session, lead_id, body.rep_id)
    previous = await store.get_outcome(session, lead_id)
    amount, currency = _outcome_amount(body, previous)
    if previous is not None and _same_outcome(previous, body, amount, currency):
        return _state(lead, replayed=True)
    if lead["status"] in CLOSED:
        raise _conflict(lead, f"lead {lead_id} is already {lead['status']}")
    now = handoff.now()
    at = body.at.astimezone(UTC) if body.at else now
    _check_time(at, lead["assigned_at"], now, handoff, what="the outcome")
    values: dict[str, Any] = {
        "stage": body.stage,
        "amount": amount,
        "currency": currency,
        "reason": body.reason,
        "note": body.note,
        "at": at,
        "rep_id": body.rep_id,
    }
    if body.stage == "opportunity":
        values.update(opportunity_amount=amount, opportunity_at=at)
    else:
        values["closed_at"] = at
    await store.put_outcome(session, lead_id, values)
    was_open = lead["status"] in OPEN_STATUSES and lead["first_attempt_at"] is None
    await store.cancel_timers(session, lead_id, now)
    update: dict[str, Any] = {"status": body.stage, "updated_at": now}
    if body.stage in CLOSED:
        update["closed_at"] = at
    await store.update_lead(session, lead_id, update)
    detail = {"stage": body.stage, "amount": amount, "currency": currency, "reason": body.reason}
    await store.add_timeline(session, lead_id, "outcome", at, rep_id=body.rep_id, detail=detail)
    report = OutcomeReport(
        stage=body.stage, amount=amount, currency=currency, reason=body.reason, note=body.note
    )
    await tell_marketing(
        session, lead, "outcome", at=now, traceparent=trace, rep_id=body.rep_id, outcome=report
    )
    if was_open:
        await drain_queue(session, lead["team"], handoff=handoff)
    return _state({**lead, "status": body.stage})


def _outcome_amount(
    body: OutcomeIn, previous: dict[str, Any] | None
) -> tuple[float | None, str | None]:
    """The amount and currency an outcome carries; won defaults to the opportunity's."""
    if body.stage == "lost":
        if body.reason is None:
            raise InvalidReport("reason", "say why the lead was lost")
        return body.amount, body.currency
    if body.reason is not None:
        raise InvalidReport("reason", "a reason is given only when the lead was lost")
    amount, currency = body.amount, body.currency
    if amount is None and body.stage == "won" and previous and previous["opportunity_amount"]:
        amount = previous["opportunity_amount"]
        currency = currency or previous["currency"]
    if amount is None:
        raise InvalidReport("amount", f"an {body.stage} needs an amount")
    if currency is None:
        raise InvalidReport("currency", "give the amount's currency (ISO 4217, e.g. EUR)")
    return amount, currency


def _same_outcome(
    previous: dict[str, Any], body: OutcomeIn, amount: float | None, currency: str | None
) -> bool:
    return (previous["stage"], previous["amount"], previous["currency"], previous["reason"]) == (
        body.stage,
        amount,
        currency,
        body.reason,
    )


# --- checks ----------------------------------------------------------------------------


async def _lead(session: AsyncSession, lead_id: str, rep_id: str) -> dict[str, Any]:
    """The lead, locked; 404 for an unknown lead or rep."""
    lead = await store.get_lead(session, lead_id, lock=True)
    if lead is None:
        raise LeadNotFound(lead_id)
    if await store.get_rep(session, rep_id) is None:
        raise RepNotFound(rep_id)
    return lead


def _check_holder(lead: dict[str, Any], rep_id: str) -> None:
    """The rep (or the manager the lead was escalated to) must hold the lead now."""
    if lead["rep_id"] is None or rep_id not in (lead["rep_id"], lead["escalated_to_rep_id"]):
        raise NotLeadOwner(lead["lead_id"], rep_id, lead["status"], lead["rep_id"])


async def _held(session: AsyncSession, lead_id: str, rep_id: str) -> dict[str, Any]:
    lead = await _lead(session, lead_id, rep_id)
    _check_holder(lead, rep_id)
    return lead


async def _assignment(session: AsyncSession, lead: dict[str, Any]) -> dict[str, Any]:
    assignment = await store.open_assignment(session, lead["lead_id"])
    if assignment is None:  # a held lead always has one; the unique index keeps it single
        raise _conflict(lead, f"lead {lead['lead_id']} has no open assignment")
    return assignment


def _check_time(
    at: datetime, assigned_at: datetime | None, now: datetime, handoff: Handoff, *, what: str
) -> None:
    if assigned_at is not None and at < assigned_at:
        raise InvalidReport(
            "at",
            f"{what} at {at.isoformat()} is before the assignment at {assigned_at.isoformat()}",
        )
    if at > now + handoff.attempt_clock_skew:
        raise InvalidReport("at", f"{what} at {at.isoformat()} is in the future")


def _conflict(lead: dict[str, Any], detail: str) -> LeadStateConflict:
    return LeadStateConflict(
        detail, lead_id=lead["lead_id"], status=lead["status"], current_rep_id=lead["rep_id"]
    )


def _state(lead: dict[str, Any], *, replayed: bool = False) -> LeadState:
    return LeadState(
        lead_id=lead["lead_id"],
        status=lead["status"],
        rep_id=lead["rep_id"],
        team=lead["team"],
        attempts=lead["attempts"],
        first_attempt_at=lead["first_attempt_at"],
        replayed=replayed,
    )
