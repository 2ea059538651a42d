"""Queries on handoff's tables (a repository: the services never write SQL themselves).

Locks: a team row is locked FOR UPDATE while its rotation is read and bumped; due timers and
webhook deliveries are claimed FOR UPDATE SKIP LOCKED, so replicas share the work without
doing any of it twice. SQLite has no row locks: there every writer takes the database lock
up front (BEGIN IMMEDIATE, shared/db.py), which serialises the same sections.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, case, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from services.handoff.tables import (
    assignments,
    attempts,
    leads,
    outcomes,
    reps,
    rotation,
    sla_timers,
    subscriptions,
    teams,
    timeline,
    webhook_attempts,
    webhook_deliveries,
)
from shared.db import among
from shared.events import LeadData
from shared.pii import erase_lead

OPEN_STATUSES = ("assigned", "accepted")


def _postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _for_update(session: AsyncSession, stmt: Select[Any], *, skip_locked: bool = False) -> Any:
    return stmt.with_for_update(skip_locked=skip_locked) if _postgres(session) else stmt


def _row(row: Any) -> dict[str, Any] | None:
    return dict(row._mapping) if row is not None else None


async def lock_for_seeding(session: AsyncSession) -> None:
    """Two replicas starting at once load the seed one after the other (PostgreSQL)."""
    if _postgres(session):
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('leadrelay-seed'))"))


# --- teams -----------------------------------------------------------------------------


async def upsert_team(session: AsyncSession, team: str, manager: str | None) -> None:
    exists = (await session.execute(select(teams.c.team).where(teams.c.team == team))).first()
    if exists:
        await session.execute(
            update(teams).where(teams.c.team == team).values(manager_rep_id=manager)
        )
    else:
        await session.execute(teams.insert().values(team=team, manager_rep_id=manager))


async def ensure_team(session: AsyncSession, team: str) -> None:
    exists = (await session.execute(select(teams.c.team).where(teams.c.team == team))).first()
    if not exists:
        await session.execute(teams.insert().values(team=team, manager_rep_id=None))


async def get_team(session: AsyncSession, team: str) -> dict[str, Any] | None:
    return _row((await session.execute(select(teams).where(teams.c.team == team))).first())


async def list_teams(session: AsyncSession) -> list[dict[str, Any]]:
    rows = await session.execute(select(teams).order_by(teams.c.team))
    return [dict(r._mapping) for r in rows]


async def team_manager(session: AsyncSession, team: str) -> str | None:
    row = (
        await session.execute(select(teams.c.manager_rep_id).where(teams.c.team == team))
    ).first()
    return row[0] if row else None


async def lock_team(session: AsyncSession, team: str) -> None:
    """Hold the team row until commit: one assignment at a time per team, across replicas.

    A team first named by a routing rule gets its row here (without a manager yet)."""
    stmt = _for_update(session, select(teams.c.team).where(teams.c.team == team))
    if (await session.execute(stmt)).first() is None:
        await session.execute(teams.insert().values(team=team, manager_rep_id=None))
        await session.execute(stmt)


# --- reps and the rotation -------------------------------------------------------------


async def upsert_rep(session: AsyncSession, rep_id: str, values: dict[str, Any]) -> bool:
    """Insert or replace a rep; True when the rep is new."""
    exists = (await session.execute(select(reps.c.rep_id).where(reps.c.rep_id == rep_id))).first()
    if exists:
        await session.execute(update(reps).where(reps.c.rep_id == rep_id).values(**values))
        return False
    await session.execute(reps.insert().values(rep_id=rep_id, **values))
    return True


async def get_rep(session: AsyncSession, rep_id: str) -> dict[str, Any] | None:
    return _row((await session.execute(select(reps).where(reps.c.rep_id == rep_id))).first())


async def rep_teams(session: AsyncSession, rep_ids: Collection[str]) -> dict[str, str]:
    """{rep_id: team} for the reps among `rep_ids` that exist."""
    if not rep_ids:
        return {}
    rows = await session.execute(
        select(reps.c.rep_id, reps.c.team).where(among(session, reps.c.rep_id, sorted(rep_ids)))
    )
    return {r[0]: r[1] for r in rows}


async def reps_with_open_leads(
    session: AsyncSession, *, team_names: Collection[str], rep_ids: Collection[str]
) -> list[dict[str, Any]]:
    """The reps of `team_names` and those in `rep_ids`, in rep_id order, each with
    `open_leads`: what capacity caps (see `open_lead_counts`)."""
    if not team_names and not rep_ids:
        return []
    open_leads = (
        select(func.count())
        .where(
            leads.c.rep_id == reps.c.rep_id,
            leads.c.status.in_(OPEN_STATUSES),
            leads.c.first_attempt_at.is_(None),
        )
        .scalar_subquery()
    )
    rows = await session.execute(
        select(reps, open_leads.label("open_leads"))
        .where(
            or_(
                among(session, reps.c.team, sorted(team_names)),
                among(session, reps.c.rep_id, sorted(rep_ids)),
            )
        )
        .order_by(reps.c.rep_id)
    )
    return [dict(r._mapping) for r in rows]


async def all_reps(session: AsyncSession, team: str | None = None) -> list[dict[str, Any]]:
    stmt = select(reps).order_by(reps.c.rep_id)
    if team is not None:
        stmt = stmt.where(reps.c.team == team)
    return [dict(r._mapping) for r in await session.execute(stmt)]


async def open_lead_counts(session: AsyncSession, rep_ids: Collection[str]) -> dict[str, int]:
    """Open = held and not yet contacted: what capacity caps."""
    if not rep_ids:
        return {}
    rows = await session.execute(
        select(leads.c.rep_id, func.count())
        .where(
            among(session, leads.c.rep_id, rep_ids),
            leads.c.status.in_(OPEN_STATUSES),
            leads.c.first_attempt_at.is_(None),
        )
        .group_by(leads.c.rep_id)
    )
    return {r[0]: int(r[1]) for r in rows}


async def rotations(
    session: AsyncSession, team_names: Collection[str]
) -> dict[str, dict[str, tuple[int, bool]]]:
    """Per team, its round-robin counts and who was in the rotation: {rep_id: (count, in)}."""
    out: dict[str, dict[str, tuple[int, bool]]] = {team: {} for team in team_names}
    if not team_names:
        return out
    rows = await session.execute(
        select(
            rotation.c.team, rotation.c.rep_id, rotation.c.assigned, rotation.c.in_rotation
        ).where(among(session, rotation.c.team, sorted(team_names)))
    )
    for r in rows:
        out[r[0]][r[1]] = (int(r[2]), bool(r[3]))
    return out


async def save_rotation(
    session: AsyncSession, *, new: list[dict[str, Any]], changed: list[dict[str, Any]]
) -> None:
    """Store rotation rows (team, rep_id, assigned, in_rotation): insert `new`, update `changed`."""
    if new:
        await session.execute(rotation.insert(), new)
    if changed:
        await session.execute(
            update(rotation)
            .where(
                rotation.c.team == bindparam("b_team"), rotation.c.rep_id == bindparam("b_rep_id")
            )
            .values(assigned=bindparam("b_assigned"), in_rotation=bindparam("b_in_rotation")),
            [{f"b_{k}": v for k, v in row.items()} for row in changed],
        )


async def leave_rotations(session: AsyncSession, rep_id: str) -> None:
    """The rep's standing changed (team, weight, leave): the next assignment reseeds them."""
    await session.execute(
        update(rotation).where(rotation.c.rep_id == rep_id).values(in_rotation=False)
    )


