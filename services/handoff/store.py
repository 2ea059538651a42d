"""Queries on handoff's tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.handoff.tables import assignments, leads, reps, rotation, sla_timers, teams, timeline


def _postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


# --- reps and teams --------------------------------------------------------------------


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


async def team_manager(session: AsyncSession, team: str) -> str | None:
    row = (
        await session.execute(select(teams.c.manager_rep_id).where(teams.c.team == team))
    ).first()
    return row[0] if row else None


async def upsert_rep(session: AsyncSession, rep_id: str, values: dict[str, Any]) -> None:
    exists = (await session.execute(select(reps.c.rep_id).where(reps.c.rep_id == rep_id))).first()
    if exists:
        await session.execute(update(reps).where(reps.c.rep_id == rep_id).values(**values))
    else:
        await session.execute(reps.insert().values(rep_id=rep_id, **values))


async def get_rep(session: AsyncSession, rep_id: str) -> dict[str, Any] | None:
    row = (await session.execute(select(reps).where(reps.c.rep_id == rep_id))).first()
    return dict(row._mapping) if row else None


async def team_reps(session: AsyncSession, team: str) -> list[dict[str, Any]]:
    rows = await session.execute(select(reps).where(reps.c.team == team).order_by(reps.c.rep_id))
    return [dict(r._mapping) for r in rows]


async def all_reps(session: AsyncSession) -> list[dict[str, Any]]:
    rows = await session.execute(select(reps).order_by(reps.c.rep_id))
    return [dict(r._mapping) for r in rows]


async def open_lead_counts(session: AsyncSession, rep_ids: list[str]) -> dict[str, int]:
    """Open = assigned and not yet contacted (capacity caps these)."""
    if not rep_ids:
        return {}
    rows = await session.execute(
        select(leads.c.rep_id, func.count())
        .where(
            leads.c.rep_id.in_(rep_ids),
            leads.c.status.in_(("assigned", "accepted")),
            leads.c.first_attempt_at.is_(None),
        )
        .group_by(leads.c.rep_id)
    )
    return {r[0]: int(r[1]) for r in rows}


async def lock_team_rotation(session: AsyncSession, team: str) -> dict[str, int]:
    """The team's round-robin counts, with the team row locked until commit (replica-safe)."""
    stmt = select(teams.c.team).where(teams.c.team == team)
    if _postgres(session):
        stmt = stmt.with_for_update()
    await session.execute(stmt)
    rows = await session.execute(
        select(rotation.c.rep_id, rotation.c.assigned).where(rotation.c.team == team)
    )
    return {r[0]: int(r[1]) for r in rows}


async def bump_rotation(session: AsyncSession, team: str, rep_id: str, current: int | None) -> None:
    if current is None:
        await session.execute(rotation.insert().values(team=team, rep_id=rep_id, assigned=1))
    else:
        await session.execute(
            update(rotation)
            .where(rotation.c.team == team, rotation.c.rep_id == rep_id)
            .values(assigned=rotation.c.assigned + 1)
        )


async def set_rotation(session: AsyncSession, team: str, rep_id: str, count: int) -> None:
    row = (
        await session.execute(
            select(rotation.c.assigned).where(rotation.c.team == team, rotation.c.rep_id == rep_id)
        )
    ).first()
    if row is None:
        await session.execute(rotation.insert().values(team=team, rep_id=rep_id, assigned=count))
    else:
        await session.execute(
            update(rotation)
            .where(rotation.c.team == team, rotation.c.rep_id == rep_id)
            .values(assigned=count)
        )


# --- leads -----------------------------------------------------------------------------


async def get_lead(
    session: AsyncSession, lead_id: str, *, lock: bool = False
) -> dict[str, Any] | None:
    stmt = select(leads).where(leads.c.lead_id == lead_id)
    if lock and _postgres(session):
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).first()
    return dict(row._mapping) if row else None


async def insert_lead(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(leads.insert().values(**values))


async def update_lead(session: AsyncSession, lead_id: str, values: dict[str, Any]) -> None:
    await session.execute(update(leads).where(leads.c.lead_id == lead_id).values(**values))


async def account_owner(session: AsyncSession, domain: str, lead_id: str) -> str | None:
    """The rep most recently given a lead from the same company email domain."""
    row = (
        await session.execute(
            select(leads.c.rep_id)
            .where(
                leads.c.email_domain == domain,
                leads.c.rep_id.is_not(None),
                leads.c.lead_id != lead_id,
            )
            .order_by(leads.c.assigned_at.desc())
            .limit(1)
        )
    ).first()
    return row[0] if row else None


async def queued_leads(session: AsyncSession, team: str | None = None) -> list[str]:
    stmt = select(leads.c.lead_id).where(leads.c.status == "queued")
    if team is not None:
        stmt = stmt.where(leads.c.team == team)
    rows = await session.execute(stmt.order_by(leads.c.received_at))
    return [r[0] for r in rows]


# --- assignments, timers, timeline -----------------------------------------------------


async def add_assignment(session: AsyncSession, values: dict[str, Any]) -> int:
    result = await session.execute(assignments.insert().values(**values))
    return int(result.inserted_primary_key[0])  # type: ignore[attr-defined]


async def end_assignments(session: AsyncSession, lead_id: str, at: datetime, reason: str) -> None:
    await session.execute(
        update(assignments)
        .where(assignments.c.lead_id == lead_id, assignments.c.ended_at.is_(None))
        .values(ended_at=at, end_reason=reason)
    )


async def add_timers(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(sla_timers.insert(), rows)


async def cancel_timers(
    session: AsyncSession, lead_id: str, at: datetime, kinds: tuple[str, ...] | None = None
) -> None:
    cond = and_(
        sla_timers.c.lead_id == lead_id,
        sla_timers.c.fired_at.is_(None),
        sla_timers.c.cancelled_at.is_(None),
    )
    if kinds:
        cond = and_(cond, sla_timers.c.kind.in_(kinds))
    await session.execute(update(sla_timers).where(cond).values(cancelled_at=at))


async def pending_timers(session: AsyncSession, lead_id: str) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(sla_timers.c.kind, sla_timers.c.due_at)
        .where(
            sla_timers.c.lead_id == lead_id,
            sla_timers.c.fired_at.is_(None),
            sla_timers.c.cancelled_at.is_(None),
        )
        .order_by(sla_timers.c.due_at)
    )
    return [dict(r._mapping) for r in rows]


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


async def lead_timeline(session: AsyncSession, lead_id: str) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(timeline.c.kind, timeline.c.at, timeline.c.rep_id, timeline.c.detail)
        .where(timeline.c.lead_id == lead_id)
        .order_by(timeline.c.at, timeline.c.id)
    )
    return [dict(r._mapping) for r in rows]
