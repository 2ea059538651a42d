"""Routing a lead to a rep: take scored leads, assign them (or queue them), drain queues,
reassign after a breach. Every step runs in the caller's transaction.

The decisions are made in memory by a `planner.Plan`; this module loads what a plan needs
(`load_plan`) and stores what it decided (`apply_plan`), a statement per table whatever the
number of leads, so a consumer batch costs about the same as one lead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.handoff import store
from services.handoff.errors import LeadNotFound
from services.handoff.planner import Needs, Plan, needs_of_lead, needs_of_scores
from services.handoff.roster import Accounts, Roster
from services.handoff.service import Handoff, labels, publish_many
from services.handoff.tables import keyring
from shared import metrics
from shared.events import Event, LeadAssigned, LeadScored
from shared.pii import for_wire, seal_brief


async def receive_scored(session: AsyncSession, event: Event, *, handoff: Handoff) -> None:
    """Record one decision; assign a qualified lead that has no rep yet."""
    await receive_scored_batch(session, [event], handoff=handoff)


async def receive_scored_batch(
    session: AsyncSession, events: Sequence[Event], *, handoff: Handoff
) -> None:
    """Record a batch of decisions and assign the qualified leads that have no rep yet, in
    order, with the outcome routing them one at a time would have.

    The batch reads its leads in one query, locks every team it may route to (and the
    account owners' teams) up front in name order, and loads their reps, open leads and
    rotation once; the writes go out a statement per table."""
    scored: list[LeadScored] = []
    for event in events:
        if not isinstance(event, LeadScored):
            raise ValueError(f"handoff does not consume {event.type}")
        scored.append(event)
    rows = await store.get_leads(session, {e.data.lead.lead_id for e in scored}, lock=True)
    plan = await load_plan(
        session, rows, needs_of_scores(rows, scored, handoff.default_team), handoff=handoff
    )
    for event in scored:
        plan.score(event)
    await apply_plan(session, plan)


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
    needs = needs_of_lead(row, handoff.default_team)
    plan = await load_plan(session, {lead_id: row}, needs, handoff=handoff)
    rep_id = plan.route(
        lead_id, exclude=exclude, previous_rep_id=previous_rep_id, traceparent=traceparent
    )
    await apply_plan(session, plan)
    return rep_id


async def load_plan(
    session: AsyncSession,
    rows: Mapping[str, dict[str, Any]],
    needs: Needs,
    *,
    handoff: Handoff,
) -> Plan:
    """Lock and load what routing the leads in `rows` may need.

    Every team a lead may go to, and every account owner's team, is locked up front in name
    order, so replicas never deadlock and an owner from another team is not filled past
    capacity twice at once. A plan that routes nothing loads nothing."""
    now = handoff.now()
    outside: dict[str, store.Holder] = {}
    looked_up: set[str] = set()
    owner_teams: set[str] = set()
    if needs.domains:
        outside = await store.account_holders(session, needs.domains, exclude=rows.keys())
        looked_up = {h.rep_id for h in outside.values()} | needs.holders
        owner_teams = {h.team for h in outside.values() if h.team is not None}
        owner_teams |= set((await store.rep_teams(session, needs.holders)).values())
    for team in sorted(needs.teams | owner_teams):
        await store.lock_team(session, team)
    roster = Roster.of(
        now,
        teams=needs.teams,
        reps=await store.reps_with_open_leads(session, team_names=needs.teams, rep_ids=looked_up),
        looked_up=looked_up,
        rotation=await store.rotations(session, needs.teams),
    )
    return Plan(
        now=now,
        default_team=handoff.default_team,
        leads=rows,
        roster=roster,
        accounts=Accounts({d: (h.rep_id, h.assigned_at) for d, h in outside.items()}),
    )


async def apply_plan(session: AsyncSession, plan: Plan) -> None:
    """Store what the plan decided, publish its lead.assigned events, count them."""
    await store.insert_leads(session, plan.inserted())
    changed, columns = plan.updated()
    await store.update_leads(session, changed, columns)
    await store.add_timeline_many(session, plan.timeline)
    ids = await store.add_assignments(session, [h.assignment for h in plan.handovers])
    await store.add_timers(
        session,
        [
            {**timer, "assignment_id": ids[timer["lead_id"]]}
            for handover in plan.handovers
            for timer in handover.timers
        ],
    )
    new, stored = plan.roster.rotation_rows()
    await store.save_rotation(session, new=new, changed=stored)
    await publish_many(
        session, await _sealed(session, [h.event for h in plan.handovers]), now=plan.now
    )
    if plan.queue_changed:
        await observe_queue(session)
    for handover in plan.handovers:
        metrics.ASSIGNMENTS.labels(handover.assignment["team"], handover.assignment["reason"]).inc()
        if handover.latency is not None:
            metrics.PIPELINE_LATENCY.observe(handover.latency)


async def _sealed(session: AsyncSession, events: Sequence[LeadAssigned]) -> list[LeadAssigned]:
    """lead.assigned with the rep's brief sealed under the lead's key (one query a batch).
    A lead without a key (erased, or stored before keys existed) goes out anonymous."""
    if not events:
        return []
    keys = await keyring.load(session, {e.data.lead_id for e in events})
    out = []
    for event in events:
        data = seal_brief(event.data, keys.get(event.data.lead_id))
        out.append(
            event.model_copy(update={"data": data.model_copy(update={"lead": for_wire(data.lead)})})
        )
    return out


async def observe_queue(session: AsyncSession) -> None:
    """Set leadrelay_leads_queued_unassigned from the database (the same on every replica)."""
    counts = await store.queued_counts(session)
    for team in {t["team"] for t in await store.list_teams(session)} | set(counts):
        metrics.QUEUED_UNASSIGNED.labels(team).set(counts.get(team, 0))


async def drain_queue(session: AsyncSession, team: str, *, handoff: Handoff) -> int:
    """Assign the team's queued leads, oldest first, while someone can take them.

    Nothing queued (the common case after feedback): no team lock, so feedback does not
    queue behind the consumer's batch that holds it. A lead queued by a transaction not yet
    committed is drained by the scanner's next pass, which drains every team with a queue."""
    if not await store.queued_leads(session, team, 1):
        return 0
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
