"""Intake's web-form routes: a browser's post, its CORS preflight, and the forms' config.

How forms are configured and mapped is in services/intake/forms.py and
docs/intake-channels.md.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.intake import forms, service
from services.intake.api import KEYED, IdempotencyKey, ctx_of, media_type, scoped
from services.intake.forms import FORM_ID_PATTERN, KEY_FIELD, FormConfig, FormView
from services.intake.problems import (
    FormManagedByFile,
    MalformedBody,
    OriginNotAllowed,
    TooLarge,
    UnknownForm,
    UnsupportedMediaType,
    invalid_lead,
)
from services.intake.schemas import LeadAccepted
from shared import ids, metrics
from shared.auth import AdminScope, KeyStore, Principal, presented_key
from shared.problems import (
    Forbidden,
    InvalidInput,
    ProblemError,
    TooManyRequests,
    Unavailable,
    problem_responses,
)
from shared.web import ReadSession, WriteSession

router = APIRouter(prefix="/v1", tags=["forms"])

MAX_FORM_FIELDS = 200
MAX_FORM_FILES = 20

FormId = Annotated[str, Path(pattern=FORM_ID_PATTERN, description="the form's id")]


async def posted_fields(request: Request) -> dict[str, list[str]]:
    """A browser's form post, urlencoded or multipart; file parts are ignored."""
    ctype = media_type(request)
    if ctype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise UnsupportedMediaType(
            "send application/x-www-form-urlencoded or multipart/form-data, "
            f"not {ctype or 'nothing'!r}"
        )
    try:
        form = await request.form(max_files=MAX_FORM_FILES, max_fields=MAX_FORM_FIELDS)
    except StarletteHTTPException as exc:
        raise MalformedBody(f"the form data cannot be read: {exc.detail}") from None
    except (KeyError, ValueError, UnicodeDecodeError) as exc:
        raise MalformedBody(f"the form data cannot be read: {type(exc).__name__}") from None
    fields: dict[str, list[str]] = {}
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            await value.close()
        elif len(name) <= 200:
            fields.setdefault(name, []).append(value)
    return fields


Posted = Annotated[dict[str, list[str]], Depends(posted_fields)]


def form_principal(request: Request, form_id: FormId, posted: Posted) -> Principal:
    """The form's public key (hidden field `_key`, or a header) may post this form only."""
    store: KeyStore = request.app.state.keys
    principal = store.authenticate(
        presented_key(request) or next(iter(posted.get(KEY_FIELD, [])), None)
    )
    if not (principal.allows(f"form:{form_id}") or principal.allows("intake")):
        raise Forbidden(f"this key cannot post form {form_id!r}")
    wait = store.take_token(principal.key_id)
    if wait is not None:
        raise TooManyRequests(
            "too many posts for this key", headers={"Retry-After": str(max(1, round(wait)))}
        )
    return principal


_FORM_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The form's fields as the browser posts them, plus the hidden `_key`",
        "content": {
            media: {
                "schema": {
                    "type": "object",
                    "properties": {KEY_FIELD: {"type": "string", "description": "form key"}},
                    "additionalProperties": {"type": "string"},
                }
            }
            for media in ("application/x-www-form-urlencoded", "multipart/form-data")
        },
    }
}


