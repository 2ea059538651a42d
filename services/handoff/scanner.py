"""The SLA scanner: fires due timers, assigns queued leads, refreshes the SLA gauges.

Clocks are rows with due times, so they survive restarts. Each pass claims due timers with
`FOR UPDATE SKIP LOCKED` (PostgreSQL) so several replicas never fire one twice, and locks
each timer's lead with SKIP LOCKED too: a lead busy in a request is simply taken on the next
pass, never waited for (a request holding the lead may be waiting for the timer row).
Tests run one pass with `await scanner.scan_once(...)` on a FixedClock instead of sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.handoff import store
from services.handoff.assignment import drain_queue, observe_queue, reassign_lead
from services.handoff.service import Handoff, labels, rep_calendar, tell_marketing
from services.handoff.sla import (
    Breach,
    BreachKind,
    SlaState,
    TimerKind,
    Warn,
    after_breach,
    breach_action,
    fire,
    rearm_timers,
)
from shared import metrics
from shared.db import is_transient
from shared.events import SlaNotice, SlaTerms

log = logging.getLogger(__name__)

_CLOCK: dict[str, BreachKind] = {
    "first_contact_warning": "first_contact",
    "first_contact_breach": "first_contact",
    "attempts_breach": "attempts",
}


@dataclass
class ScanResult:
    """What one pass did, for tests and logs."""

    fired: int = 0
    skipped: int = 0
    warnings: int = 0
    breaches: int = 0
    assigned_from_queue: int = 0
    actions: list[str] = field(default_factory=list)


async def scan_once(
    sessionmaker: async_sessionmaker[AsyncSession],
    handoff: Handoff,
    *,
    batch_size: int = 200,
    gauges: WaitingGauges | None = None,
) -> ScanResult:
    """One pass: fire every due timer (in batches), drain every queue, refresh the gauges."""
    result = ScanResult()
    while True:
        fired = result.fired
        async with sessionmaker() as session, session.begin():
            timers = await store.claim_due_timers(session, handoff.now(), batch_size)
            for timer in timers:
                await _fire_one(session, timer, handoff, result)
        if len(timers) < batch_size or result.fired == fired:
            break  # done, or every lead left is busy elsewhere: the next pass takes them
    async with sessionmaker() as session, session.begin():
        queued = await store.queued_counts(session)
    for team in sorted(t for t, n in queued.items() if n):
        async with sessionmaker() as session, session.begin():
            result.assigned_from_queue += await drain_queue(session, team, handoff=handoff)
    async with sessionmaker() as session:
        await observe_queue(session)
        await (gauges or WaitingGauges()).observe(session, handoff.now())
    return result


async def _fire_one(
    session: AsyncSession, timer: dict[str, Any], handoff: Handoff, result: ScanResult
) -> None:
    """Fire one timer in a savepoint: a bad lead is logged and marked, the pass goes on."""
    if not await store.timer_pending(session, timer["id"]):
        return  # cancelled by an earlier timer of the same lead in this pass
    lead = await store.get_lead(session, timer["lead_id"], lock=True, skip_locked=True)
    if lead is None:
        result.skipped += 1  # locked by a request right now: the next pass takes it
        return
    try:
        async with session.begin_nested():
            action = await _apply(session, timer, lead, handoff, result)
            await store.mark_timer_fired(session, timer["id"], handoff.now(), action)
    except Exception as exc:
        if is_transient(exc):
            raise  # the database, not the lead: the whole pass is retried
        log.exception("SLA timer %s of lead %s failed", timer["id"], timer["lead_id"])
        await store.mark_timer_fired(
            session, timer["id"], handoff.now(), f"error: {type(exc).__name__}"[:32]
        )
    result.fired += 1


async def _apply(
    session: AsyncSession,
    timer: dict[str, Any],
    lead: dict[str, Any],
    handoff: Handoff,
    result: ScanResult,
) -> str:
    """What the timer calls for, carried out; returns the action for the timer row."""
    assignment = await store.open_assignment(session, lead["lead_id"])
    if (
        not lead["sla_terms"]
        or assignment is None
        or assignment["id"] != timer["assignment_id"]
        or lead["status"] not in store.OPEN_STATUSES
    ):
        return "stale"
    terms = SlaTerms.model_validate(lead["sla_terms"])
    state = SlaState(
        assigned_at=assignment["assigned_at"],
        first_attempt_at=assignment["first_attempt_at"],
        attempts=int(assignment["attempts"]),
        breaches=int(lead["breaches"]),
    )
    actions = fire(cast(TimerKind, timer["kind"]), state, terms)
    if not actions:
        return "met"
    action = actions[0]
    notice = SlaNotice(clock=_CLOCK[timer["kind"]], tier=terms.tier, due_at=timer["due_at"])
    if isinstance(action, Warn):
        await _warn(session, lead, notice, handoff)
        result.warnings += 1
        return "warned"
    result.breaches += 1
    done = await _breach(session, lead, assignment, terms, state, action, notice, handoff)
    result.actions.append(done)
    return done


async def _warn(
    session: AsyncSession, lead: dict[str, Any], notice: SlaNotice, handoff: Handoff
) -> None:
    now = handoff.now()
    team, tier = labels(lead)
    metrics.SLA_WARNINGS.labels(team, tier).inc()
    await store.add_timeline(
        session,
        lead["lead_id"],
        "sla_warning",
        now,
        rep_id=lead["rep_id"],
        detail={"clock": notice.clock, "due_at": notice.due_at.isoformat()},
    )
    await tell_marketing(session, lead, "sla_warning", at=now, sla=notice)


async def _breach(
    session: AsyncSession,
    lead: dict[str, Any],
    assignment: dict[str, Any],
    terms: SlaTerms,
    state: SlaState,
    breach: Breach,
    notice: SlaNotice,
    handoff: Handoff,
) -> str:
    """Count the breach, tell marketing, and do what the contract says."""
    now = handoff.now()
    team, tier = labels(lead)
    metrics.SLA_BREACHES.labels(team, tier, breach.kind).inc()
    metrics.SLA_OUTCOMES.labels(team, tier, breach.kind, "breached").inc()
    breaches = after_breach(state, breach, at=now).breaches
    action = breach.action
    manager = await store.team_manager(session, lead["team"])
    while action == "escalate" and manager in (None, lead["rep_id"]):
        # Nobody to escalate to: take the next step of the chain rather than stall.
        action = breach_action(terms, breaches)
        breaches += 1
    await store.update_lead(session, lead["lead_id"], {"breaches": breaches, "updated_at": now})
    notice = notice.model_copy(update={"action": action, "breaches": breaches})
    await store.add_timeline(
        session,
        lead["lead_id"],
        "sla_breached",
        now,
        rep_id=lead["rep_id"],
        detail={"clock": breach.kind, "due_at": notice.due_at.isoformat(), "action": action},
    )
    await tell_marketing(session, lead, "sla_breached", at=now, sla=notice)
    lead = {**lead, "breaches": breaches}
    if action == "reassign":
        return await _reassign(session, lead, notice, handoff)
    if action == "escalate" and manager is not None:
        return await _escalate(session, lead, assignment, terms, breach.kind, manager, handoff)
    return await recycle(session, lead, notice, handoff)


async def _reassign(
    session: AsyncSession, lead: dict[str, Any], notice: SlaNotice, handoff: Handoff
) -> str:
    now = handoff.now()
    new_rep = await reassign_lead(session, lead, handoff=handoff, why=f"sla_breach:{notice.clock}")
    await store.add_timeline(
        session,
        lead["lead_id"],
        "reassigned",
        now,
        rep_id=new_rep,
        detail={"previous_rep_id": lead["rep_id"], "queued": new_rep is None},
    )
    await tell_marketing(
        session,
        lead,
        "reassigned",
        at=now,
        rep_id=new_rep,
        previous_rep_id=lead["rep_id"],
        sla=notice.model_copy(update={"new_rep_id": new_rep}),
    )
    return "reassigned" if new_rep else "reassigned:queued"


async def _escalate(
    session: AsyncSession,
    lead: dict[str, Any],
    assignment: dict[str, Any],
    terms: SlaTerms,
    kind: BreachKind,
    manager: str,
    handoff: Handoff,
) -> str:
    """The manager is told and may work the lead; the breached clock runs again."""
    now = handoff.now()
    rep = await store.get_rep(session, lead["rep_id"])
    if rep is not None:
        calendar, holidays = rep_calendar(rep, now)
        timers = rearm_timers(terms, kind, at=now, calendar=calendar, holidays=holidays)
        await store.add_timers(
            session,
            [
                {
                    "lead_id": lead["lead_id"],
                    "assignment_id": assignment["id"],
                    "kind": t.kind,
                    "due_at": t.due_at,
                }
                for t in timers
            ],
        )
    await store.update_lead(
        session, lead["lead_id"], {"escalated_to_rep_id": manager, "escalated_at": now}
    )
    await store.add_timeline(
        session, lead["lead_id"], "escalated", now, rep_id=manager, detail={"clock": kind}
    )
    team, tier = labels(lead)
    metrics.SLA_ACTIONS.labels(team, tier, "escalate").inc()
    notice = SlaNotice(
        clock=kind,
        tier=terms.tier,
        due_at=now,
        action="escalate",
        breaches=lead["breaches"],
        manager_rep_id=manager,
    )
    await tell_marketing(session, lead, "escalated", at=now, sla=notice)
    return "escalated"


async def recycle(
    session: AsyncSession, lead: dict[str, Any], notice: SlaNotice, handoff: Handoff
) -> str:
    """Give the lead back to marketing nurture; its rep's capacity frees up."""
    now = handoff.now()
    await store.end_assignment(session, lead["lead_id"], now, "recycled")
    await store.cancel_timers(session, lead["lead_id"], now)
    await store.update_lead(
        session,
        lead["lead_id"],
        {
            "status": "recycled",
            "rep_id": None,
            "escalated_to_rep_id": None,
            "recycled_at": now,
            "updated_at": now,
        },
    )
    await store.add_timeline(
        session,
        lead["lead_id"],
        "recycled",
        now,
        rep_id=lead["rep_id"],
        detail={"clock": notice.clock, "to": "marketing nurture"},
    )
    team, tier = labels(lead)
    metrics.SLA_ACTIONS.labels(team, tier, "recycle").inc()
    await tell_marketing(
        session, lead, "recycled", at=now, sla=notice.model_copy(update={"action": "recycle"})
    )
    return "recycled"


