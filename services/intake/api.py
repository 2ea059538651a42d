"""Intake's HTTP routes: parse, call one use case, answer.

Errors are problem+json (shared.problems); every route declares the ones it can answer.
What each channel accepts is in docs/intake-fields.md and docs/intake-channels.md.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.background import BackgroundTask

from services.intake import batches, service
from services.intake.batch import batch_format
from services.intake.committer import GroupCommitter
from services.intake.problems import (
    BadSignature,
    IdempotencyKeyReused,
    MalformedBody,
    TooLarge,
    UnknownHook,
    UnsupportedMediaType,
    invalid_lead,
)
from services.intake.schemas import (
    BatchResult,
    HookAccepted,
    LeadAccepted,
    LeadIn,
    Source,
    field_errors_from,
)
from shared.auth import IntakeScope, Principal
from shared.problems import (
    PROBLEM_JSON,
    Forbidden,
    InvalidInput,
    ProblemError,
    TooManyRequests,
    Unauthorized,
    Unavailable,
    problem_responses,
)
from shared.web import WriteSession

router = APIRouter(prefix="/v1")

MAX_FORM_FIELDS = 200
MAX_FORM_FILES = 20

KEYED = (Unauthorized, Forbidden, TooManyRequests)
"""Every route that needs a key can answer these."""

IdempotencyKey = Annotated[
    str | None,
    Header(
        max_length=200,
        description="Send the same key again and get the first answer back; nothing is "
        "stored twice. Keys are scoped to the API key that sent them",
    ),
]


def ctx_of(request: Request) -> service.Intake:
    ctx: service.Intake = request.app.state.intake
    return ctx


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def scoped(principal: Principal, key: str | None) -> str | None:
    """Idempotency keys are per API key: two clients may pick the same key."""
    return f"{principal.key_id}:{key}" if key else None


async def require_json(request: Request) -> None:  # async: no thread hop per request
    ctype = media_type(request)
    if ctype != "application/json" and not ctype.endswith("+json"):
        raise UnsupportedMediaType(f"send application/json, not {ctype or 'nothing'!r}")


# --- one lead --------------------------------------------------------------------------------


@router.post(
    "/leads",
    tags=["leads"],
    status_code=202,
    response_model=LeadAccepted,
    summary="Submit one lead",
    responses=problem_responses(
        MalformedBody,
        *KEYED,
        IdempotencyKeyReused,
        TooLarge,
        UnsupportedMediaType,
        InvalidInput,
        Unavailable,
    ),
)
async def submit_lead(
    request: Request,
    principal: IntakeScope,
    _: Annotated[None, Depends(require_json)],
    lead: LeadIn,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Store the lead and queue it for scoring in one transaction: 202 means it cannot be lost.

    The same `Idempotency-Key` returns the first answer (with `Idempotent-Replayed: true`)
    and creates nothing; the same person (email) within the dedupe window is merged into
    the lead we have and answered as `duplicate` with that lead's id. Concurrent posts are
    committed together (group commit); each answer still waits for its own commit."""
    committer: GroupCommitter = request.app.state.committer
    outcome = await committer.submit(
        lead,
        idempotency_key=scoped(principal, idempotency_key),
        traceparent=request.state.traceparent,
    )
    if outcome.conflict:
        raise IdempotencyKeyReused("this Idempotency-Key was used for a different lead")
    assert outcome.answer is not None
    # The answer is already a LeadAccepted: written as is rather than validated again
    # against the response model, which documents it.
    return Response(
        outcome.answer.model_dump_json(),
        status_code=202,
        media_type="application/json",
        headers={"Idempotent-Replayed": "true"} if outcome.replayed else None,
    )


# --- a batch -------------------------------------------------------------------------------

_BATCH_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "One lead per line (NDJSON) or a CSV file with a header line; "
        "see docs/intake-fields.md for fields and CSV header names",
        "content": {
            "application/x-ndjson": {"schema": {"type": "string"}},
            "text/csv": {"schema": {"type": "string"}},
        },
    }
}