@router.post(
    "/forms/{form_id}",
    status_code=202,
    response_model=LeadAccepted,
    summary="Post a web form",
    openapi_extra=_FORM_BODY,
    responses={
        303: {
            "description": "A page navigation (Accept: text/html): go to the form's "
            "thank_you_url, or its error_url when the post is invalid"
        },
        **problem_responses(
            MalformedBody,
            *KEYED,
            OriginNotAllowed,
            UnknownForm,
            TooLarge,
            UnsupportedMediaType,
            InvalidInput,
            Unavailable,
        ),
    },
)
async def submit_form(
    request: Request,
    form_id: FormId,
    posted: Posted,
    principal: Annotated[Principal, Depends(form_principal)],
    session: WriteSession,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """A browser's post becomes a lead like any other (same validation, same dedupe).

    The form's configuration maps fields, lists the origins allowed to post (an `Origin`
    header not listed is refused), names a honeypot field (a post that fills it is
    answered as if accepted, and dropped) and says where a browser goes next. A page
    navigation (`Accept: text/html`) is sent 303 to the form's `thank_you_url` (or, if
    invalid, its `error_url`); a script (`fetch()`) gets 202 with the lead id, or 422."""
    origin = request.headers.get("origin")
    try:
        reply = await service.accept_form(
            session,
            form_id,
            posted,
            ctx_of(request),
            origin=origin,
            idempotency_key=scoped(principal, idempotency_key),
            traceparent=request.state.traceparent,
        )
    except OriginNotAllowed:
        raise
    except ProblemError as exc:
        exc.headers.update(forms.cors_headers(origin))
        raise
    navigating = "text/html" in request.headers.get("accept", "")
    return _form_answer(reply, origin, navigating=navigating)


def _form_answer(reply: service.FormReply, origin: str | None, *, navigating: bool) -> Response:
    cors = forms.cors_headers(origin)
    form = reply.form
    if reply.errors:
        if navigating and form.error_url and reply.post is not None:
            metrics.LEADS_REJECTED.labels("form", "invalid").inc()  # a 303: the edge won't
            fields = reply.post.form_fields_at_fault(reply.errors)
            url = forms.error_redirect(form.error_url, fields)
            return RedirectResponse(url, status_code=303, headers=cors)
        raise invalid_lead(reply.errors, headers=cors)
    if navigating and form.thank_you_url:
        return RedirectResponse(form.thank_you_url, status_code=303, headers=cors)
    if reply.outcome is None or reply.outcome.answer is None:  # a bot: looks accepted
        answer = LeadAccepted(lead_id=ids.new_id(), status="accepted")
    else:
        answer = reply.outcome.answer
    return JSONResponse(answer.model_dump(mode="json"), status_code=202, headers=cors)


@router.options(
    "/forms/{form_id}",
    status_code=204,
    response_class=Response,
    summary="CORS preflight for a form",
    responses=problem_responses(OriginNotAllowed, UnknownForm, InvalidInput),
)
async def preflight_form(
    form_id: FormId,
    session: ReadSession,
    origin: Annotated[str | None, Header()] = None,
) -> Response:
    """Allowed origins get the CORS headers a browser needs to post with fetch(); any
    other origin (or none) gets 403."""
    if origin is None:
        raise OriginNotAllowed("a preflight carries an Origin header")
    await service.admit_origin(session, form_id, origin)
    return Response(
        status_code=204, headers={**forms.cors_headers(origin), **forms.PREFLIGHT_HEADERS}
    )


@router.get(
    "/forms",
    response_model=list[FormView],
    summary="List the forms",
    responses=problem_responses(*KEYED),
)
async def list_forms(session: ReadSession, _: AdminScope) -> list[FormView]:
    """Forms from the forms file (`managed_by: file`) and from the API (`api`)."""
    return [
        FormView(form_id=form_id, managed_by=managed_by, config=config)
        for form_id, config, managed_by in await service.list_forms(session)
    ]


@router.get(
    "/forms/{form_id}",
    response_model=FormView,
    summary="Read a form's configuration",
    responses=problem_responses(*KEYED, UnknownForm, InvalidInput),
)
async def get_form(form_id: FormId, session: ReadSession, _: AdminScope) -> FormView:
    """The form as stored, and whether the forms file or the API manages it."""
    config, managed_by = await service.describe_form(session, form_id)
    return FormView(form_id=form_id, managed_by=managed_by, config=config)


@router.put(
    "/forms/{form_id}",
    response_model=FormView,
    summary="Create or replace a form",
    responses=problem_responses(MalformedBody, *KEYED, FormManagedByFile, TooLarge, InvalidInput),
)
async def put_form(
    request: Request, form_id: FormId, config: FormConfig, session: WriteSession, _: AdminScope
) -> FormView:
    """Takes effect at once. Forms defined in the forms file are changed there (409 here)."""
    managed = await service.put_form(session, form_id, config, ctx_of(request).clock.now())
    return FormView(form_id=form_id, managed_by=managed, config=config)


@router.delete(
    "/forms/{form_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a form",
    responses=problem_responses(*KEYED, UnknownForm, FormManagedByFile, InvalidInput),
)
async def delete_form(form_id: FormId, session: WriteSession, _: AdminScope) -> Response:
    """Posts to it answer 404 from then on; its key stays valid until revoked."""
    await service.delete_form(session, form_id)
    return Response(status_code=204)
