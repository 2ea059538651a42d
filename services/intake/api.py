"""Intake's HTTP routes: parse, call one use case, answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request

from services.intake import service
from services.intake.schemas import LeadAccepted, LeadIn
from shared.auth import IntakeScope
from shared.problems import InvalidInput, ProblemError, Unavailable, problem_responses
from shared.web import WriteSession

router = APIRouter(prefix="/v1", tags=["leads"])


class UnsupportedMediaType(ProblemError):
    status = 415
    title = "Unsupported content type"
    type = "https://leadrelay.dev/problems/unsupported-media-type"


def require_json(request: Request) -> None:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json" and not ctype.endswith("+json"):
        raise UnsupportedMediaType(f"send application/json, not {ctype or 'nothing'!r}")


@router.post(
    "/leads",
    status_code=202,
    response_model=LeadAccepted,
    summary="Submit one lead",
    responses=problem_responses(
        InvalidInput, service.IdempotencyKeyReused, UnsupportedMediaType, Unavailable
    ),
)
async def submit_lead(
    request: Request,
    lead: LeadIn,
    session: WriteSession,
    principal: IntakeScope,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> LeadAccepted:
    """Store the lead and queue it for scoring in one transaction: 202 means it cannot be lost.

    The same `Idempotency-Key` returns the first answer and creates nothing; the same
    person (email) within the dedupe window is merged and answered as `duplicate`."""
    require_json(request)
    key = f"{principal.key_id}:{idempotency_key}" if idempotency_key else None
    return await service.accept_lead(
        session,
        lead,
        request.app.state.intake,
        channel="api",
        idempotency_key=key,
        traceparent=request.state.traceparent,
    )
