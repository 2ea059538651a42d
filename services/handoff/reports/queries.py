"""The reports' SQL (a repository): aggregated where the answer is a count or a sum, rows
where Python computes percentiles or SLA clocks. The same statements run on SQLite and
PostgreSQL; nothing here truncates dates in SQL (time zones differ per backend).

A report's leads are a cohort: received by handoff in the period, narrowed by the filters.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from services.handoff.reports.scope import SALES_SOURCE, Filters, Period, Scope
from services.handoff.tables import (
    assignments,
    attempts,
    campaigns,
    leads,
    outcomes,
    reps,
)

# "Under development": open leads in sales' hands (assigned, accepted, contacted or an open
# opportunity); not queued, and not won, lost, rejected or recycled.
UNDER_DEVELOPMENT = ("assigned", "accepted", "opportunity")

_a, _o, _t = assignments.c, outcomes.c, attempts.c

# --- how far a lead got: each step counts the leads that reached it or any later step ---

WON = _o.stage == "won"
OPPORTUNITY = or_(WON, _o.opportunity_at.is_not(None), _o.stage == "opportunity")
CONTACTED = or_(OPPORTUNITY, exists().where(_t.lead_id == leads.c.lead_id))
ACCEPTED = or_(
    CONTACTED, exists().where(_a.lead_id == leads.c.lead_id, _a.accepted_at.is_not(None))
)
ASSIGNED = or_(ACCEPTED, exists().where(_a.lead_id == leads.c.lead_id))
QUALIFIED = or_(ASSIGNED, leads.c.outcome == "qualified")
STEPS: dict[str, ColumnElement[bool]] = {
    "qualified": QUALIFIED,
    "assigned": ASSIGNED,
    "accepted": ACCEPTED,
    "contacted": CONTACTED,
    "opportunity": OPPORTUNITY,
    "won": WON,
}
SIDE = case((leads.c.source == SALES_SOURCE, "sales"), else_="marketing")
PIPELINE_AMOUNT = func.coalesce(_o.opportunity_amount, _o.amount)

_WITH_OUTCOME = leads.outerjoin(outcomes, outcomes.c.lead_id == leads.c.lead_id)


def _filtered(filters: Filters) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    if filters.source is not None:
        conds.append(leads.c.source == filters.source)
    if filters.campaign is not None:
        conds.append(leads.c.campaign_id == filters.campaign)
    if filters.team is not None:
        conds.append(leads.c.team == filters.team)
    return conds


def _received_in(period: Period) -> list[ColumnElement[bool]]:
    return [leads.c.received_at >= period.start, leads.c.received_at < period.end]


def cohort(scope: Scope) -> ColumnElement[bool]:
    return and_(*_received_in(scope.period), *_filtered(scope.filters))


def _count_if(cond: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)


# --- funnel, quota, review -------------------------------------------------------------


async def funnel_counts(session: AsyncSession, scope: Scope) -> dict[str, int]:
    """Leads received, and how many reached each later step, in one aggregate."""
    stmt = (
        select(
            func.count().label("received"),
            *(_count_if(cond).label(step) for step, cond in STEPS.items()),
        )
        .select_from(_WITH_OUTCOME)
        .where(cohort(scope))
    )
    row = (await session.execute(stmt)).one()
    return {k: int(v or 0) for k, v in row._mapping.items()}


async def qualified_marketing_received(session: AsyncSession, scope: Scope) -> list[datetime]:
    """When each qualified, marketing-sourced lead of the cohort arrived (for the quota)."""
    stmt = (
        select(leads.c.received_at)
        .select_from(_WITH_OUTCOME)
        .where(cohort(scope), QUALIFIED, leads.c.source != SALES_SOURCE)
    )
    return [r[0] for r in await session.execute(stmt)]


async def under_development(session: AsyncSession, filters: Filters) -> int:
    """Open leads in sales' hands right now, whenever they arrived."""
    stmt = (
        select(func.count())
        .select_from(leads)
        .where(leads.c.status.in_(UNDER_DEVELOPMENT), *_filtered(filters))
    )
    return int((await session.execute(stmt)).scalar_one())


async def decision_versions(session: AsyncSession, scope: Scope) -> dict[str, int]:
    """Contract versions that made the cohort's decisions, with how many each."""
    version = leads.c.decision["contract_version"].as_string()
    stmt = select(version, func.count()).where(cohort(scope)).group_by(version)
    return {str(r[0]): int(r[1]) for r in await session.execute(stmt) if r[0] is not None}


# --- contribution ----------------------------------------------------------------------


async def outcome_sums(session: AsyncSession, scope: Scope) -> list[dict[str, Any]]:
    """Per side (marketing, sales) and currency: opportunities, pipeline, wins, revenue."""
    stmt = (
        select(
            SIDE.label("side"),
            _o.currency.label("currency"),
            _count_if(OPPORTUNITY).label("opportunities"),
            func.coalesce(func.sum(case((OPPORTUNITY, PIPELINE_AMOUNT), else_=0)), 0).label(
                "pipeline"
            ),
            _count_if(WON).label("won"),
            func.coalesce(func.sum(case((WON, _o.amount), else_=0)), 0).label("revenue"),
        )
        .select_from(leads.join(outcomes, outcomes.c.lead_id == leads.c.lead_id))
        .where(cohort(scope))
        .group_by(SIDE, _o.currency)
    )
    return [dict(r._mapping) for r in await session.execute(stmt)]


