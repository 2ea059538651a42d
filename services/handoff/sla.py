"""The SLA state machine of one assigned lead: which timers to set and what each one does.

Pure: the caller stores `SlaState` and the `Timer` rows, and a scanner calls `fire` when a
timer is due. Each step returns new values; nothing here reads the clock or does I/O.

Choices:
- First contact counts the rep's business hours when the terms say so, else wall time.
- The attempts window ("M attempts within D days") is wall-clock time from assignment:
  contracts state it in calendar days, and dialers work evenings and weekends too.
- Breach actions follow `terms.on_breach` in order, one per breach of the lead; once the
  list is used up the lead is recycled to marketing so it never sits unworked.
- Escalation keeps the rep and re-arms the clock that breached, now watched by the manager:
  the next breach takes the next action, so a chain like reassign -> escalate -> recycle
  always ends instead of leaving an escalated lead without a clock.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from services.handoff.business_hours import Calendar, due_at, wall_due_at
from shared.events import SlaTerms

TimerKind = Literal["first_contact_warning", "first_contact_breach", "attempts_breach"]
BreachKind = Literal["first_contact", "attempts"]
BreachAction = Literal["reassign", "escalate", "recycle"]
SlaStatus = Literal["active", "recycled", "closed"]


@dataclass(frozen=True)
class Timer:
    """One SLA clock: the scanner calls `fire(kind, ...)` once `due_at` has passed."""

    kind: TimerKind
    due_at: datetime


@dataclass(frozen=True)
class Warn:
    """Most of the first-contact time is gone and nobody has tried yet: nudge the rep."""

    kind: Literal["first_contact"] = "first_contact"


@dataclass(frozen=True)
class Breach:
    """A missed SLA and what the contract says to do about it."""

    kind: BreachKind
    action: BreachAction


Action = Warn | Breach


@dataclass(frozen=True)
class SlaState:
    """Where one lead's SLA stands for its current rep; `breaches` counts across reps."""

    assigned_at: datetime
    first_attempt_at: datetime | None = None
    attempts: int = 0
    breaches: int = 0
    status: SlaStatus = "active"


def plan_timers(
    terms: SlaTerms, *, assigned_at: datetime, calendar: Calendar, holidays: Container[date]
) -> list[Timer]:
    """The timers to store at assignment, earliest first, in the rep's time zone."""
    first_contact = timedelta(seconds=terms.first_contact_seconds)

    def after(duration: timedelta) -> datetime:
        if terms.business_hours:
            return due_at(assigned_at, duration, calendar, holidays)
        return wall_due_at(assigned_at, duration).astimezone(calendar.zone)

    timers = [Timer("first_contact_breach", after(first_contact))]
    if 0 < terms.warn_at_fraction < 1:
        timers.append(Timer("first_contact_warning", after(first_contact * terms.warn_at_fraction)))
    if terms.attempts_min > 0:
        window = timedelta(seconds=terms.attempts_window_seconds)
        timers.append(
            Timer("attempts_breach", wall_due_at(assigned_at, window).astimezone(calendar.zone))
        )
    return sorted(timers, key=lambda t: _utc(t.due_at))


def rearm_timers(
    terms: SlaTerms,
    kind: BreachKind,
    *,
    at: datetime,
    calendar: Calendar,
    holidays: Container[date],
) -> list[Timer]:
    """After an escalation: the clock that breached runs again from `at`, same length."""
    if kind == "attempts":
        window = timedelta(seconds=terms.attempts_window_seconds)
        return [Timer("attempts_breach", wall_due_at(at, window).astimezone(calendar.zone))]
    planned = plan_timers(terms, assigned_at=at, calendar=calendar, holidays=holidays)
    return [t for t in planned if t.kind != "attempts_breach"]


def on_attempt(state: SlaState, at: datetime) -> SlaState:
    """Count a contact attempt; attempts may arrive out of order, so keep the earliest."""
    first = at
    if state.first_attempt_at is not None and _utc(state.first_attempt_at) <= _utc(at):
        first = state.first_attempt_at
    return replace(state, first_attempt_at=first, attempts=state.attempts + 1)


def on_closed(state: SlaState) -> SlaState:
    """The lead was won or lost: its clocks stop for good."""
    return replace(state, status="closed")


def breach_action(terms: SlaTerms, breaches: int) -> BreachAction:
    """The contract's answer to the lead's next breach; recycle once the chain runs out."""
    return terms.on_breach[breaches] if breaches < len(terms.on_breach) else "recycle"


def fire(timer_kind: TimerKind, state: SlaState, terms: SlaTerms) -> list[Action]:
    """What a due timer calls for now; a timer whose condition was met does nothing."""
    if state.status != "active":
        return []
    if timer_kind == "first_contact_warning":
        return [Warn()] if state.first_attempt_at is None else []
    if timer_kind == "first_contact_breach":
        if state.first_attempt_at is not None:
            return []
        return [Breach("first_contact", breach_action(terms, state.breaches))]
    if state.attempts < terms.attempts_min:
        return [Breach("attempts", breach_action(terms, state.breaches))]
    return []


def after_breach(state: SlaState, breach: Breach, *, at: datetime) -> SlaState:
    """The state once the caller has carried out a breach action at `at`.

    A reassigned lead starts a fresh SLA with its new rep (plan its timers again from `at`);
    an escalated lead keeps its rep, its attempts and its other clocks (re-arm the breached
    one with `rearm_timers`); a recycled lead fires nothing further.
    """
    breaches = state.breaches + 1
    if breach.action == "reassign":
        return SlaState(assigned_at=at, breaches=breaches)
    if breach.action == "recycle":
        return replace(state, breaches=breaches, status="recycled")
    return replace(state, breaches=breaches)


def time_to_first_contact(assigned_at: datetime, first_attempt_at: datetime) -> timedelta:
    """Elapsed time to the first attempt; an attempt logged before assignment counts as zero."""
    return max(timedelta(0), _utc(first_attempt_at) - _utc(assigned_at))


def _utc(moment: datetime) -> datetime:
    """Aware datetimes sharing a zone compare and subtract as wall time; UTC is elapsed time."""
    return moment.astimezone(UTC)
