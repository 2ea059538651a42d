"""The reports' HTTP routes: `/v1/reports/*` (JSON, scope `sales`), `/v1/campaigns/*`
(campaign costs; writing needs `admin`) and the dashboard page at `/` (public: its data
comes from the JSON reports, fetched with the key the viewer enters)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from services.handoff import campaigns
from services.handoff.api import JSON_BODY
from services.handoff.campaigns import CAMPAIGN_ID
from services.handoff.reports import service
from services.handoff.reports.errors import (
    CampaignNotFound,
    InvalidCampaignPeriod,
    InvalidPeriod,
)
from services.handoff.reports.schemas import (
    CampaignIn,
    CampaignOut,
    ContributionReport,
    CostReport,
    FunnelReport,
    QuotaReport,
    RejectReasonsReport,
    ReviewReport,
    SlaReport,
)
from services.handoff.reports.scope import (
    MONTH,
    Filters,
    Scope,
    month_of,
    month_period,
    resolve_period,
)
from services.handoff.reports.terms import ContractTerms
from services.handoff.schemas import TEAM
from services.handoff.settings import HandoffSettings
from shared.auth import AdminScope, SalesScope
from shared.problems import (
    Forbidden,
    InvalidInput,
    TooManyRequests,
    Unauthorized,
    problem_responses,
)
from shared.web import ReadSession, WriteSession

WEB = Path(__file__).parent / "web"
STATIC_PATH = "/static"

# The page loads nothing from elsewhere: scripts, styles and data come from this origin.
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "Cache-Control": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}

# Every route but the page needs a key; InvalidInput: a query, path or body value FastAPI
# refuses, answered as problem+json (without it, FastAPI documents its own JSON error).
router = APIRouter(
    responses=problem_responses(Unauthorized, Forbidden, TooManyRequests, InvalidInput)
)


def static_files() -> StaticFiles:
    """The dashboard's script and stylesheet, mounted at STATIC_PATH by the app."""
    return StaticFiles(directory=WEB / "static")


def _terms(request: Request) -> ContractTerms:
    """The contract file's terms, cached on the app (read again when the file changes)."""
    settings: HandoffSettings = request.app.state.runtime.settings
    terms: ContractTerms | None = getattr(request.app.state, "contract_terms", None)
    if terms is None:
        terms = ContractTerms(Path(settings.contract_file))
        request.app.state.contract_terms = terms
    return terms


async def _ctx(request: Request) -> service.Context:
    settings: HandoffSettings = request.app.state.runtime.settings
    return service.Context(
        now=request.app.state.handoff.now(),
        currency=settings.report_currency,
        terms=await _terms(request).current(),
    )


Ctx = Annotated[service.Context, Depends(_ctx)]

Source = Annotated[
    str | None,
    Query(pattern=r"^[a-z][a-z0-9_]{0,31}$", description="only leads from this source"),
]
Campaign = Annotated[
    str | None, Query(max_length=128, description="only leads answering this campaign")
]
Team = Annotated[str | None, Query(pattern=TEAM, max_length=64, description="only this team")]
Month = Annotated[str | None, Query(pattern=MONTH, description="YYYY-MM (UTC)")]


def _filters(source: Source = None, campaign: Campaign = None, team: Team = None) -> Filters:
    return Filters(source=source, campaign=campaign, team=team)


async def _scope(
    ctx: Ctx,
    filters: Annotated[Filters, Depends(_filters)],
    from_: Annotated[
        date | None, Query(alias="from", description="first day (UTC), inclusive")
    ] = None,
    to: Annotated[
        date | None, Query(description="last day (UTC), inclusive; default today")
    ] = None,
    month: Month = None,
) -> Scope:
    """`month`, or `from`/`to`, or the current month."""
    for parameter, day in (("from", from_), ("to", to)):
        _in_range(parameter, day)
    _in_range("month", _first_day(month))
    return Scope(resolve_period(from_, to, month, now=ctx.now), filters)


