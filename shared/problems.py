"""Errors as application/problem+json (RFC 9457): type, title, status, detail, and the fields.

Domain errors are classes with a status; they are rendered once here and declared in
routes' `responses=` so the OpenAPI document shows them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.db import is_transient

PROBLEM_JSON = "application/problem+json"


class FieldProblem(BaseModel):
    pointer: str = Field(description="JSON pointer to the field at fault, e.g. /email")
    message: str


class Problem(BaseModel):
    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldProblem] = Field(default_factory=list)


class ProblemError(Exception):
    status = 400
    title = "Bad request"
    type = "about:blank"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: Sequence[FieldProblem] = (),
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.errors = list(errors)
        self.headers = headers or {}
        self.extra = extra or {}

    def to_problem(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
        }
        if self.detail:
            body["detail"] = self.detail
        if self.errors:
            body["errors"] = [e.model_dump() for e in self.errors]
        body.update(self.extra)
        return body


class NotFound(ProblemError):
    status = 404
    title = "Not found"
    type = "https://leadrelay.dev/problems/not-found"


class InvalidInput(ProblemError):
    status = 422
    title = "Invalid input"
    type = "https://leadrelay.dev/problems/invalid-input"


class Conflict(ProblemError):
    status = 409
    title = "Conflict"
    type = "https://leadrelay.dev/problems/conflict"


class Unauthorized(ProblemError):
    status = 401
    title = "Missing or unknown API key"
    type = "https://leadrelay.dev/problems/unauthorized"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(ProblemError):
    status = 403
    title = "This key's scopes do not allow this"
    type = "https://leadrelay.dev/problems/forbidden"


class TooManyRequests(ProblemError):
    status = 429
    title = "Rate limit exceeded"
    type = "https://leadrelay.dev/problems/rate-limited"


class Unavailable(ProblemError):
    status = 503
    title = "A dependency is unavailable; retry"
    type = "https://leadrelay.dev/problems/unavailable"

    def __init__(self, detail: str | None = None, retry_after: int = 5) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


def problem_responses(*errors: type[ProblemError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the errors a route can answer with."""
    out: dict[int | str, dict[str, Any]] = {}
    for err in errors:
        out[err.status] = {
            "model": Problem,
            "description": err.title,
            "content": {PROBLEM_JSON: {}},
        }
    return out


def pointer(loc: Sequence[int | str]) -> str:
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in loc]
    return "/" + "/".join(parts) if parts else ""


def validation_problems(errors: Sequence[Any]) -> list[FieldProblem]:
    """pydantic/FastAPI errors -> pointers and plain messages (no library URLs)."""
    out = []
    for err in errors:
        loc = list(err.get("loc", ()))
        if loc and loc[0] in ("body", "query", "path", "header"):
            kind = loc.pop(0)
            if kind != "body":
                loc = [kind, *loc]
        msg = str(err.get("msg", "invalid"))
        if err.get("type") == "extra_forbidden":
            msg = "unknown field"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        out.append(FieldProblem(pointer=pointer(loc), message=msg))
    return out


def _render(exc: ProblemError) -> JSONResponse:
    return JSONResponse(
        exc.to_problem(), status_code=exc.status, headers=exc.headers, media_type=PROBLEM_JSON
    )


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ProblemError)
        return _render(exc)

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errs = list(exc.errors())
        if any(e.get("type") == "json_invalid" for e in errs):
            detail = "; ".join(
                str(e.get("ctx", {}).get("error", ""))
                for e in errs
                if e.get("type") == "json_invalid"
            )
            err = ProblemError(f"the body is not valid JSON: {detail}".strip())
            err.title = "Malformed JSON"
            return _render(err)
        return _render(InvalidInput("some fields are invalid", errors=validation_problems(errs)))

    async def on_http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        err = ProblemError(str(exc.detail), headers=dict(exc.headers or {}))
        err.status = exc.status_code
        err.title = str(exc.detail)
        return _render(err)

    async def on_any(_: Request, exc: Exception) -> JSONResponse:
        if is_transient(exc):
            return _render(Unavailable("the database or the broker is unavailable"))
        err = ProblemError("unexpected error; it has been logged")
        err.status = 500
        err.title = "Internal error"
        return _render(err)

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_any)