@router.post(
    "/leads/batch",
    tags=["leads"],
    response_model=None,
    summary="Upload leads in bulk (NDJSON or CSV)",
    openapi_extra=_BATCH_BODY,
    responses={
        200: {"model": BatchResult, "description": "The summary, then one result per row"},
        **problem_responses(*KEYED, TooLarge, UnsupportedMediaType, InvalidInput, Unavailable),
    },
)
async def submit_batch(
    request: Request,
    principal: IntakeScope,
    source: Annotated[Source | None, Query(description="for rows that name none")] = None,
    campaign_id: Annotated[
        str | None, Query(max_length=128, description="for rows that name none")
    ] = None,
    channel: Annotated[
        str, Query(pattern="^(batch|import)$", description="`import` from `leadrelay import`")
    ] = "batch",
    idempotency_key: IdempotencyKey = None,
) -> StreamingResponse:
    """Every row is validated on its own and answered: `accepted`, `duplicate` (with the
    lead it merged into) or `rejected` (with its line number and every field at fault).

    The body is read as it arrives and stored in chunks, one transaction each, so memory
    stays flat for any number of rows. With an `Idempotency-Key`, each row is keyed by it
    and its line number: sending the same file again stores nothing and answers each row
    as before (`replayed: true`). Rows of a body cut short by the size limit (413) that
    were read before the cut are stored; the problem's `summary` and `last_row` say so."""
    kind = batch_format(request.headers.get("content-type"))
    if kind is None:
        raise UnsupportedMediaType(
            f"send application/x-ndjson or text/csv, not {media_type(request) or 'nothing'!r}"
        )
    ctx = ctx_of(request)
    request.scope["stream_unlimited"] = True  # accept_batch enforces max_bytes and says where
    report = await batches.accept_batch(
        request.stream(),
        batches.BatchOptions(
            kind=kind,
            channel=channel,
            source=source,
            campaign_id=campaign_id,
            idempotency_key=scoped(principal, idempotency_key),
            max_bytes=request.app.state.max_batch_bytes,
            traceparent=request.state.traceparent,
        ),
        ctx,
    )
    return StreamingResponse(
        report.json_chunks(),
        media_type="application/json",
        background=BackgroundTask(report.close),
    )


# --- webhooks ------------------------------------------------------------------------------

_HOOK_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The tool's own payload, unchanged (see docs/intake-hooks.md)",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


@router.post(
    "/hooks/{tool}",
    tags=["webhooks"],
    status_code=202,
    response_model=HookAccepted,
    summary="Receive a marketing-automation webhook (mautic)",
    openapi_extra=_HOOK_BODY,
    responses=problem_responses(
        MalformedBody, BadSignature, UnknownHook, TooLarge, InvalidInput, Unavailable
    ),
)
async def receive_hook(
    request: Request,
    tool: Annotated[str, Path(max_length=40, description="the tool: mautic")],
    session: WriteSession,
    webhook_signature: Annotated[
        str | None,
        Header(description="Mautic: base64 HMAC-SHA256 of the raw body with the hook secret"),
    ] = None,
) -> HookAccepted:
    """The tool's payload as it sends it, verified by its signature (no API key: the
    shared secret is the credential). Each event is answered: accepted, duplicate,
    rejected (with the fields at fault) or skipped (not a lead, e.g. no email).
    Redeliveries of an event store nothing and get its first answer."""
    body = await request.body()
    return await service.accept_hook(
        session,
        tool,
        body,
        webhook_signature,
        ctx_of(request),
        traceparent=request.state.traceparent,
    )


# --- the error shape for FastAPI's own validation ------------------------------------------


async def on_invalid_request(_: Request, exc: Exception) -> JSONResponse:
    """The same wording as batch rows get, and malformed JSON as 400 (not 422)."""
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        problem: ProblemError = MalformedBody("the body is not valid JSON")
    elif any(e.get("type") == "missing" and tuple(e.get("loc", ())) == ("body",) for e in errors):
        problem = MalformedBody("the body is empty; send one lead as a JSON object")
    else:
        located = [{**e, "loc": _body_relative(tuple(e.get("loc", ())))} for e in errors]
        problem = invalid_lead(field_errors_from(located))
    return JSONResponse(problem.to_problem(), status_code=problem.status, media_type=PROBLEM_JSON)


def _body_relative(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """("body", "email") -> ("email",); headers and queries keep their place name."""
    return loc[1:] if loc[:1] == ("body",) else loc
