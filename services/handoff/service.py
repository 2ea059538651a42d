"""What handoff's use cases share: their dependencies, a rep's calendar, publishing an event
(Kafka outbox and webhook deliveries, one transaction) and the lead view.

The use cases themselves live by seam: `assignment` (route, queue, reassign), `feedback`
(what sales reports back), `reps` (reps and teams), `scanner` (SLA clocks firing) and
`subscriptions` (webhooks).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.handoff import store, webhooks
from services.handoff.business_hours import Calendar, holidays_for
from services.handoff.errors import LeadNotFound
from services.handoff.schemas import (
    AssignmentView,
    LeadView,
    SalesOutcomeView,
    SlaView,
    TimelineEntry,
    TimerView,
)
from services.handoff.tables import plumbing
from shared import metrics
from shared.clock import Clock
from shared.events import Event, FeedbackData, LeadFeedback

SOURCE = "/leadrelay/handoff"


@dataclass(frozen=True)
class Handoff:
    """The dependencies every use case takes: the clock and the knobs from settings."""

    clock: Clock
    default_team: str
    attempt_clock_skew: timedelta = timedelta(minutes=5)
    drain_batch: int = 200

    def now(self) -> datetime:
        """The clock's time in UTC, whatever zone a test's FixedClock was given in."""
        return self.clock.now().astimezone(UTC)


# --- a rep's calendar and availability -------------------------------------------------


@lru_cache(maxsize=512)
def _holidays(country: str | None, subdivision: str | None, year: int) -> frozenset[date]:
    return holidays_for(country, subdivision, [year - 1, year, year + 1])


def rep_calendar(rep: dict[str, Any], at: datetime) -> tuple[Calendar, frozenset[date]]:
    """The rep's working week and the public holidays of their country and region around `at`."""
    calendar = Calendar.of(
        rep["time_zone"], hours=tuple(rep["working_hours"]), days=rep["working_days"]
    )
    year = at.astimezone(calendar.zone).year
    return calendar, _holidays(rep.get("country"), rep.get("subdivision"), year)


def available(rep: dict[str, Any], now: datetime) -> bool:
    """Available and not out of office (working hours do not matter: SLA clocks wait)."""
    if not rep["available"]:
        return False
    until = rep.get("out_of_office_until")
    return until is None or until <= now


# --- publishing ------------------------------------------------------------------------


async def publish(session: AsyncSession, event: Event, *, now: datetime) -> None:
    """Queue an event for Kafka and for every matching webhook, in the caller's transaction."""
    await publish_many(session, [event], now=now)


async def publish_many(session: AsyncSession, events: Sequence[Event], *, now: datetime) -> None:
    """`publish` for several events, in order: one outbox insert, one deliveries insert."""
    await plumbing.outbox.add_many(session, events)
    await webhooks.enqueue_many(session, events, now=now)


async def tell_marketing(
    session: AsyncSession,
    lead: dict[str, Any],
    kind: str,
    *,
    at: datetime,
    traceparent: str | None = None,
    **fields: Any,
) -> None:
    """Publish one LeadFeedback on leads.feedback, with the lead's attribution attached."""
    data = FeedbackData(
        lead_id=lead["lead_id"],
        kind=kind,
        at=at,
        rep_id=fields.pop("rep_id", lead["rep_id"]),
        team=fields.pop("team", lead["team"]),
        tier=lead["tier"],
        source=lead["source"],
        campaign_id=lead["campaign_id"],
        **fields,
    )
    event = LeadFeedback(source=SOURCE, subject=lead["lead_id"], traceparent=traceparent, data=data)
    await publish(session, event, now=at)
    metrics.LEAD_FEEDBACK.labels(kind).inc()


def labels(lead: dict[str, Any]) -> tuple[str, str]:
    """(team, tier) metric labels for a lead: bounded values, never an id."""
    return lead["team"] or "none", lead["tier"] or "none"


# --- reads -----------------------------------------------------------------------------


async def lead_view(session: AsyncSession, lead_id: str) -> LeadView:
    """Everything handoff knows of one lead, its timeline in order."""
    row = await store.get_lead(session, lead_id)
    if row is None:
        raise LeadNotFound(lead_id)
    history = await store.lead_assignments(session, lead_id)
    current = next((a for a in reversed(history) if a["ended_at"] is None), None)
    timers = await store.pending_timers(session, lead_id)
    outcome = await store.get_outcome(session, lead_id)
    terms = row["sla_terms"]
    sla = SlaView(
        tier=row["tier"],
        terms=terms,
        breaches=row["breaches"],
        attempts_min=terms["attempts_min"] if terms else None,
        pending=[TimerView(**t) for t in timers],
    )
    if current is not None:
        due = current["first_contact_due_at"]
        first = current["first_attempt_at"]
        sla.first_contact_due_at = due
        sla.attempts_due_at = current["attempts_due_at"]
        sla.first_contact_met = None if first is None or due is None else first <= due
    return LeadView(
        **{k: row[k] for k in _LEAD_FIELDS},
        sla=sla,
        sales_outcome=SalesOutcomeView(**outcome) if outcome else None,
        assignments=[AssignmentView(**a, why=a["detail"]) for a in history],
        timeline=[TimelineEntry(**e) for e in await store.lead_timeline(session, lead_id)],
    )


_LEAD_FIELDS = (
    "lead_id",
    "status",
    "outcome",
    "tier",
    "team",
    "rep_id",
    "escalated_to_rep_id",
    "route_rule",
    "received_at",
    "queued_at",
    "assigned_at",
    "accepted_at",
    "first_attempt_at",
    "attempts",
    "breaches",
    "recycled_at",
    "closed_at",
    "lead",
    "decision",
)