# --- leads -----------------------------------------------------------------------------


async def get_lead(
    session: AsyncSession, lead_id: str, *, lock: bool = False, skip_locked: bool = False
) -> dict[str, Any] | None:
    stmt = select(leads).where(leads.c.lead_id == lead_id)
    if lock:
        stmt = _for_update(session, stmt, skip_locked=skip_locked)
    return _row((await session.execute(stmt)).first())


async def get_leads(
    session: AsyncSession, lead_ids: Collection[str], *, lock: bool = False
) -> dict[str, dict[str, Any]]:
    """The stored leads among `lead_ids`, by id; locked in id order on PostgreSQL if asked."""
    if not lead_ids:
        return {}
    stmt = (
        select(leads)
        .where(among(session, leads.c.lead_id, sorted(lead_ids)))
        .order_by(leads.c.lead_id)
    )
    if lock:
        stmt = _for_update(session, stmt)
    return {r.lead_id: dict(r._mapping) for r in await session.execute(stmt)}


async def insert_leads(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(leads.insert(), _same_keys(rows))


async def update_lead(session: AsyncSession, lead_id: str, values: dict[str, Any]) -> None:
    await session.execute(update(leads).where(leads.c.lead_id == lead_id).values(**values))


async def update_leads(
    session: AsyncSession, rows: Sequence[dict[str, Any]], columns: Collection[str]
) -> None:
    """Write `columns` of each row (one executemany; the rows are locked by the caller)."""
    columns = [c for c in columns if c != "lead_id"]
    if not rows or not columns:
        return
    await session.execute(
        update(leads).where(leads.c.lead_id == bindparam("b_lead_id")),
        [{"b_lead_id": row["lead_id"], **{c: row[c] for c in columns}} for row in rows],
    )


@dataclass(frozen=True)
class Holder:
    """Who holds a company's account: the rep, since when, and their team (None: no such rep)."""

    rep_id: str
    assigned_at: datetime
    team: str | None


async def account_holders(
    session: AsyncSession, domains: Collection[str], *, exclude: Collection[str]
) -> dict[str, Holder]:
    """Per company domain, the rep most recently given one of its leads that they still
    hold; leads in `exclude` aside (the caller follows those itself)."""
    if not domains:
        return {}
    ranked = (
        select(
            leads.c.email_domain,
            leads.c.rep_id,
            leads.c.assigned_at,
            func.row_number()
            .over(partition_by=leads.c.email_domain, order_by=leads.c.assigned_at.desc())
            .label("n"),
        )
        .where(
            among(session, leads.c.email_domain, sorted(domains)),
            leads.c.rep_id.is_not(None),
            among(session, leads.c.lead_id, sorted(exclude), negate=True),
        )
        .subquery()
    )
    rows = await session.execute(
        select(ranked.c.email_domain, ranked.c.rep_id, ranked.c.assigned_at, reps.c.team)
        .select_from(ranked.outerjoin(reps, reps.c.rep_id == ranked.c.rep_id))
        .where(ranked.c.n == 1)
    )
    return {r[0]: Holder(r[1], r[2], r[3]) for r in rows}


def _same_keys(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One executemany needs one shape: a key missing from a row is NULL there."""
    keys = set().union(*rows)
    return [{k: row.get(k) for k in keys} for row in rows]


async def queued_leads(session: AsyncSession, team: str, limit: int) -> list[str]:
    rows = await session.execute(
        select(leads.c.lead_id)
        .where(leads.c.status == "queued", leads.c.team == team)
        .order_by(leads.c.queued_at, leads.c.received_at, leads.c.lead_id)
        .limit(limit)
    )
    return [r[0] for r in rows]


async def queued_counts(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(
        select(leads.c.team, func.count()).where(leads.c.status == "queued").group_by(leads.c.team)
    )
    return {str(r[0]): int(r[1]) for r in rows}


async def awaiting_first_contact(session: AsyncSession, now: datetime) -> list[dict[str, Any]]:
    """Per team and tier: held leads not yet contacted, the oldest, and how many are overdue."""
    overdue = func.sum(case((assignments.c.first_contact_due_at <= now, 1), else_=0))
    rows = await session.execute(
        select(
            leads.c.team,
            leads.c.tier,
            func.count().label("waiting"),
            func.min(leads.c.assigned_at).label("oldest"),
            overdue.label("overdue"),
        )
        .select_from(
            leads.join(
                assignments,
                and_(assignments.c.lead_id == leads.c.lead_id, assignments.c.ended_at.is_(None)),
            )
        )
        .where(leads.c.status.in_(OPEN_STATUSES), leads.c.first_attempt_at.is_(None))
        .group_by(leads.c.team, leads.c.tier)
    )
    return [dict(r._mapping) for r in rows]


# --- assignments -----------------------------------------------------------------------


async def add_assignments(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Insert assignments in one statement; their ids by lead id (a lead has one open
    assignment at most: uq_assignments_open_lead_id).

    Matched by lead id rather than `sort_by_parameter_order`: SQLite has no implicit
    sentinel for that, so SQLAlchemy would fall back to an INSERT per row there."""
    if not rows:
        return {}
    result = await session.execute(
        assignments.insert().returning(assignments.c.id, assignments.c.lead_id),
        _same_keys(rows),
    )
    return {str(r[1]): int(r[0]) for r in result}


async def open_assignment(session: AsyncSession, lead_id: str) -> dict[str, Any] | None:
    stmt = select(assignments).where(
        assignments.c.lead_id == lead_id, assignments.c.ended_at.is_(None)
    )
    return _row((await session.execute(stmt)).first())


async def update_assignment(
    session: AsyncSession, assignment_id: int, values: dict[str, Any]
) -> None:
    await session.execute(
        update(assignments).where(assignments.c.id == assignment_id).values(**values)
    )


async def end_assignment(session: AsyncSession, lead_id: str, at: datetime, reason: str) -> None:
    await session.execute(
        update(assignments)
        .where(assignments.c.lead_id == lead_id, assignments.c.ended_at.is_(None))
        .values(ended_at=at, end_reason=reason)
    )


async def lead_assignments(session: AsyncSession, lead_id: str) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(assignments)
        .where(assignments.c.lead_id == lead_id)
        .order_by(assignments.c.assigned_at, assignments.c.id)
    )
    return [dict(r._mapping) for r in rows]


# --- SLA timers ------------------------------------------------------------------------

_PENDING = and_(sla_timers.c.fired_at.is_(None), sla_timers.c.cancelled_at.is_(None))


async def add_timers(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(sla_timers.insert(), rows)


async def cancel_timers(
    session: AsyncSession, lead_id: str, at: datetime, kinds: Sequence[str] | None = None
) -> None:
    cond = and_(sla_timers.c.lead_id == lead_id, _PENDING)
    if kinds:
        cond = and_(cond, sla_timers.c.kind.in_(kinds))
    await session.execute(update(sla_timers).where(cond).values(cancelled_at=at))


async def pending_timers(session: AsyncSession, lead_id: str) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(sla_timers.c.kind, sla_timers.c.due_at)
        .where(sla_timers.c.lead_id == lead_id, _PENDING)
        .order_by(sla_timers.c.due_at, sla_timers.c.id)
    )
    return [dict(r._mapping) for r in rows]


async def has_pending_timer(
    session: AsyncSession, lead_id: str, kind: str, assignment_id: int
) -> bool:
    row = (
        await session.execute(
            select(sla_timers.c.id).where(
                sla_timers.c.lead_id == lead_id,
                sla_timers.c.kind == kind,
                sla_timers.c.assignment_id == assignment_id,
                _PENDING,
            )
        )
    ).first()
    return row is not None


async def escalated_on(session: AsyncSession, assignment_id: int, kind: str) -> bool:
    """Whether this clock of the assignment already breached and was escalated."""
    row = (
        await session.execute(
            select(sla_timers.c.id).where(
                sla_timers.c.assignment_id == assignment_id,
                sla_timers.c.kind == kind,
                sla_timers.c.action == "escalated",
            )
        )
    ).first()
    return row is not None


async def claim_due_timers(
    session: AsyncSession, now: datetime, limit: int
) -> list[dict[str, Any]]:
    """Due, unfired timers, earliest first; a replica skips the ones another has claimed."""
    stmt = (
        select(sla_timers)
        .where(_PENDING, sla_timers.c.due_at <= now)
        .order_by(sla_timers.c.due_at, sla_timers.c.id)
        .limit(limit)
    )
    rows = await session.execute(_for_update(session, stmt, skip_locked=True))
    return [dict(r._mapping) for r in rows]


async def timer_pending(session: AsyncSession, timer_id: int) -> bool:
    row = (
        await session.execute(select(sla_timers.c.id).where(sla_timers.c.id == timer_id, _PENDING))
    ).first()
    return row is not None


async def mark_timer_fired(session: AsyncSession, timer_id: int, at: datetime, action: str) -> None:
    await session.execute(
        update(sla_timers).where(sla_timers.c.id == timer_id).values(fired_at=at, action=action)
    )


# --- contact attempts and outcomes -----------------------------------------------------


async def get_attempt(
    session: AsyncSession, lead_id: str, attempt_id: str
) -> dict[str, Any] | None:
    stmt = select(attempts).where(
        attempts.c.lead_id == lead_id, attempts.c.attempt_id == attempt_id
    )
    return _row((await session.execute(stmt)).first())


async def insert_attempt(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(attempts.insert().values(**values))


async def get_outcome(session: AsyncSession, lead_id: str) -> dict[str, Any] | None:
    return _row(
        (await session.execute(select(outcomes).where(outcomes.c.lead_id == lead_id))).first()
    )


async def put_outcome(session: AsyncSession, lead_id: str, values: dict[str, Any]) -> None:
    if await get_outcome(session, lead_id) is None:
        await session.execute(outcomes.insert().values(lead_id=lead_id, **values))
    else:
        await session.execute(
            update(outcomes).where(outcomes.c.lead_id == lead_id).values(**values)
        )


# --- timeline --------------------------------------------------------------------------


async def add_timeline(
    session: AsyncSession,
    lead_id: str,
    kind: str,
    at: datetime,
    rep_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    await session.execute(
        timeline.insert().values(
            lead_id=lead_id, kind=kind, at=at, rep_id=rep_id, detail=detail or {}
        )
    )


async def add_timeline_many(session: AsyncSession, entries: list[dict[str, Any]]) -> None:
    """Several entries at once: lead_id, kind, at, rep_id, detail each."""
    if entries:
        await session.execute(timeline.insert(), entries)


async def lead_timeline(session: AsyncSession, lead_id: str) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(timeline.c.kind, timeline.c.at, timeline.c.rep_id, timeline.c.detail)
        .where(timeline.c.lead_id == lead_id)
        .order_by(timeline.c.at, timeline.c.id)
    )
    return [dict(r._mapping) for r in rows]


# --- webhook subscriptions and deliveries ----------------------------------------------


async def insert_subscription(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(subscriptions.insert().values(**values))


async def get_subscription(session: AsyncSession, subscription_id: str) -> dict[str, Any] | None:
    stmt = select(subscriptions).where(subscriptions.c.id == subscription_id)
    return _row((await session.execute(stmt)).first())


async def list_subscriptions(session: AsyncSession) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(subscriptions)
        .where(subscriptions.c.active.is_(True))
        .order_by(subscriptions.c.created_at, subscriptions.c.id)
    )
    return [dict(r._mapping) for r in rows]


async def disable_subscription(session: AsyncSession, subscription_id: str, at: datetime) -> None:
    await session.execute(
        update(subscriptions)
        .where(subscriptions.c.id == subscription_id)
        .values(active=False, disabled_at=at)
    )
    await session.execute(
        update(webhook_deliveries)
        .where(
            webhook_deliveries.c.subscription_id == subscription_id,
            webhook_deliveries.c.status == "pending",
        )
        .values(status="dead", last_error="subscription disabled")
    )


async def add_deliveries(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(webhook_deliveries.insert(), rows)


def _due_deliveries(now: datetime) -> Any:
    d = webhook_deliveries.c
    return and_(
        d.status == "pending",
        or_(d.next_attempt_at.is_(None), d.next_attempt_at <= now),
        or_(d.leased_until.is_(None), d.leased_until <= now),
    )


async def lease_due_deliveries(
    session: AsyncSession, now: datetime, lease_until: datetime, limit: int
) -> list[dict[str, Any]]:
    """Claim due deliveries until `lease_until`; the HTTP calls happen outside any transaction."""
    d = webhook_deliveries.c
    stmt = (
        select(d.id)
        .where(_due_deliveries(now))
        .order_by(func.coalesce(d.next_attempt_at, d.created_at), d.id)
        .limit(limit)
    )
    ids = [r[0] for r in await session.execute(_for_update(session, stmt, skip_locked=True))]
    if not ids:
        return []
    await session.execute(
        update(webhook_deliveries).where(d.id.in_(ids)).values(leased_until=lease_until)
    )
    rows = await session.execute(
        select(
            d.id,
            d.message_id,
            d.payload,
            d.attempts,
            subscriptions.c.url,
            subscriptions.c.secret,
        )
        .select_from(
            webhook_deliveries.join(subscriptions, subscriptions.c.id == d.subscription_id)
        )
        .where(d.id.in_(ids))
        .order_by(d.id)
    )
    return [dict(r._mapping) for r in rows]


async def record_delivery_attempt(
    session: AsyncSession, delivery_id: int, attempt: dict[str, Any], values: dict[str, Any]
) -> None:
    await session.execute(webhook_attempts.insert().values(delivery_id=delivery_id, **attempt))
    await session.execute(
        update(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id).values(**values)
    )


async def list_deliveries(
    session: AsyncSession,
    subscription_id: str,
    *,
    status: str | None,
    limit: int,
    before_id: int | None,
) -> list[dict[str, Any]]:
    d = webhook_deliveries.c
    stmt = select(webhook_deliveries).where(d.subscription_id == subscription_id)
    if status is not None:
        stmt = stmt.where(d.status == status)
    if before_id is not None:
        stmt = stmt.where(d.id < before_id)
    rows = await session.execute(stmt.order_by(d.id.desc()).limit(limit))
    return [dict(r._mapping) for r in rows]


async def delivery_attempts(
    session: AsyncSession, delivery_ids: Collection[int]
) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in delivery_ids}
    if not delivery_ids:
        return out
    rows = await session.execute(
        select(webhook_attempts)
        .where(webhook_attempts.c.delivery_id.in_(delivery_ids))
        .order_by(webhook_attempts.c.delivery_id, webhook_attempts.c.number)
    )
    for r in rows:
        out[int(r.delivery_id)].append(dict(r._mapping))
    return out


async def get_delivery(
    session: AsyncSession, subscription_id: str, delivery_id: int
) -> dict[str, Any] | None:
    d = webhook_deliveries.c
    stmt = select(webhook_deliveries).where(
        d.id == delivery_id, d.subscription_id == subscription_id
    )
    return _row((await session.execute(stmt)).first())


async def retry_delivery(session: AsyncSession, delivery_id: int) -> None:
    await session.execute(
        update(webhook_deliveries)
        .where(webhook_deliveries.c.id == delivery_id)
        .values(status="pending", next_attempt_at=None, leased_until=None)
    )


async def webhook_backlog(session: AsyncSession) -> int:
    d = webhook_deliveries.c
    stmt = select(func.count()).select_from(webhook_deliveries).where(d.status == "pending")
    return int((await session.execute(stmt)).scalar_one())


# --- erasure -----------------------------------------------------------------------------

PERSONAL_DETAIL_KEYS = frozenset({"note", "brief", "email", "first_name", "last_name", "phone"})
"""Timeline detail keys that may hold personal data (sales' free-text notes above all)."""


async def erase_leads(session: AsyncSession, lead_ids: Collection[str], at: datetime) -> None:
    """Blank the personal data handoff holds on these leads: the lead snapshot, sales'
    notes, timeline details, webhook payloads (undelivered ones are dropped); pending SLA
    clocks stop. Statuses, times, teams, reps, tiers, outcomes and amounts stay."""
    ids = list(lead_ids)
    if not ids:
        return
    found = await session.execute(
        select(leads.c.lead_id, leads.c.lead).where(leads.c.lead_id.in_(ids))
    )
    snapshots = [
        {
            "b_lead_id": lead_id,
            "b_lead": erase_lead(LeadData.model_validate(lead)).model_dump(mode="json"),
            "b_at": at,
        }
        for lead_id, lead in found
    ]
    if snapshots:
        await session.execute(
            update(leads)
            .where(leads.c.lead_id == bindparam("b_lead_id"))
            .values(lead=bindparam("b_lead"), updated_at=bindparam("b_at"))
            .execution_options(synchronize_session=False),
            snapshots,
        )
    await session.execute(
        update(assignments).where(assignments.c.lead_id.in_(ids)).values(reject_note=None)
    )
    await session.execute(update(attempts).where(attempts.c.lead_id.in_(ids)).values(note=None))
    await session.execute(update(outcomes).where(outcomes.c.lead_id.in_(ids)).values(note=None))
    entries = await session.execute(
        select(timeline.c.id, timeline.c.detail).where(timeline.c.lead_id.in_(ids))
    )
    cleaned = [
        {
            "b_id": entry_id,
            "b_detail": {k: v for k, v in detail.items() if k not in PERSONAL_DETAIL_KEYS},
        }
        for entry_id, detail in entries
        if isinstance(detail, dict) and PERSONAL_DETAIL_KEYS & detail.keys()
    ]
    if cleaned:
        await session.execute(
            update(timeline)
            .where(timeline.c.id == bindparam("b_id"))
            .values(detail=bindparam("b_detail"))
            .execution_options(synchronize_session=False),
            cleaned,
        )
    deliveries = webhook_deliveries.c
    await session.execute(
        update(webhook_deliveries)
        .where(deliveries.lead_id.in_(ids), deliveries.status == "pending")
        .values(status="dead", next_attempt_at=None, leased_until=None, last_error="lead erased")
    )
    await session.execute(
        update(webhook_deliveries).where(deliveries.lead_id.in_(ids)).values(payload=b"")
    )
    await session.execute(
        update(sla_timers).where(sla_timers.c.lead_id.in_(ids), _PENDING).values(cancelled_at=at)
    )