GAUGE_SECONDS = 5.0
"""How often the scanner's loop refreshes the awaiting-first-contact gauges."""


@dataclass
class WaitingGauges:
    """Leads awaiting first contact, the oldest's age and the overdue, by team and tier.

    Read from the database, so every replica reports the same numbers (alert rules take the
    max); label pairs that emptied since the last pass are set back to zero. The query reads
    every lead awaiting first contact (100-200 ms on PostgreSQL with 20k of them in the
    soak), so it runs at most every `every` seconds of the handoff clock: the scanner's loop
    passes every second, Prometheus scrapes every 15 s and the alerts wait a minute.
    """

    every: float = 0.0
    seen: set[tuple[str, str]] = field(default_factory=set)
    _at: datetime | None = None

    async def observe(self, session: AsyncSession, now: datetime) -> None:
        # A clock stepped back (NTP, a test's clock) refreshes rather than freezing them.
        if self._at is not None and 0 <= (now - self._at).total_seconds() < self.every:
            return
        self._at = now
        current = set()
        for r in await store.awaiting_first_contact(session, now):
            key = (r["team"] or "none", r["tier"] or "none")
            current.add(key)
            oldest = r["oldest"]
            age = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
            metrics.AWAITING_FIRST_CONTACT.labels(*key).set(r["waiting"])
            metrics.OLDEST_AWAITING.labels(*key).set(age)
            metrics.FIRST_CONTACT_OVERDUE.labels(*key).set(int(r["overdue"] or 0))
        for key in self.seen - current:
            metrics.AWAITING_FIRST_CONTACT.labels(*key).set(0)
            metrics.OLDEST_AWAITING.labels(*key).set(0)
            metrics.FIRST_CONTACT_OVERDUE.labels(*key).set(0)
        self.seen = current


@dataclass
class Scanner:
    """The background loop around `scan_once`, started in the app's lifespan."""

    sessionmaker: async_sessionmaker[AsyncSession]
    handoff: Handoff
    interval: float = 1.0
    batch_size: int = 200
    on_commit: Callable[[], None] | None = None
    gauges: WaitingGauges = field(default_factory=lambda: WaitingGauges(every=GAUGE_SECONDS))
    _stopping: bool = False
    _wake: asyncio.Event = field(default_factory=asyncio.Event)

    async def scan_once(self) -> ScanResult:
        """One pass now; wakes the outbox relay so what it published goes out at once."""
        result = await scan_once(
            self.sessionmaker, self.handoff, batch_size=self.batch_size, gauges=self.gauges
        )
        if self.on_commit is not None:
            self.on_commit()
        return result

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """A pass every `interval` seconds (the first one an interval after start)."""
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval)
            if self._stopping:
                break
            try:
                await self.scan_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database is down: the timers wait, the next pass fires them
                log.warning("SLA scan failed, retrying", exc_info=True)
