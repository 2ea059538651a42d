"""One function per report: gather the rows (queries), compute the figures (figures), answer
the model (schemas). Read-only; callers pass a read session."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.handoff.reports import figures, queries
from services.handoff.reports.figures import ClockState, ratio
from services.handoff.reports.schemas import (
    AttemptsFigures,
    Breaches,
    Bucket,
    CampaignCost,
    Clocks,
    CloseRate,
    CloseRates,
    ContractRef,
    ContributionReport,
    CostReport,
    CostTotal,
    FiltersOut,
    FunnelReport,
    FunnelStep,
    OtherCurrency,
    PeriodOut,
    QuotaDay,
    QuotaReport,
    ReasonCount,
    ReasonsBy,
    RejectReasonsReport,
    RepSla,
    ReviewReport,
    SlaGroup,
    SlaReport,
    Split,
    TeamSla,
    TimeToFirstContact,
)
from services.handoff.reports.scope import Scope, month_of
from services.handoff.reports.terms import QuotaTerms


@dataclass(frozen=True)
class Context:
    """What a report needs besides the database: the time, the currency, the contract terms."""

    now: datetime
    currency: str
    terms: QuotaTerms


def _base(scope: Scope, ctx: Context) -> dict[str, Any]:
    p, f = scope.period, scope.filters
    return {
        "period": PeriodOut.model_validate({"from": p.first, "to": p.last, "month": p.month}),
        "filters": FiltersOut(source=f.source, campaign=f.campaign, team=f.team),
        "generated_at": ctx.now,
    }


async def _contract(session: AsyncSession, scope: Scope, ctx: Context) -> ContractRef:
    return ContractRef(
        contract_version=ctx.terms.contract_version,
        source=ctx.terms.source,
        problem=ctx.terms.problem,
        decision_versions=await queries.decision_versions(session, scope),
    )


# --- funnel ----------------------------------------------------------------------------


async def funnel(session: AsyncSession, scope: Scope, ctx: Context) -> FunnelReport:
    """received -> qualified -> assigned -> accepted -> contacted -> opportunity -> won."""
    counts = await queries.funnel_counts(session, scope)
    steps = []
    previous: int | None = None
    for step in figures.FUNNEL_STEPS:
        n = counts[step]
        steps.append(
            FunnelStep(
                step=step,
                count=n,
                conversion=None if previous is None else ratio(n, previous),
                of_received=ratio(n, counts["received"]),
            )
        )
        previous = n
    return FunnelReport(**_base(scope, ctx), steps=steps)


# --- SLA -------------------------------------------------------------------------------


@dataclass
class _Tally:
    """Clocks and speeds of a group of assignments (a team, a rep, everyone)."""

    first_contact: dict[ClockState, int] = field(default_factory=lambda: defaultdict(int))
    attempts_clock: dict[ClockState, int] = field(default_factory=lambda: defaultdict(int))
    seconds: list[float] = field(default_factory=list)
    attempts: int = 0

    def clocks(self, states: dict[ClockState, int]) -> Clocks:
        met, missed = states["met"], states["missed"]
        return Clocks(
            clocks=sum(states.values()),
            met=met,
            missed=missed,
            open=states["open"],
            stopped=states["stopped"],
            within_sla_share=ratio(met, met + missed),
        )

    def breaches(self) -> Breaches:
        fc, at = self.first_contact["missed"], self.attempts_clock["missed"]
        return Breaches(first_contact=fc, attempts=at, total=fc + at)

    def group(self) -> dict[str, Any]:
        return SlaGroup(
            first_contact=self.clocks(self.first_contact),
            p50_seconds=figures.percentile(self.seconds, 50),
            p90_seconds=figures.percentile(self.seconds, 90),
            attempts=self.attempts,
            breaches=self.breaches(),
        ).model_dump()


def _tally_assignment(
    row: dict[str, Any], by_due: dict[int, int], now: datetime, tallies: list[_Tally]
) -> None:
    stop = figures.clock_stop(
        row["assigned_at"], row["ended_at"], (row["opportunity_at"], row["closed_at"]), now
    )
    terms = row["sla_terms"] or {}
    fc: ClockState | None = None
    if row["first_contact_due_at"] is not None:
        fc = figures.first_contact_state(
            row["first_contact_due_at"], row["first_attempt_at"], stop, now
        )
    at: ClockState | None = None
    if row["attempts_due_at"] is not None and terms.get("attempts_min"):
        at = figures.attempts_state(
            row["attempts_due_at"], by_due.get(row["id"], 0), int(terms["attempts_min"]), stop, now
        )
    for tally in tallies:
        if fc is not None:
            tally.first_contact[fc] += 1
        if at is not None:
            tally.attempts_clock[at] += 1
        if row["first_attempt_at"] is not None:
            tally.seconds.append((row["first_attempt_at"] - row["assigned_at"]).total_seconds())
        tally.attempts += int(row["attempts"] or 0)


async def sla(session: AsyncSession, scope: Scope, ctx: Context) -> SlaReport:
    """Time to first contact, first-contact and attempts clocks, breaches by team and rep."""
    rows = await queries.sla_assignments(session, scope)
    by_due = await queries.attempts_by_due(session, scope)
    per_lead = await queries.lead_attempts(session, scope)
    everyone = _Tally()
    teams: dict[str, _Tally] = defaultdict(_Tally)
    reps: dict[tuple[str, str], _Tally] = defaultdict(_Tally)
    names: dict[str, str | None] = {}
    first_assigned: dict[str, datetime] = {}
    for row in rows:
        first_assigned.setdefault(row["lead_id"], row["assigned_at"])
        names[row["rep_id"]] = row["rep_name"]
        tallies = [everyone, teams[row["team"]], reps[(row["team"], row["rep_id"])]]
        _tally_assignment(row, by_due, ctx.now, tallies)
    waited = [
        (per_lead[lead][1] - first).total_seconds()
        for lead, first in first_assigned.items()
        if lead in per_lead
    ]
    attempts = sum(per_lead[lead][0] for lead in first_assigned if lead in per_lead)
    return SlaReport(
        **_base(scope, ctx),
        time_to_first_contact=TimeToFirstContact(
            leads_contacted=len(waited),
            leads_not_contacted=len(first_assigned) - len(waited),
            p50_seconds=figures.percentile(waited, 50),
            p90_seconds=figures.percentile(waited, 90),
            mean_seconds=round(sum(waited) / len(waited), 3) if waited else None,
            histogram=[Bucket(**vars(b)) for b in figures.histogram(waited)],
        ),
        first_contact=everyone.clocks(everyone.first_contact),
        attempts=AttemptsFigures(
            leads=len(first_assigned),
            attempts=attempts,
            per_lead=round(attempts / len(first_assigned), 2) if first_assigned else None,
            per_contacted_lead=round(attempts / len(waited), 2) if waited else None,
            clock=everyone.clocks(everyone.attempts_clock),
        ),
        breaches=everyone.breaches(),
        by_team=[TeamSla(team=t, **teams[t].group()) for t in sorted(teams)],
        by_rep=[
            RepSla(rep_id=rep, name=names.get(rep), team=team, **reps[(team, rep)].group())
            for team, rep in sorted(reps)
        ],
    )


# --- contribution ----------------------------------------------------------------------


def _split(marketing: float, sales: float, agreed: float | None) -> Split:
    share = ratio(marketing, marketing + sales)
    gap = round(share - agreed, 4) if share is not None and agreed is not None else None
    return Split(
        marketing=figures.money(marketing),
        sales=figures.money(sales),
        marketing_share=share,
        agreed_share=agreed,
        gap=gap,
        met=None if gap is None else gap >= 0,
    )


@dataclass
class _Sums:
    opportunities: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    won: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    pipeline: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    revenue: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    other: dict[str, dict[str, float]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(float))
    )


async def _sums(session: AsyncSession, scope: Scope, currency: str) -> _Sums:
    sums = _Sums()
    for row in await queries.outcome_sums(session, scope):
        side = row["side"]
        sums.opportunities[side] += int(row["opportunities"])
        sums.won[side] += int(row["won"])
        if row["currency"] in (currency, None):
            sums.pipeline[side] += float(row["pipeline"] or 0)
            sums.revenue[side] += float(row["revenue"] or 0)
        else:
            other = sums.other[row["currency"]]
            other[f"pipeline_{side}"] += float(row["pipeline"] or 0)
            other[f"revenue_{side}"] += float(row["revenue"] or 0)
    return sums


async def contribution(session: AsyncSession, scope: Scope, ctx: Context) -> ContributionReport:
    """Marketing- vs sales-sourced opportunities, pipeline and revenue against the contract."""
    sums = await _sums(session, scope, ctx.currency)
    handed = await queries.handed_over(session, scope)
    terms = ctx.terms
    return ContributionReport(
        **_base(scope, ctx),
        currency=ctx.currency,
        contract=await _contract(session, scope, ctx),
        opportunities=_split(
            sums.opportunities["marketing"], sums.opportunities["sales"], terms.pipeline_share
        ),
        pipeline=_split(sums.pipeline["marketing"], sums.pipeline["sales"], terms.pipeline_share),
        revenue=_split(sums.revenue["marketing"], sums.revenue["sales"], terms.revenue_share),
        close_rate=CloseRates(
            **{
                side: CloseRate(
                    handed_over=handed.get(side, 0),
                    won=sums.won[side],
                    rate=ratio(sums.won[side], handed.get(side, 0)),
                )
                for side in ("marketing", "sales")
            }
        ),
        other_currencies=[
            OtherCurrency(
                currency=cur,
                **{k: figures.money(values[k]) for k in OtherCurrency.AMOUNTS},
            )
            for cur, values in sorted(sums.other.items())
        ],
    )


# --- quota -----------------------------------------------------------------------------


async def quota(session: AsyncSession, scope: Scope, ctx: Context) -> QuotaReport:
    """Marketing-sourced qualified leads this month against the monthly quota, projected."""
    received = await queries.qualified_marketing_received(session, scope)
    period = scope.period
    qualified = len(received)
    target = ctx.terms.qualified_per_month
    elapsed = figures.elapsed_share(period.start, period.end, ctx.now)
    projected = figures.projection(qualified, elapsed)
    daily = figures.daily_series([r.date() for r in received], period.first, period.last)
    return QuotaReport(
        **_base(scope, ctx),
        contract=await _contract(session, scope, ctx),
        qualified=qualified,
        quota=target,
        share_of_quota=ratio(qualified, target or 0),
        elapsed_share=round(elapsed, 4),
        projected=projected,
        projected_share_of_quota=ratio(projected, target or 0) if projected is not None else None,
        on_track=None if projected is None or not target else projected >= target,
        daily=[QuotaDay(date=d, qualified=n, cumulative=c) for d, n, c in daily],
    )


# --- reject reasons --------------------------------------------------------------------


def _by(rows: list[dict[str, Any]], key: str) -> list[ReasonsBy]:
    groups: dict[str | None, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in rows:
        groups[r[key]][r["reason"]] += int(r["count"])
    out = [
        ReasonsBy(key=k, total=sum(v.values()), reasons=dict(sorted(v.items())))
        for k, v in groups.items()
    ]
    return sorted(out, key=lambda g: (-g.total, g.key or ""))


async def reject_reasons(session: AsyncSession, scope: Scope, ctx: Context) -> RejectReasonsReport:
    """Why reps turned leads down, overall, by campaign and by source."""
    rows = await queries.rejections(session, scope)
    totals: dict[str, int] = defaultdict(int)
    for r in rows:
        totals[r["reason"]] += int(r["count"])
    total = sum(totals.values())
    return RejectReasonsReport(
        **_base(scope, ctx),
        total=total,
        reasons=[
            ReasonCount(reason=k, count=v, share=ratio(v, total))
            for k, v in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        by_campaign=_by(rows, "campaign_id"),
        by_source=_by(rows, "source"),
    )


# --- cost per qualified lead -----------------------------------------------------------


async def cost_per_qualified_lead(session: AsyncSession, scope: Scope, ctx: Context) -> CostReport:
    """Each campaign's cost in the period over the qualified leads it brought in the period."""
    period, campaign = scope.period, scope.filters.campaign
    counts = await queries.campaign_counts(session, period, campaign)
    costs = {
        c["campaign_id"]: c for c in await queries.campaigns_overlapping(session, period, campaign)
    }
    rows = []
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    for cid in sorted(set(counts) | set(costs)):
        leads, qualified = counts.get(cid, (0, 0))
        row = costs.get(cid)
        cost = None
        if row is not None:
            span = (row["period_start"], row["period_end"])
            cost = figures.prorated_cost(float(row["cost"]), span, period.days)
            totals[row["currency"]][0] += cost
            totals[row["currency"]][1] += qualified
        rows.append(
            CampaignCost(
                campaign_id=cid,
                name=row["name"] if row else None,
                leads=leads,
                qualified=qualified,
                cost=cost,
                currency=row["currency"] if row else None,
                cost_per_lead=figures.money(cost / leads) if cost is not None and leads else None,
                cost_per_qualified_lead=(
                    figures.money(cost / qualified) if cost is not None and qualified else None
                ),
            )
        )
    return CostReport(
        **_base(scope, ctx),
        campaigns=rows,
        totals=[
            CostTotal(
                currency=cur,
                cost=figures.money(cost),
                qualified=int(q),
                cost_per_qualified_lead=figures.money(cost / q) if q else None,
            )
            for cur, (cost, q) in sorted(totals.items())
        ],
    )