async def handed_over(session: AsyncSession, scope: Scope) -> dict[str, int]:
    """Leads of the cohort that reached a rep, per side."""
    stmt = (
        select(SIDE.label("side"), func.count())
        .select_from(_WITH_OUTCOME)
        .where(cohort(scope), ASSIGNED)
        .group_by(SIDE)
    )
    return {str(r[0]): int(r[1]) for r in await session.execute(stmt)}


# --- SLA -------------------------------------------------------------------------------


async def sla_assignments(session: AsyncSession, scope: Scope) -> list[dict[str, Any]]:
    """Every assignment of the cohort's leads, with what stops its clocks."""
    stmt = (
        select(
            _a.id,
            _a.lead_id,
            _a.rep_id,
            _a.team,
            _a.assigned_at,
            _a.first_contact_due_at,
            _a.attempts_due_at,
            _a.first_attempt_at,
            _a.attempts,
            _a.ended_at,
            leads.c.sla_terms,
            reps.c.name.label("rep_name"),
            _o.opportunity_at,
            _o.closed_at,
        )
        .select_from(
            assignments.join(leads, leads.c.lead_id == _a.lead_id)
            .outerjoin(outcomes, outcomes.c.lead_id == _a.lead_id)
            .outerjoin(reps, reps.c.rep_id == _a.rep_id)
        )
        .where(cohort(scope))
        .order_by(_a.lead_id, _a.assigned_at, _a.id)
    )
    return [dict(r._mapping) for r in await session.execute(stmt)]


async def attempts_by_due(session: AsyncSession, scope: Scope) -> dict[int, int]:
    """Per assignment: the attempts made by its attempts clock's due time."""
    stmt = (
        select(_a.id, func.count())
        .select_from(
            attempts.join(assignments, _a.id == _t.assignment_id).join(
                leads, leads.c.lead_id == _a.lead_id
            )
        )
        .where(cohort(scope), _a.attempts_due_at.is_not(None), _t.at <= _a.attempts_due_at)
        .group_by(_a.id)
    )
    return {int(r[0]): int(r[1]) for r in await session.execute(stmt)}


async def lead_attempts(session: AsyncSession, scope: Scope) -> dict[str, tuple[int, datetime]]:
    """Per contacted lead: how many attempts, and the first one's time."""
    stmt = (
        select(_t.lead_id, func.count(), func.min(_t.at))
        .select_from(attempts.join(leads, leads.c.lead_id == _t.lead_id))
        .where(cohort(scope))
        .group_by(_t.lead_id)
    )
    rows = await session.execute(stmt)
    return {str(r[0]): (int(r[1]), _aware(r[2])) for r in rows}


def _aware(value: Any) -> datetime:
    """min() over a datetime column comes back naive (or as text) on SQLite: make it UTC."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(moment, datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__}")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# --- reject reasons --------------------------------------------------------------------


async def rejections(session: AsyncSession, scope: Scope) -> list[dict[str, Any]]:
    """Rejections of the cohort's leads, counted per reason, campaign and source."""
    stmt = (
        select(
            _a.reject_reason.label("reason"),
            leads.c.campaign_id,
            leads.c.source,
            func.count().label("count"),
        )
        .select_from(assignments.join(leads, leads.c.lead_id == _a.lead_id))
        .where(cohort(scope), _a.rejected_at.is_not(None))
        .group_by(_a.reject_reason, leads.c.campaign_id, leads.c.source)
    )
    return [dict(r._mapping) for r in await session.execute(stmt)]


# --- campaigns -------------------------------------------------------------------------


async def campaign_counts(
    session: AsyncSession, period: Period, campaign: str | None
) -> dict[str, tuple[int, int]]:
    """Per campaign: leads received in the period, and how many qualified."""
    conds = [*_received_in(period), leads.c.campaign_id.is_not(None)]
    if campaign is not None:
        conds.append(leads.c.campaign_id == campaign)
    stmt = (
        select(leads.c.campaign_id, func.count(), _count_if(QUALIFIED))
        .select_from(_WITH_OUTCOME)
        .where(*conds)
        .group_by(leads.c.campaign_id)
    )
    return {str(r[0]): (int(r[1]), int(r[2])) for r in await session.execute(stmt)}


async def campaigns_overlapping(
    session: AsyncSession, period: Period, campaign: str | None
) -> list[dict[str, Any]]:
    conds = [campaigns.c.period_start <= period.last, campaigns.c.period_end >= period.first]
    if campaign is not None:
        conds.append(campaigns.c.campaign_id == campaign)
    stmt = select(campaigns).where(*conds).order_by(campaigns.c.campaign_id)
    return [dict(r._mapping) for r in await session.execute(stmt)]


async def get_campaign(session: AsyncSession, campaign_id: str) -> dict[str, Any] | None:
    row = (
        await session.execute(select(campaigns).where(campaigns.c.campaign_id == campaign_id))
    ).first()
    return dict(row._mapping) if row is not None else None


async def list_campaigns(session: AsyncSession) -> list[dict[str, Any]]:
    rows = await session.execute(select(campaigns).order_by(campaigns.c.campaign_id))
    return [dict(r._mapping) for r in rows]


async def put_campaign(session: AsyncSession, campaign_id: str, values: dict[str, Any]) -> bool:
    """Insert or replace a campaign's cost; True when it is new."""
    result = await session.execute(
        update(campaigns).where(campaigns.c.campaign_id == campaign_id).values(**values)
    )
    if result.rowcount:  # type: ignore[attr-defined]
        return False
    await session.execute(campaigns.insert().values(campaign_id=campaign_id, **values))
    return True
