"""Routing leads in memory, in order, for a whole batch at once.

The transaction loads what routing needs once (`assignment.load_plan`): the leads in play,
a `roster.Roster` of the teams it holds locked (reps, open leads, rotation counts) and
`roster.Accounts` (who holds each company's account). A `Plan` then takes the leads one by
one, exactly as routing them one transaction at a time would, keeping those numbers current
as it goes, and collects every write; `assignment.apply_plan` stores them in a statement
per table. A lead routed on its own (a drain, a reassignment) is a plan of one, so the
decision has one implementation.

No I/O here: everything comes in loaded and goes out as rows and events.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from itertools import pairwise
from typing import Any

from services.handoff.business_hours import Calendar
from services.handoff.roster import Accounts, Roster
from services.handoff.routing import Assignment, account_domain
from services.handoff.service import SOURCE, rep_calendar
from services.handoff.sla import Timer, plan_timers
from shared.events import (
    Decision,
    LeadAssigned,
    LeadAssignedData,
    LeadData,
    LeadScored,
    SlaDue,
    SlaTerms,
    Touch,
)

# A new qualified score sends these back to sales; a lead sales holds keeps its rep.
REROUTABLE = ("nurture", "disqualified", "recycled")
QUEUED_WHY = "nobody in the team is available with room"


class Step(Enum):
    """What a new score does to a lead, by the status the lead is in."""

    NEW = "new"  # handoff has not seen the lead: store it
    DEQUEUE = "dequeue"  # waiting for a rep, no longer qualified: it leaves the queue
    KEEP = "keep"  # in sales' hands, or queued: the score is recorded, the lead stays put
    REROUTE = "reroute"  # back from nurture, disqualified or recycled: route it again


def scored_step(current: str | None, status: str) -> Step:
    """The step for a lead in `current` (None: unknown) given a score that means `status`."""
    if current is None:
        return Step.NEW
    if current == "queued" and status != "queued":
        return Step.DEQUEUE
    if current not in REROUTABLE:
        return Step.KEEP
    return Step.REROUTE


def _routes(step: Step, status: str) -> bool:
    return status == "queued" and step in (Step.NEW, Step.REROUTE)


def _status(event: LeadScored) -> str:
    outcome = event.data.decision.outcome
    return "queued" if outcome == "qualified" else outcome


# --- what to load -----------------------------------------------------------------------


@dataclass(frozen=True)
class Needs:
    """What a plan must load before it runs: the teams leads may be routed in (locked, with
    their reps and rotation), the company domains whose account owner may be asked, and the
    reps holding leads in play that may own one of those accounts."""

    teams: frozenset[str] = frozenset()
    domains: frozenset[str] = frozenset()
    holders: frozenset[str] = frozenset()


def needs_of_lead(row: Mapping[str, Any], default_team: str) -> Needs:
    domain = row["email_domain"] if row["account_match"] else None
    return Needs(
        teams=frozenset({row["team"] or default_team}),
        domains=frozenset({domain} if domain else ()),
    )


def needs_of_scores(
    rows: Mapping[str, Mapping[str, Any]], events: Sequence[LeadScored], default_team: str
) -> Needs:
    """Every team and account the events may route to, whichever way each routing goes.

    Whether a score routes its lead depends on the lead's status, which an earlier routing in
    the same batch may have set either way (assigned or queued); both are followed, so a lead
    scored three times in one batch may lock a team it ends up not needing. Nothing else does.
    """
    statuses: dict[str, set[str | None]] = {}
    domains_of: dict[str, set[str]] = {}
    teams: set[str] = set()
    domains: set[str] = set()
    for lead_id, row in rows.items():
        statuses[lead_id] = {row["status"]}
        domains_of[lead_id] = {row["email_domain"]} if row["email_domain"] else set()
    for event in events:
        lead_id, status = event.data.lead.lead_id, _status(event)
        domain = account_domain(event.data.lead.email)
        if domain:
            domains_of.setdefault(lead_id, set()).add(domain)
        after: set[str | None] = set()
        for current in statuses.get(lead_id, {None}):
            step = scored_step(current, status)
            if _routes(step, status):
                teams.add(event.data.route.team or default_team)
                if domain and event.data.route.account_match:
                    domains.add(domain)
                after |= {"assigned", "queued"}
            else:
                after.add(current if step is Step.KEEP else status)
        statuses[lead_id] = after
    holders = {
        row["rep_id"]
        for lead_id, row in rows.items()
        if row["rep_id"] and domains_of[lead_id] & domains
    }
    return Needs(frozenset(teams), frozenset(domains), frozenset(holders))


# --- the plan -------------------------------------------------------------------------


@dataclass(frozen=True)
class HandOver:
    """One assignment to store: its row, its SLA timers (the assignment id comes when the
    row is inserted), the event for leads.handoff, and what the metrics count."""

    assignment: dict[str, Any]
    timers: list[dict[str, Any]]
    event: LeadAssigned
    latency: float | None  # seconds from received to first assigned; None on a reassignment


class Plan:
    """The leads in play, routed in order; what to write accumulates until `apply_plan`."""

    def __init__(
        self,
        *,
        now: datetime,
        default_team: str,
        leads: Mapping[str, Mapping[str, Any]],
        roster: Roster,
        accounts: Accounts,
    ) -> None:
        self.now = now
        self.default_team = default_team
        self.roster = roster
        self.accounts = accounts
        self.leads = {lead_id: dict(row) for lead_id, row in leads.items()}
        for row in self.leads.values():
            accounts.track(row)
        self.timeline: list[dict[str, Any]] = []
        self.handovers: list[HandOver] = []
        self.queue_changed = False  # a lead joined or left a queue: refresh the gauge
        self._new: dict[str, None] = {}
        self._changed: dict[str, None] = {}
        self._columns: set[str] = set()
        self._timers: dict[tuple[str, str], tuple[SlaTerms, Calendar, list[Timer]]] = {}

    # -- what to write

    def inserted(self) -> list[dict[str, Any]]:
        return [self.leads[lead_id] for lead_id in self._new]

    def updated(self) -> tuple[list[dict[str, Any]], list[str]]:
        """The changed leads that existed before, and every column the plan changed."""
        return [self.leads[lead_id] for lead_id in self._changed], sorted(self._columns)

    # -- use cases

    def score(self, event: LeadScored) -> None:
        """Record the decision; route a qualified lead that has no rep yet."""
        data = event.data
        lead, decision = data.lead, data.decision
        team = data.route.team or self.default_team
        values = {
            "outcome": decision.outcome,
            "tier": decision.tier,
            "lead": lead.model_dump(mode="json"),
            "decision": decision.model_dump(mode="json"),
            "sla_terms": data.sla.model_dump(mode="json") if data.sla else None,
            "source": lead.source,
            "campaign_id": lead.campaign_id,
            "email_domain": account_domain(lead.email),
            "route_rule": data.route.rule,
            "account_match": data.route.account_match,
            "updated_at": self.now,
        }
        scored = self._entry(
            lead.lead_id,
            "scored",
            decision.decided_at,
            detail={
                "outcome": decision.outcome,
                "score": decision.score,
                "tier": decision.tier,
                "contract_version": decision.contract_version,
                "route_rule": data.route.rule,
            },
        )
        status = _status(event)
        row = self.leads.get(lead.lead_id)
        step = scored_step(row["status"] if row is not None else None, status)
        if row is None:
            received = self._entry(
                lead.lead_id,
                "received",
                lead.received_at,
                detail={"source": lead.source, "channel": lead.channel},
            )
            self.timeline += [received, scored]
            self._insert(
                {
                    **values,
                    "lead_id": lead.lead_id,
                    "status": status,
                    "team": team,
                    "received_at": lead.received_at,
                    "queued_at": None,  # set when no rep can take it
                    "attempts": 0,
                    "breaches": 0,
                }
            )
        else:
            self.timeline.append(scored)
            self._update(lead.lead_id, values)
            if step is Step.DEQUEUE:
                self._update(lead.lead_id, {"status": status, "queued_at": None})
                self.queue_changed = True
            elif step is Step.REROUTE:
                self._update(
                    lead.lead_id,
                    {
                        "status": status,
                        "team": team,
                        "breaches": 0,
                        "escalated_to_rep_id": None,
                        "queued_at": None,
                    },
                )
        if _routes(step, status):
            self.route(lead.lead_id, traceparent=event.traceparent)

    def route(
        self,
        lead_id: str,
        *,
        exclude: Collection[str] = (),
        previous_rep_id: str | None = None,
        traceparent: str | None = None,
    ) -> str | None:
        """Route one lead to a rep; leave it queued if nobody in its team can take it now."""
        row = self.leads[lead_id]
        team = row["team"] or self.default_team
        domain = row["email_domain"] if row["account_match"] else None
        owner = self.accounts.owner(domain, lead_id) if domain else None
        choice = self.roster.choose(team, owner, exclude)
        if choice is None:
            self._queue(row, team)
            return None
        self.roster.take(choice)
        self._hand_over(row, choice, previous_rep_id, traceparent)
        return choice.rep_id

    # -- steps

    def _queue(self, row: dict[str, Any], team: str) -> None:
        if row["status"] == "queued" and row["queued_at"] is not None:
            return  # still waiting where it was: no new timeline entry on every drain
        now = self.now
        self._update(
            row["lead_id"],
            {"status": "queued", "rep_id": None, "queued_at": now, "updated_at": now},
        )
        self.timeline.append(
            self._entry(row["lead_id"], "queued", now, detail={"team": team, "why": QUEUED_WHY})
        )
        self.queue_changed = True

    def _hand_over(
        self,
        row: dict[str, Any],
        choice: Assignment,
        previous_rep_id: str | None,
        traceparent: str | None,
    ) -> None:
        """The assignment with its SLA clocks, the lead's new state and the lead.assigned."""
        lead_id, now = row["lead_id"], self.now
        rep = self.roster.reps[choice.rep_id]
        terms: SlaTerms | None = None
        calendar: Calendar | None = None
        due: dict[str, datetime] = {}
        timers: list[dict[str, Any]] = []
        if row["sla_terms"]:
            terms, calendar, planned = self._clocks(rep, row["sla_terms"])
            for t in planned:
                due[t.kind] = t.due_at
                timers.append({"lead_id": lead_id, "kind": t.kind, "due_at": t.due_at})
        assignment = {
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
        }
        first = row["assigned_at"] is None
        latency = max(0.0, (now - row["received_at"]).total_seconds()) if first else None
        self._update(
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
        self.timeline.append(
            self._entry(
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
        )
        lead = LeadData.model_validate(row["lead"])
        if any(a.at > b.at for a, b in pairwise(lead.touches)):
            lead = lead.model_copy(update={"touches": tuple(sorted(lead.touches, key=_at))})
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
                lead=lead,
                decision=decision,
                sla=sla,
                rep_name=rep["name"],
                brief=brief(lead, decision),
            ),
        )
        self.handovers.append(HandOver(assignment, timers, event, latency))

    def _clocks(
        self, rep: dict[str, Any], raw_terms: dict[str, Any]
    ) -> tuple[SlaTerms, Calendar, list[Timer]]:
        """The SLA terms, the rep's calendar and the timers they set at `now`: the same for
        every lead of the plan with these terms and this rep, so worked out once."""
        key = (rep["rep_id"], json.dumps(raw_terms, sort_keys=True))
        cached = self._timers.get(key)
        if cached is None:
            terms = SlaTerms.model_validate(raw_terms)
            calendar, holidays = rep_calendar(rep, self.now)
            timers = plan_timers(terms, assigned_at=self.now, calendar=calendar, holidays=holidays)
            cached = self._timers[key] = (terms, calendar, timers)
        return cached

    def _insert(self, row: dict[str, Any]) -> None:
        # Every column routing may set later, so all new rows share one shape.
        row.update(
            dict.fromkeys(
                ("rep_id", "assigned_at", "accepted_at", "first_attempt_at", "escalated_to_rep_id")
            )
        )
        self.leads[row["lead_id"]] = row
        self._new[row["lead_id"]] = None
        self.accounts.track(row)

    def _update(self, lead_id: str, values: Mapping[str, Any]) -> None:
        row = self.leads[lead_id]
        row.update(values)
        if lead_id not in self._new:
            self._changed[lead_id] = None
            self._columns.update(values)
        self.accounts.track(row)

    @staticmethod
    def _entry(
        lead_id: str,
        kind: str,
        at: datetime,
        *,
        rep_id: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        return {
            "lead_id": lead_id,
            "kind": kind,
            "at": at,
            "rep_id": rep_id,
            "detail": detail or {},
        }


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


def _at(touch: Touch) -> datetime:
    return touch.at


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