async def _month_scope(
    ctx: Ctx, filters: Annotated[Filters, Depends(_filters)], month: Month = None
) -> Scope:
    _in_range("month", _first_day(month))
    return Scope(month_period(month or month_of(ctx.now)), filters)


EARLIEST = date(1900, 1, 1)
LATEST = date(2999, 12, 31)
"""Report periods lie within these days: the reports reach a day or a month past either
end of a period, and the calendar ends at year 1 and 9999 (year 0 is none at all)."""


def _first_day(month: str | None) -> date | None:
    """The first day of a `YYYY-MM` (the pattern was checked), or None."""
    if month is None:
        return None
    year, number = (int(part) for part in month.split("-"))
    return date(max(year, 1), number, 1)


def _in_range(parameter: str, day: date | None) -> None:
    if day is not None and not EARLIEST <= day <= LATEST:
        raise InvalidPeriod(
            parameter, f"{parameter} must fall between {EARLIEST} and {LATEST}, got {day}"
        )


# Routes take their key first: dependencies run in parameter order, and a caller without a
# key gets 401, not a 422 about the period (or a contract file read on its behalf).
PeriodScope = Annotated[Scope, Depends(_scope)]
MonthScope = Annotated[Scope, Depends(_month_scope)]
_ERRORS = problem_responses(InvalidPeriod, Unauthorized, Forbidden)

# --- reports ---------------------------------------------------------------------------


@router.get(
    "/v1/reports/funnel",
    response_model=FunnelReport,
    tags=["reports"],
    summary="Funnel: received to won, with conversion at each step",
    responses=_ERRORS,
)
async def funnel_report(
    _: SalesScope, scope: PeriodScope, session: ReadSession, ctx: Ctx
) -> FunnelReport:
    """The leads handoff received in the period (every scored lead, qualified or not) and how
    far each got: qualified, assigned, accepted, contacted, opportunity, won. A lead that
    reached a later step counts for the earlier ones too."""
    return await service.funnel(session, scope, ctx)


@router.get(
    "/v1/reports/sla",
    response_model=SlaReport,
    tags=["reports"],
    summary="SLA: time to first contact, compliance, attempts, breaches by team and rep",
    responses=_ERRORS,
)
async def sla_report(
    _: SalesScope, scope: PeriodScope, session: ReadSession, ctx: Ctx
) -> SlaReport:
    """Time to first contact per lead (p50, p90, distribution); per assignment, the
    first-contact and attempts clocks met, missed, open or stopped; attempts per lead; and
    breaches (missed clocks) by team and by rep."""
    return await service.sla(session, scope, ctx)


@router.get(
    "/v1/reports/contribution",
    response_model=ContributionReport,
    tags=["reports"],
    summary="Contribution: marketing- vs sales-sourced, against the agreed shares",
    responses=_ERRORS,
)
async def contribution_report(
    _: SalesScope, scope: PeriodScope, session: ReadSession, ctx: Ctx
) -> ContributionReport:
    """Shares of opportunities, of pipeline value and of won revenue, each against the
    contract's agreed share (pipeline and revenue kept apart), and the close rate of leads
    marketing handed over against leads reps sourced themselves (`source` = `sales`)."""
    return await service.contribution(session, scope, ctx)


@router.get(
    "/v1/reports/quota",
    response_model=QuotaReport,
    tags=["reports"],
    summary="Quota: qualified leads this month against the contract's monthly quota",
    responses=_ERRORS,
)
async def quota_report(
    _: SalesScope, scope: MonthScope, session: ReadSession, ctx: Ctx
) -> QuotaReport:
    """Marketing-sourced leads received in the month that qualified, per day and in all,
    against `quota.qualified_per_month`, projected linearly to the month's end."""
    return await service.quota(session, scope, ctx)


