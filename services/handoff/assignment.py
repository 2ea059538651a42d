"""Routing a lead to a rep: take a scored lead, assign it (or queue it), drain queues,
reassign after a breach. Every step runs in the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.handoff import store
from services.handoff.errors import LeadNotFound
from services.handoff.routing import (
    REASON_ROUND_ROBIN,
    Assignment,
    RepView,
    account_domain,
    choose_rep,
    rotation_changes,
)
from services.handoff.service import Handoff, labels, publish, rep_calendar
from services.handoff.service import available as rep_available
from services.handoff.sla import Timer, plan_timers
from shared import metrics
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

# A new qualified score sends these back to sales; a lead sales holds keeps its rep.
REROUTABLE = ("nurture", "disqualified", "recycled")


async def receive_scored(session: AsyncSession, event: Event, *, handoff: Handoff) -> None:
    """Record the decision; assign a qualified lead that has no rep yet."""
    if not isinstance(event, LeadScored):
        raise ValueError(f"handoff does not consume {event.type}")
    data = event.data
    lead, decision = data.lead, data.decision
    now = handoff.now()
    existing = await store.get_lead(session, lead.lead_id, lock=True)
    team = data.route.team or handoff.default_team
    domain = account_domain(lead.email)
    values = {
        "outcome": decision.outcome,
        "tier": decision.tier,
        "lead": lead.model_dump(mode="json"),
        "decision": decision.model_dump(mode="json"),
        "sla_terms": data.sla.model_dump(mode="json") if data.sla else None,
        "source": lead.source,
        "campaign_id": lead.campaign_id,
        "email_domain": domain,
        "route_rule": data.route.rule,
        "account_match": data.route.account_match,
        "updated_at": now,
    }
    scored = {
        "lead_id": lead.lead_id,
        "kind": "scored",
        "at": decision.decided_at,
        "rep_id": None,
        "detail": {
            "outcome": decision.outcome,
            "score": decision.score,
            "tier": decision.tier,
            "contract_version": decision.contract_version,
            "route_rule": data.route.rule,
        },
    }
    status = "queued" if decision.outcome == "qualified" else decision.outcome
    if existing is None:
        received = {
            "lead_id": lead.lead_id,
            "kind": "received",
            "at": lead.received_at,
            "rep_id": None,
            "detail": {"source": lead.source, "channel": lead.channel},
        }
        await store.add_timeline_many(session, [received, scored])
        await store.insert_lead(
            session,
            {
                **values,
                "lead_id": lead.lead_id,
                "status": status,
                "team": team,
                "received_at": lead.received_at,
                "queued_at": None,  # set when no rep can take it
                "attempts": 0,
                "breaches": 0,
            },
        )
    else:
        await store.add_timeline_many(session, [scored])
        await store.update_lead(session, lead.lead_id, values)
        if existing["status"] == "queued" and status != "queued":
            # Still waiting for a rep when it stopped qualifying: it leaves the queue.
            await store.update_lead(session, lead.lead_id, {"status": status, "queued_at": None})
            await observe_queue(session)
            return
        if existing["status"] not in REROUTABLE:
            return  # in sales' hands, or queued: a new score does not re-route it
        await store.update_lead(
            session,
            lead.lead_id,
            {
                "status": status,
                "team": team,
                "breaches": 0,
                "escalated_to_rep_id": None,
                "queued_at": None,
            },
        )
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
        raise LeadNotFound(lead_id)
    now = handoff.now()
    team = row["team"] or handoff.default_team
    owner = await _account_owner(session, row)
    # Lock every team whose reps may get the lead, in name order, so replicas never deadlock
    # and an account owner from another team is not filled past capacity twice at once.
    for locked in sorted({team} | ({owner["team"]} if owner else set())):
        await store.lock_team(session, locked)
    reps = await store.team_reps(session, team)
    if owner is not None and owner["rep_id"] not in {r["rep_id"] for r in reps}:
        reps.append(owner)
    views = await _views(session, reps, now)
    counts = await _settle_rotation(session, team, views)
    choice = choose_rep(
        team=team,
        reps=views,
        assigned_counts=counts,
        account_owner=owner["rep_id"] if owner else None,
        exclude=exclude,
    )
    if choice is None:
        await _queue(session, row, team, now)
        return None
    if choice.reason == REASON_ROUND_ROBIN:
        await store.bump_rotation(session, choice.team, choice.rep_id)
    rep = next(r for r in reps if r["rep_id"] == choice.rep_id)
    await _hand_over(session, row, rep, choice, handoff, previous_rep_id, traceparent)
    return choice.rep_id


async def _account_owner(session: AsyncSession, row: dict[str, Any]) -> dict[str, Any] | None:
    if not row["account_match"] or not row["email_domain"]:
        return None
    owner_id = await store.account_owner(session, row["email_domain"], row["lead_id"])
    return await store.get_rep(session, owner_id) if owner_id else None


async def _views(session: AsyncSession, reps: list[dict[str, Any]], now: datetime) -> list[RepView]:
    open_counts = await store.open_lead_counts(session, [r["rep_id"] for r in reps])
    return [
        RepView(
            rep_id=r["rep_id"],
            team=r["team"],
            weight=r["weight"],
            capacity=r["capacity"],
            open_leads=open_counts.get(r["rep_id"], 0),
            available=rep_available(r, now),
        )
        for r in reps
    ]


async def _settle_rotation(
    session: AsyncSession, team: str, views: list[RepView]
) -> dict[str, int]:
    """Seed the counts of reps who (re)joined the rotation; remember who left it."""
    stored = await store.rotation_of(session, team)
    counts = {rep_id: count for rep_id, (count, _) in stored.items()}
    were_in = {rep_id for rep_id, (_, inside) in stored.items() if inside}
    changes = rotation_changes(team, views, counts, were_in)
    for rep_id, count in changes.joined.items():
        await store.set_rotation(session, team, rep_id, count=count, in_rotation=True)
        counts[rep_id] = count
    for rep_id in changes.left:
        await store.set_rotation(session, team, rep_id, count=None, in_rotation=False)
    return counts


async def _queue(session: AsyncSession, row: dict[str, Any], team: str, now: datetime) -> None:
    if row["status"] == "queued" and row["queued_at"] is not None:
        return  # still waiting where it was: no new timeline entry on every drain
    await store.update_lead(
        session,
        row["lead_id"],
        {"status": "queued", "rep_id": None, "queued_at": now, "updated_at": now},
    )
    await store.add_timeline(
        session,
        row["lead_id"],
        "queued",
        now,
        detail={"team": team, "why": "nobody in the team is available with room"},
    )
    await observe_queue(session)


async def observe_queue(session: AsyncSession) -> None:
    """Set leadrelay_leads_queued_unassigned from the database (the same on every replica)."""
    counts = await store.queued_counts(session)
    for team in {t["team"] for t in await store.list_teams(session)} | set(counts):
        metrics.QUEUED_UNASSIGNED.labels(team).set(counts.get(team, 0))


async def _hand_over(
    session: AsyncSession,
    row: dict[str, Any],
    rep: dict[str, Any],
    choice: Assignment,
    handoff: Handoff,
    previous_rep_id: str | None,
    traceparent: str | None,
) -> None:
    """Store the assignment with its SLA clocks and tell the rep on leads.handoff."""
    lead_id = row["lead_id"]
    now = handoff.now()
    terms = SlaTerms.model_validate(row["sla_terms"]) if row["sla_terms"] else None
    timers: list[Timer] = []
    calendar = None
    if terms is not None:
        calendar, holidays = rep_calendar(rep, now)
        timers = plan_timers(terms, assigned_at=now, calendar=calendar, holidays=holidays)
    due = {t.kind: t.due_at for t in timers}
    assignment_id = await store.add_assignment(
        session,
        {
            "lead_id": lead_id,
            "rep_id": choice.rep_id,
            "team": choice.team,
            "reason": choice.reason,
            "detail": choice.detail[:1000],
            "assigned_at": now,
            "tier": row["tier"],
            "first_contact_due_at": due.get("first_contact_breach"),
            "attempts_due_at": due.get("attempts_breach"),
            "attempts": 0,
        },
    )
    await store.add_timers(
        session,
        [
            {"lead_id": lead_id, "assignment_id": assignment_id, "kind": t.kind, "due_at": t.due_at}
            for t in timers
        ],
    )
    first_assignment = row["assigned_at"] is None
    await store.update_lead(
        session,
        lead_id,
        {
            "status": "assigned",
            "rep_id": choice.rep_id,
            "team": choice.team,
            "assigned_at": now,
            "accepted_at": None,
            "first_attempt_at": None,
            "attempts": 0,
            "escalated_to_rep_id": None,
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
            "first_contact_due_at": _iso(due.get("first_contact_breach")),
        },
    )
    lead = LeadData.model_validate(row["lead"])
    lead = lead.model_copy(update={"touches": tuple(sorted(lead.touches, key=lambda t: t.at))})
    decision = Decision.model_validate(row["decision"])
    sla = SlaDue(
        first_contact_due_at=due.get("first_contact_breach"),
        first_contact_warn_at=due.get("first_contact_warning"),
        attempts_due_at=due.get("attempts_breach"),
        attempts_min=terms.attempts_min if terms else None,
        tier=terms.tier if terms else row["tier"],
        business_hours=terms.business_hours if terms else None,
        time_zone=calendar.tz if calendar else rep["time_zone"],
    )
    event = LeadAssigned(
        source="/leadrelay/handoff",
        subject=lead_id,
        traceparent=traceparent,
        data=LeadAssignedData(
            lead_id=lead_id,
            rep_id=choice.rep_id,
            team=choice.team,
            reason=f"{choice.reason}: {choice.detail}",
            assigned_at=now,
            previous_rep_id=previous_rep_id,
            lead=lead,
            decision=decision,
            sla=sla,
            rep_name=rep["name"],
            brief=brief(lead, decision),
        ),
    )
    await publish(session, event, now=now)
    metrics.ASSIGNMENTS.labels(choice.team, choice.reason).inc()
    if first_assignment:
        metrics.PIPELINE_LATENCY.observe(max(0.0, (now - row["received_at"]).total_seconds()))


def brief(lead: LeadData, decision: Decision) -> str:
    """A few lines a rep reads before calling: who, why they qualified, what they did."""
    who = " ".join(x for x in (lead.first_name, lead.last_name) if x) or lead.email
    role = ", ".join(x for x in (lead.job_title, lead.company, lead.country) if x)
    tier = f" ({decision.tier})" if decision.tier else ""
    lines = [f"{who}{' - ' + role if role else ''}.", f"Score {decision.score:g}{tier}."]
    reasons = [f"{r.rule} {r.points:+g}" for r in decision.fired if r.points]
    if reasons:
        lines.append("Why: " + ", ".join(reasons[:6]) + ".")
    if lead.touches:
        recent = lead.touches[-5:]
        lines.append(
            "Did: "
            + "; ".join(
                f"{t.type} {t.at.date().isoformat()}{' (' + t.detail + ')' if t.detail else ''}"
                for t in recent
            )
            + "."
        )
    return " ".join(lines)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


async def drain_queue(session: AsyncSession, team: str, *, handoff: Handoff) -> int:
    """Assign the team's queued leads, oldest first, while someone can take them."""
    await store.lock_team(session, team)  # team first: two drains never hold each other's leads
    assigned = 0
    for lead_id in await store.queued_leads(session, team, handoff.drain_batch):
        row = await store.get_lead(session, lead_id, lock=True)
        if row is None or row["status"] != "queued":
            continue
        if await assign_lead(session, lead_id, handoff=handoff) is None:
            break
        assigned += 1
    if assigned:
        await observe_queue(session)
    return assigned


async def reassign_lead(
    session: AsyncSession, row: dict[str, Any], *, handoff: Handoff, why: str
) -> str | None:
    """Take the lead from its rep and route it again, never back to that rep."""
    now = handoff.now()
    previous = row["rep_id"]
    await store.end_assignment(session, row["lead_id"], now, why)
    await store.cancel_timers(session, row["lead_id"], now)
    exclude = (previous,) if previous else ()
    new_rep = await assign_lead(
        session, row["lead_id"], handoff=handoff, exclude=exclude, previous_rep_id=previous
    )
    team, tier = labels(row)
    metrics.SLA_ACTIONS.labels(team, tier, "reassign").inc()
    return new_rep
