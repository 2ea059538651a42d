"""Erasure routes (admin scope): erase a lead, or every lead of a person, and follow it.

The email form exists twice: `DELETE /v1/leads?email=` for tools that expect it, and
`POST /v1/erasures` with the email in the body, so it need not appear in any URL (proxies
log URLs). LeadRelay itself logs no request lines (uvicorn's access log is off).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from services.intake import erasure
from services.intake.problems import MalformedBody
from shared.auth import AdminScope
from shared.clock import Clock
from shared.problems import (
    Forbidden,
    InvalidInput,
    TooManyRequests,
    Unauthorized,
    problem_responses,
)
from shared.web import ReadSession, WriteSession

router = APIRouter(prefix="/v1", tags=["erasure"])

KEYED = (Unauthorized, Forbidden, TooManyRequests)


class ErasureRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=320, description="every lead of this person is erased")


class ErasureView(BaseModel):
    """An erasure request and how far it got. `completed` once every service erased."""

    erasure_id: str
    scope: Literal["lead", "email"]
    status: Literal["erasing", "completed"]
    lead_ids: list[str] = Field(description="the leads erased (none: nobody had that email)")
    leads_done: int = Field(description="leads every service has erased")
    requested_by: str = Field(description="the name of the API key that asked")
    requested_at: datetime
    erased_at: datetime | None = Field(None, description="when intake erased its own copies")
    completed_at: datetime | None = None

    @classmethod
    def of(cls, state: erasure.ErasureState) -> ErasureView:
        return cls(**vars(state))


def clock_of(request: Request) -> Clock:
    clock: Clock = request.app.state.intake.clock
    return clock


LeadId = Annotated[str, Path(max_length=64)]


@router.delete(
    "/leads/{lead_id}",
    status_code=202,
    response_model=ErasureView,
    summary="Erase one lead's personal data",
    responses=problem_responses(erasure.LeadNotFound, InvalidInput, *KEYED),
)
async def erase_lead(
    lead_id: LeadId, session: WriteSession, principal: AdminScope, request: Request
) -> ErasureView:
    """Erase the lead in every service (crypto-shredding on Kafka); anonymous facts stay so
    reports still add up. 202: intake's copies are gone, the others follow."""
    state = await erasure.erase_lead(session, lead_id, by=principal, clock=clock_of(request))
    return ErasureView.of(state)


@router.delete(
    "/leads",
    status_code=202,
    response_model=ErasureView,
    summary="Erase every lead of a person, by email",
    responses=problem_responses(InvalidInput, *KEYED),
)
async def erase_person_by_query(
    email: Annotated[str, Query(max_length=320)],
    session: WriteSession,
    principal: AdminScope,
    request: Request,
) -> ErasureView:
    """Every lead with this email (merged duplicates included) and every other trace of it
    in intake. An unknown email gets 202 with no leads. Prefer `POST /v1/erasures`, which
    keeps the email out of URLs."""
    state = await erasure.erase_person(session, email, by=principal, clock=clock_of(request))
    return ErasureView.of(state)


@router.post(
    "/erasures",
    status_code=202,
    response_model=ErasureView,
    summary="Erase every lead of a person (email in the body)",
    responses=problem_responses(InvalidInput, MalformedBody, *KEYED),
)
async def erase_person(
    body: ErasureRequest, session: WriteSession, principal: AdminScope, request: Request
) -> ErasureView:
    """`DELETE /v1/leads?email=` with the email in the body instead of the URL."""
    state = await erasure.erase_person(session, body.email, by=principal, clock=clock_of(request))
    return ErasureView.of(state)


@router.get(
    "/erasures/{erasure_id}",
    response_model=ErasureView,
    summary="An erasure's status",
    responses=problem_responses(erasure.ErasureNotFound, InvalidInput, *KEYED),
)
async def erasure_status(
    erasure_id: Annotated[str, Path(max_length=64)], session: ReadSession, _: AdminScope
) -> ErasureView:
    """Who asked and when, which leads, and whether every service has erased them."""
    return ErasureView.of(await erasure.erasure_state(session, erasure_id))