@router.get(
    "/v1/reports/reject-reasons",
    response_model=RejectReasonsReport,
    tags=["reports"],
    summary="Why reps rejected leads, by campaign and by source",
    responses=_ERRORS,
)
async def reject_reasons_report(
    _: SalesScope, scope: PeriodScope, session: ReadSession, ctx: Ctx
) -> RejectReasonsReport:
    """Every rejection of the period's leads by reason code, overall and per campaign and
    source."""
    return await service.reject_reasons(session, scope, ctx)


@router.get(
    "/v1/reports/cost-per-qualified-lead",
    response_model=CostReport,
    tags=["reports"],
    summary="Cost per qualified lead per campaign",
    responses=_ERRORS,
)
async def cost_report(
    _: SalesScope, scope: PeriodScope, session: ReadSession, ctx: Ctx
) -> CostReport:
    """Each campaign's cost, spread evenly over its period's days, for the days it shares
    with the report's period, divided by the qualified leads it brought in the period. The
    source and team filters do not apply (a campaign's cost is not split)."""
    return await service.cost_per_qualified_lead(session, scope, ctx)


@router.get(
    "/v1/reports/business-review",
    response_model=ReviewReport,
    tags=["reports"],
    summary="The monthly business review, as figures and as sentences",
    responses=_ERRORS,
)
async def business_review_report(
    _: SalesScope, scope: MonthScope, session: ReadSession, ctx: Ctx
) -> ReviewReport:
    """ "We added N new leads this month, which makes M leads currently under development.
    Sales received K qualified opportunities representing $X." and more; each figure is the
    same as in the funnel, quota, contribution and SLA reports for the month."""
    return await service.business_review(session, scope, ctx)


# --- campaign costs --------------------------------------------------------------------

CampaignId = Annotated[str, PathParam(pattern=CAMPAIGN_ID)]


@router.put(
    "/v1/campaigns/{campaign_id}",
    response_model=CampaignOut,
    tags=["campaigns"],
    summary="Set a campaign's cost",
    responses={
        201: {"model": CampaignOut, "description": "a new campaign"},
        **problem_responses(InvalidCampaignPeriod, Unauthorized, Forbidden),
        **JSON_BODY,
    },
)
async def put_campaign(
    _: AdminScope,
    campaign_id: CampaignId,
    body: CampaignIn,
    session: WriteSession,
    ctx: Ctx,
    response: Response,
) -> CampaignOut:
    """201 for a new campaign, 200 for a change. `period` is a month (`2026-11`) or
    first/last days (`2026-11-01/2026-12-15`); the cost is spread evenly over its days."""
    campaign, created = await campaigns.put_campaign(session, campaign_id, body, now=ctx.now)
    if created:
        response.status_code = 201
    return campaign


@router.get(
    "/v1/campaigns",
    response_model=list[CampaignOut],
    tags=["campaigns"],
    summary="Every campaign with a cost",
    responses=problem_responses(Unauthorized, Forbidden),
)
async def list_campaigns(_: SalesScope, session: ReadSession) -> list[CampaignOut]:
    """Campaigns and their costs, by id."""
    return await campaigns.list_campaigns(session)


@router.get(
    "/v1/campaigns/{campaign_id}",
    response_model=CampaignOut,
    tags=["campaigns"],
    summary="One campaign's cost",
    responses=problem_responses(CampaignNotFound, Unauthorized, Forbidden),
)
async def get_campaign(_: SalesScope, campaign_id: CampaignId, session: ReadSession) -> CampaignOut:
    """The campaign's name, cost, currency and period."""
    return await campaigns.get_campaign(session, campaign_id)


# --- the dashboard ---------------------------------------------------------------------


@router.get("/", include_in_schema=False)
async def dashboard() -> FileResponse:
    """The dashboard page; it fetches the JSON reports with the viewer's key."""
    return FileResponse(WEB / "index.html", media_type="text/html", headers=_PAGE_HEADERS)
