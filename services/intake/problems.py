"""Intake's refusals, each a problem type with its status (rendered by shared.problems)."""

from __future__ import annotations

from collections.abc import Sequence

from services.intake.schemas import FieldError
from shared.problems import (
    Conflict,
    FieldProblem,
    Forbidden,
    InvalidInput,
    NotFound,
    ProblemError,
    Unauthorized,
)


class MalformedBody(ProblemError):
    status = 400
    title = "Malformed request body"
    type = "https://leadrelay.dev/problems/malformed-body"


class UnsupportedMediaType(ProblemError):
    status = 415
    title = "Unsupported content type"
    type = "https://leadrelay.dev/problems/unsupported-media-type"


class TooLarge(ProblemError):
    status = 413
    title = "Request body too large"
    type = "https://leadrelay.dev/problems/too-large"


class IdempotencyKeyReused(Conflict):
    title = "Idempotency-Key reused with a different request"
    type = "https://leadrelay.dev/problems/idempotency-key-reused"


class UnknownForm(NotFound):
    title = "No such form"
    type = "https://leadrelay.dev/problems/unknown-form"


class FormManagedByFile(Conflict):
    title = "This form is defined in the forms file"
    type = "https://leadrelay.dev/problems/form-managed-by-file"


class OriginNotAllowed(Forbidden):
    title = "This form does not accept posts from this origin"
    type = "https://leadrelay.dev/problems/origin-not-allowed"


class UnknownHook(NotFound):
    title = "No such webhook"
    type = "https://leadrelay.dev/problems/unknown-hook"


class BadSignature(Unauthorized):
    title = "Missing or wrong webhook signature"
    type = "https://leadrelay.dev/problems/bad-signature"


def invalid_lead(
    errors: Sequence[FieldError], *, headers: dict[str, str] | None = None
) -> InvalidInput:
    """422 naming every field at fault, from intake's field errors."""
    return InvalidInput(
        "some fields are invalid",
        errors=[FieldProblem(pointer=e.pointer, message=e.message) for e in errors],
        headers=headers,
    )
