"""Counts every lead refused at the edge in leadrelay_leads_rejected_total{channel,reason}.

A refused request is one answered 4xx or 5xx on a lead channel, whoever answered it: the
body limit (413) in the shared edge, auth (401/403/429), FastAPI's validation (422) or
intake's own problems. Refusals inside a 2xx answer (a batch's rejected rows, a hook's
rejected events, a honeypot, a form redirected to its error page) are counted where they
are decided, so nothing is counted twice.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import metrics

REASONS = {
    400: "malformed",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "idempotency_conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
    503: "unavailable",
}


def channel_of(method: str, path: str) -> str | None:
    """The lead channel a request is on, or None for everything else (reads, config, probes)."""
    if method != "POST":
        return None
    if path == "/v1/leads":
        return "api"
    if path == "/v1/leads/batch":
        return "batch"
    if path.startswith("/v1/forms/"):
        return "form"
    if path.startswith("/v1/hooks/"):
        return "hook"
    return None


def reason_of(status: int) -> str | None:
    if status < 400:
        return None
    return REASONS.get(status, "error" if status >= 500 else "refused")


class RejectionMetrics:
    """ASGI middleware; outermost, so it sees answers the inner edge sends on its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        channel = (
            channel_of(scope.get("method", ""), scope.get("path", ""))
            if scope["type"] == "http"
            else None
        )
        if channel is None:
            await self.app(scope, receive, send)
            return

        async def observe(message: Message) -> None:
            if message["type"] == "http.response.start":
                reason = reason_of(int(message["status"]))
                if reason is not None:
                    metrics.LEADS_REJECTED.labels(channel, reason).inc()
            await send(message)

        await self.app(scope, receive, observe)
