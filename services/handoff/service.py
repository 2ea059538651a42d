"""Handoff's use cases: take a scored lead, route it, start its SLA clocks, tell the rep."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

import yaml
from sqlalchemy.ext.asyncio import AsyncSession

from services.handoff import store
from services.handoff.business_hours import Calendar, holidays_for
from services.handoff.routing import REASON_ROUND_ROBIN, RepView, choose_rep
from services.handoff.schemas import LeadView, RepIn, TimelineEntry
from services.handoff.sla import plan_timers
from services.handoff.tables import plumbing
from shared import metrics
from shared.clock import Clock
from shared.events import (
    Decision,
    Event,
    LeadAssigned,
    LeadAssignedData,
    LeadData,
    LeadScored,
    SlaDue,
    SlaTerms,
)
from shared.problems import NotFound

SOURCE = "/leadrelay/handoff"


@dataclass(frozen=True)
class Handoff:
    clock: Clock
    default_team: str


@lru_cache(maxsize=512)
def _holidays(country: str | None, subdivision: str | None, year: int) -> frozenset[date]:
    return holidays_for(country, subdivision, [year, year + 1])


def rep_calendar(rep: dict[str, Any]) -> tuple[Calendar, frozenset[date]]:
    cal = Calendar.of(rep["time_zone"], hours=tuple(rep["working_hours"]), days=rep["working_days"])
    year = datetime.now(UTC).year
    return cal, _holidays(rep.get("country"), rep.get("subdivision"), year)


def _available(rep: dict[str, Any], now: datetime) -> bool:
    if not rep["available"]:
        return False
    until = rep.get("out_of_office_until")
    if until is not None:
        if until.tzinfo is None:
            until = until.replace(tzinfo=UTC)
        return bool(until <= now)
    return True


# --- the consumer ----------------------------------------------------------------------


async def receive_scored(session: AsyncSession, event: Event, *, handoff: Handoff) -> None:
    """Record the decision; assign a qualified lead that has no rep yet."""
    if not isinstance(event, LeadScored):
        raise ValueError(f"handoff does not consume {event.type}")
    data = event.data
    lead, decision = data.lead, data.decision
    now = handoff.clock.now()
    existing = await store.get_lead(session, lead.lead_id, lock=True)
    team = data.route.team or handoff.default_team
    values = {
        "outcome": decision.outcome,
        "tier": decision.tier,
        "lead": lead.model_dump(mode="json"),
        "decision": decision.model_dump(mode="json"),
        "sla_terms": data.sla.model_dump(mode="json") if data.sla else None,
        "source": lead.source,
        "campaign_id": lead.campaign_id,
        "email_domain": lead.email.rsplit("@", 1)[-1].lower(),
        "updated_at": now,
    }
    await store.add_timeline(
        session,
        lead.lead_id,
        "scored",
        decision.decided_at,
        detail={
            "outcome": decision.outcome,
            "score": decision.score,
            "tier": decision.tier,
            "contract_version": decision.contract_version,
        },
    )
    if existing is None:
        await store.add_timeline(
            session,
            lead.lead_id,
            "received",
            lead.received_at,
            detail={"source": lead.source, "channel": lead.channel},
        )
        status = "queued" if decision.outcome == "qualified" else decision.outcome
        await store.insert_lead(
            session,
            {
                **values,
                "lead_id": lead.lead_id,
                "status": status,
                "team": team,
                "received_at": lead.received_at,
                "attempts": 0,
                "breaches": 0,
            },
        )
    else:
        await store.update_lead(session, lead.lead_id, values)
        if existing["status"] not in ("nurture", "disqualified"):
            return  # already in sales' hands (or queued): a new score does not re-route
        status = "queued" if decision.outcome == "qualified" else decision.outcome
        await store.update_lead(session, lead.lead_id, {"status": status, "team": team})
    if decision.outcome == "qualified":
        await assign_lead(session, lead.lead_id, handoff=handoff, traceparent=event.traceparent)


async def assign_lead(
    session: AsyncSession,
    lead_id: str,
    *,
    handoff: Handoff,
    exclude: tuple[str, ...] = (),
    previous_rep_id: str | None = None,
    traceparent: str | None = None,
) -> str | None:
    """Route one lead to a rep; leave it queued if nobody in its team can take it now."""
    row = await store.get_lead(session, lead_id, lock=True)
    if row is None:
        raise NotFound(f"unknown lead {lead_id}")
    now = handoff.clock.now()
    team = row["team"] or handoff.default_team
    await store.ensure_team(session, team)
    counts = await store.lock_team_rotation(session, team)
    team_reps = await store.team_reps(session, team)
    owner_id = await store.account_owner(session, row["email_domain"], lead_id)
    candidates = list(team_reps)
    if owner_id and owner_id not in {r["rep_id"] for r in candidates}:
        owner = await store.get_rep(session, owner_id)
        if owner is not None:
            candidates.append(owner)
    open_counts = await store.open_lead_counts(session, [r["rep_id"] for r in candidates])
    views = [
        RepView(
            rep_id=r["rep_id"],
            team=r["team"],
            weight=r["weight"],
            capacity=r["capacity"],
            open_leads=open_counts.get(r["rep_id"], 0),
            available=_available(r, now),
        )
        for r in candidates
    ]
    choice = choose_rep(
        team=team, reps=views, assigned_counts=counts, account_owner=owner_id, exclude=exclude
    )
    if choice is None:
        await store.update_lead(
            session, lead_id, {"status": "queued", "rep_id": None, "updated_at": now}
        )
        await store.add_timeline(
            session,
            lead_id,
            "queued",
            now,
            detail={"team": team, "why": "nobody available under capacity"},
        )
        return None
    if choice.reason == REASON_ROUND_ROBIN:
        await store.bump_rotation(session, choice.team, choice.rep_id, counts.get(choice.rep_id))
    rep = next(r for r in candidates if r["rep_id"] == choice.rep_id)
    assignment_id = await store.add_assignment(
        session,
        {
            "lead_id": lead_id,
            "rep_id": choice.rep_id,
            "team": choice.team,
            "reason": choice.reason,
            "detail": choice.detail,
            "assigned_at": now,
        },
    )
    terms = SlaTerms.model_validate(row["sla_terms"]) if row["sla_terms"] else None
    due = SlaDue()
    if terms is not None:
        calendar, holidays = rep_calendar(rep)
        timers = plan_timers(terms, assigned_at=now, calendar=calendar, holidays=holidays)
        await store.add_timers(
            session,
            [
                {
                    "lead_id": lead_id,
                    "assignment_id": assignment_id,
                    "kind": t.kind,
                    "due_at": t.due_at.astimezone(UTC),
                }
                for t in timers
            ],
        )
        by_kind = {t.kind: t.due_at for t in timers}
        due = SlaDue(
            first_contact_due_at=by_kind.get("first_contact_breach"),
            first_contact_warn_at=by_kind.get("first_contact_warning"),
            attempts_due_at=by_kind.get("attempts_breach"),
            attempts_min=terms.attempts_min,
        )
    await store.update_lead(
        session,
        lead_id,
        {
            "status": "assigned",
            "rep_id": choice.rep_id,
            "team": choice.team,
            "assigned_at": now,
            "first_attempt_at": None,
            "attempts": 0,
            "updated_at": now,
        },
    )
    await store.add_timeline(
        session,
        lead_id,
        "assigned",
        now,
        rep_id=choice.rep_id,
        detail={
            "team": choice.team,
            "reason": choice.reason,
            "why": choice.detail,
            "previous_rep_id": previous_rep_id,
        },
    )
    await plumbing.outbox.add(
        session,
        LeadAssigned(
            source=SOURCE,
            subject=lead_id,
            traceparent=traceparent,
            data=LeadAssignedData(
                lead_id=lead_id,
                rep_id=choice.rep_id,
                team=choice.team,
                reason=f"{choice.reason}: {choice.detail}",
                assigned_at=now,
                previous_rep_id=previous_rep_id,
                lead=LeadData.model_validate(row["lead"]),
                decision=Decision.model_validate(row["decision"]),
                sla=due,
            ),
        ),
    )
    received = row["received_at"]
    if received.tzinfo is None:
        received = received.replace(tzinfo=UTC)
    if previous_rep_id is None:
        metrics.PIPELINE_LATENCY.observe(max(0.0, (now - received).total_seconds()))
    return choice.rep_id


# --- reps ------------------------------------------------------------------------------


async def put_rep(session: AsyncSession, rep_id: str, rep: RepIn, *, handoff: Handoff) -> None:
    now = handoff.clock.now()
    await store.ensure_team(session, rep.team)
    values = rep.model_dump()
    values["working_hours"] = list(rep.working_hours)
    values["updated_at"] = now
    await store.upsert_rep(session, rep_id, values)


async def seed_reps(session: AsyncSession, document: str, *, handoff: Handoff) -> int:
    """Load the reps seed file: teams with their managers, then reps not yet known."""
    doc = yaml.safe_load(document) or {}
    for team in doc.get("teams", []):
        await store.upsert_team(session, str(team["team"]), team.get("manager"))
    count = 0
    for raw in doc.get("reps", []):
        raw = dict(raw)
        rep_id = str(raw.pop("rep_id"))
        if await store.get_rep(session, rep_id) is not None:
            continue  # changed at run time with PUT /v1/reps: the seed does not undo that
        await put_rep(session, rep_id, RepIn.model_validate(raw), handoff=handoff)
        count += 1
    return count


# --- reads -----------------------------------------------------------------------------


async def lead_view(session: AsyncSession, lead_id: str) -> LeadView:
    row = await store.get_lead(session, lead_id)
    if row is None:
        raise NotFound(f"unknown lead {lead_id}")
    timers = await store.pending_timers(session, lead_id)
    entries = await store.lead_timeline(session, lead_id)
    return LeadView(
        lead_id=lead_id,
        status=row["status"],
        outcome=row["outcome"],
        tier=row["tier"],
        team=row["team"],
        rep_id=row["rep_id"],
        assigned_at=row["assigned_at"],
        first_attempt_at=row["first_attempt_at"],
        attempts=row["attempts"],
        breaches=row["breaches"],
        sla={t["kind"]: t["due_at"] for t in timers},
        lead=row["lead"],
        decision=row["decision"],
        timeline=[TimelineEntry(**e) for e in entries],
    )
