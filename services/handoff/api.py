"""Handoff's HTTP routes: parse, call one use case, answer."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from services.handoff import feedback, reps, service, subscriptions
from services.handoff.errors import (
    AttemptIdReused,
    InvalidReport,
    LeadNotFound,
    LeadStateConflict,
    RepNotFound,
    SubscriptionNotFound,
    TeamNotFound,
    UnknownManager,
)
from services.handoff.schemas import (
    TEAM,
    AcceptIn,
    AttemptIn,
    DeliveryOut,
    LeadState,
    LeadView,
    OutcomeIn,
    RejectIn,
    RepIn,
    RepOut,
    SubscriptionCreated,
    SubscriptionIn,
    SubscriptionOut,
    TeamIn,
    TeamOut,
)
from services.handoff.service import Handoff
from shared.auth import AdminScope, SalesScope
from shared.problems import (
    Forbidden,
    InvalidInput,
    ProblemError,
    TooManyRequests,
    Unauthorized,
    problem_responses,
)
from shared.web import ReadSession, WriteSession

# Every route needs a key; InvalidInput: a path, query or body value FastAPI refuses, answered
# as problem+json (without it here, FastAPI documents its own application/json error).
router = APIRouter(
    prefix="/v1",
    responses=problem_responses(Unauthorized, Forbidden, TooManyRequests, InvalidInput),
)


class MalformedJson(ProblemError):
    """A JSON body that does not parse (rendered by shared.problems, before the key is
    checked: FastAPI reads the body before it runs a route's dependencies)."""

    status = 400
    title = "Malformed JSON"


JSON_BODY = problem_responses(MalformedJson)
"""For the routes that take a JSON body."""


def _handoff(request: Request) -> Handoff:
    handoff: Handoff = request.app.state.handoff
    return handoff


def _trace(request: Request) -> str | None:
    return getattr(request.state, "traceparent", None)


Deps = Annotated[Handoff, Depends(_handoff)]
Trace = Annotated[str | None, Depends(_trace)]
RepId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
TeamName = Annotated[str, Path(pattern=TEAM, max_length=64)]

# --- leads -----------------------------------------------------------------------------


@router.get(
    "/leads/{lead_id}",
    response_model=LeadView,
    tags=["leads"],
    summary="A lead's whole timeline",
    responses=problem_responses(LeadNotFound),
)
async def get_lead(lead_id: str, session: ReadSession, _: SalesScope) -> LeadView:
    """Received, scored, assigned, accepted or rejected, attempts, SLA warnings, breaches and
    what they caused, and the outcome, in time order; with the SLA due times still pending."""
    return await service.lead_view(session, lead_id)


_REPORT_ERRORS = problem_responses(LeadNotFound, LeadStateConflict, InvalidReport, MalformedJson)


@router.post(
    "/leads/{lead_id}/accept",
    response_model=LeadState,
    tags=["sales feedback"],
    summary="The rep accepts the lead",
    responses=_REPORT_ERRORS,
)
async def accept(
    lead_id: str, body: AcceptIn, session: WriteSession, handoff: Deps, trace: Trace, _: SalesScope
) -> LeadState:
    """Published as `accepted` on leads.feedback. 409 with `current_rep_id` when the rep does
    not hold the lead (reassigned, recycled, rejected)."""
    return await feedback.accept_lead(session, lead_id, body, handoff=handoff, trace=trace)


@router.post(
    "/leads/{lead_id}/reject",
    response_model=LeadState,
    tags=["sales feedback"],
    summary="The rep rejects the lead with a reason code",
    responses=_REPORT_ERRORS,
)
async def reject(
    lead_id: str, body: RejectIn, session: WriteSession, handoff: Deps, trace: Trace, _: SalesScope
) -> LeadState:
    """The lead goes back to marketing with the reason (a fixed code, `other` needs a note);
    its clocks stop and the rep's capacity frees up. Published as `rejected`."""
    return await feedback.reject_lead(session, lead_id, body, handoff=handoff, trace=trace)


@router.post(
    "/leads/{lead_id}/attempts",
    response_model=LeadState,
    status_code=201,
    tags=["sales feedback"],
    summary="Record a contact attempt",
    responses={
        200: {"model": LeadState, "description": "this attempt id was already recorded"},
        **problem_responses(LeadNotFound, AttemptIdReused, InvalidReport, MalformedJson),
    },
)
async def record_attempt(
    lead_id: str,
    body: AttemptIn,
    session: WriteSession,
    handoff: Deps,
    trace: Trace,
    response: Response,
    _: SalesScope,
) -> LeadState:
    """Idempotent by `attempt_id`: 201 the first time, 200 when it was already recorded. The
    first attempt stops the first-contact clock and observes time to first contact; an
    attempt before the assignment is a 422 naming `/at`. Published as `attempt`."""
    state = await feedback.record_attempt(session, lead_id, body, handoff=handoff, trace=trace)
    if state.replayed:
        response.status_code = 200
    return state


@router.post(
    "/leads/{lead_id}/outcome",
    response_model=LeadState,
    tags=["sales feedback"],
    summary="Report an opportunity, a win or a loss",
    responses=_REPORT_ERRORS,
)
async def record_outcome(
    lead_id: str, body: OutcomeIn, session: WriteSession, handoff: Deps, trace: Trace, _: SalesScope
) -> LeadState:
    """`opportunity` needs an amount and currency; `won` takes the opportunity's amount
    unless given; `lost` needs a reason code. The lead's SLA clocks stop. Published as
    `outcome`."""
    return await feedback.record_outcome(session, lead_id, body, handoff=handoff, trace=trace)


# --- reps and teams --------------------------------------------------------------------


@router.get("/reps", response_model=list[RepOut], tags=["reps"], summary="All reps")
async def list_reps(
    session: ReadSession,
    handoff: Deps,
    _: SalesScope,
    team: Annotated[str | None, Query(pattern=TEAM)] = None,
) -> list[RepOut]:
    """Every rep (or one team's), with their open, not yet contacted leads."""
    return await reps.list_reps(session, team=team, handoff=handoff)


@router.get(
    "/reps/{rep_id}",
    response_model=RepOut,
    tags=["reps"],
    summary="One rep",
    responses=problem_responses(RepNotFound),
)
async def get_rep(rep_id: RepId, session: ReadSession, handoff: Deps, _: SalesScope) -> RepOut:
    """The rep's team, territories, weight, capacity, calendar and availability."""
    return await reps.get_rep(session, rep_id, handoff=handoff)


@router.put(
    "/reps/{rep_id}",
    response_model=RepOut,
    tags=["reps"],
    summary="Create or replace a rep",
    responses={201: {"model": RepOut, "description": "a new rep"}, **JSON_BODY},
)
async def put_rep(
    rep_id: RepId,
    body: RepIn,
    session: WriteSession,
    handoff: Deps,
    response: Response,
    _: AdminScope,
) -> RepOut:
    """201 for a new rep, 200 for a change. A rep back in the rotation starts level with the
    team (their count is reseeded at their fair share); the team's queued leads are assigned
    at once if the change lets someone take them."""
    rep, created = await reps.put_rep(session, rep_id, body, handoff=handoff)
    if created:
        response.status_code = 201
    return rep


@router.get("/teams", response_model=list[TeamOut], tags=["reps"], summary="All teams")
async def list_teams(session: ReadSession, _: SalesScope) -> list[TeamOut]:
    """Teams with their manager, reps and queued leads."""
    return await reps.list_teams(session)


@router.get(
    "/teams/{team}",
    response_model=TeamOut,
    tags=["reps"],
    summary="One team",
    responses=problem_responses(TeamNotFound),
)
async def get_team(team: TeamName, session: ReadSession, _: SalesScope) -> TeamOut:
    """The team's manager, reps and queued leads."""
    return await reps.get_team(session, team)


@router.put(
    "/teams/{team}",
    response_model=TeamOut,
    tags=["reps"],
    summary="Name a team's manager",
    responses=problem_responses(UnknownManager, MalformedJson),
)
async def put_team(team: TeamName, body: TeamIn, session: WriteSession, _: AdminScope) -> TeamOut:
    """The manager takes the team's escalations and must be a known rep (422 otherwise)."""
    return await reps.put_team(session, team, body)


# --- webhooks --------------------------------------------------------------------------


@router.post(
    "/subscriptions",
    response_model=SubscriptionCreated,
    status_code=201,
    tags=["webhooks"],
    summary="Subscribe a URL to signed webhooks",
    responses=JSON_BODY,
)
async def create_subscription(
    body: SubscriptionIn, session: WriteSession, handoff: Deps, _: AdminScope
) -> SubscriptionCreated:
    """Deliveries follow Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature).
    The `whsec_` secret to verify them is in this answer only: store it now."""
    return await subscriptions.create_subscription(session, body, handoff=handoff)


@router.get(
    "/subscriptions",
    response_model=list[SubscriptionOut],
    tags=["webhooks"],
    summary="Active subscriptions",
)
async def list_subscriptions(session: ReadSession, _: AdminScope) -> list[SubscriptionOut]:
    """Every active subscription, without secrets."""
    return await subscriptions.list_subscriptions(session)


@router.get(
    "/subscriptions/{subscription_id}",
    response_model=SubscriptionOut,
    tags=["webhooks"],
    summary="One subscription",
    responses=problem_responses(SubscriptionNotFound),
)
async def get_subscription(
    subscription_id: str, session: ReadSession, _: AdminScope
) -> SubscriptionOut:
    """The subscription, without its secret."""
    return await subscriptions.get_subscription(session, subscription_id)


@router.delete(
    "/subscriptions/{subscription_id}",
    status_code=204,
    tags=["webhooks"],
    summary="Stop a subscription",
    responses=problem_responses(SubscriptionNotFound),
)
async def delete_subscription(
    subscription_id: str, session: WriteSession, handoff: Deps, _: AdminScope
) -> Response:
    """No more deliveries; pending ones are dead-lettered; the history stays readable."""
    await subscriptions.delete_subscription(session, subscription_id, handoff=handoff)
    return Response(status_code=204)


@router.get(
    "/subscriptions/{subscription_id}/deliveries",
    response_model=list[DeliveryOut],
    tags=["webhooks"],
    summary="Deliveries and their attempts, newest first",
    responses=problem_responses(SubscriptionNotFound),
)
async def list_deliveries(
    subscription_id: str,
    session: ReadSession,
    _: AdminScope,
    status: Literal["pending", "delivered", "dead"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before_id: Annotated[int | None, Query(ge=1, description="page: ids below this")] = None,
) -> list[DeliveryOut]:
    """Each delivery with every attempt: when, the receiver's status code or the error, how
    long it took. `dead` ones ran out of retries."""
    return await subscriptions.list_deliveries(
        session, subscription_id, status=status, limit=limit, before_id=before_id
    )


@router.post(
    "/subscriptions/{subscription_id}/deliveries/{delivery_id}/retry",
    response_model=DeliveryOut,
    tags=["webhooks"],
    summary="Send a delivery again",
    responses=problem_responses(SubscriptionNotFound),
)
async def retry_delivery(
    subscription_id: str, delivery_id: int, session: WriteSession, _: AdminScope
) -> DeliveryOut:
    """Queue a delivery (typically a dead letter) for another round of attempts, with the
    same webhook-id so the receiver can deduplicate."""
    return await subscriptions.redeliver(session, subscription_id, delivery_id)