# --- business review -------------------------------------------------------------------


async def business_review(session: AsyncSession, scope: Scope, ctx: Context) -> ReviewReport:
    """The month in figures and in sentences; the same figures as the other reports."""
    counts = await queries.funnel_counts(session, scope)
    sums = await _sums(session, scope, ctx.currency)
    qualified = len(await queries.qualified_marketing_received(session, scope))
    developing = await queries.under_development(session, scope.filters)
    clocks = (await sla(session, scope, ctx)).first_contact
    period = scope.period
    elapsed = figures.elapsed_share(period.start, period.end, ctx.now)
    pipeline = sums.pipeline["marketing"] + sums.pipeline["sales"]
    revenue = sums.revenue["marketing"] + sums.revenue["sales"]
    month = period.month or month_of(period.start)
    when = "this month" if month == month_of(ctx.now) else f"in {period.start:%B %Y}"
    review = figures.ReviewFigures(
        when=when,
        new_leads=counts["received"],
        under_development=developing,
        opportunities=counts["opportunity"],
        pipeline=pipeline,
        won=counts["won"],
        revenue=revenue,
        currency=ctx.currency,
        qualified=qualified,
        quota=ctx.terms.qualified_per_month,
        projected=figures.projection(qualified, elapsed),
        pipeline_share=ratio(sums.pipeline["marketing"], pipeline),
        agreed_pipeline_share=ctx.terms.pipeline_share,
        revenue_share=ratio(sums.revenue["marketing"], revenue),
        agreed_revenue_share=ctx.terms.revenue_share,
        within_sla_share=clocks.within_sla_share,
    )
    sentences = figures.review_sentences(review)
    return ReviewReport(
        **_base(scope, ctx),
        currency=ctx.currency,
        new_leads=review.new_leads,
        under_development=developing,
        qualified=qualified,
        quota=review.quota,
        opportunities=review.opportunities,
        pipeline=figures.money(pipeline),
        won=review.won,
        revenue=figures.money(revenue),
        within_sla_share=clocks.within_sla_share,
        sentences=sentences,
        text=" ".join(sentences),
    )
