"""Signed webhooks (Standard Webhooks) for tools that do not read Kafka.

Deliveries are rows written in the same transaction as the event they carry (`enqueue`), so
a delivery exists exactly when the event does. A separate loop (`Sender`) leases due rows,
POSTs them outside any transaction with the httpx client it was given, and records each
attempt; a slow or failing receiver costs that loop time, never the handoff itself.

Signing follows https://www.standardwebhooks.com: headers `webhook-id`,
`webhook-timestamp` (Unix seconds) and `webhook-signature` = `v1,<base64 HMAC-SHA256 of
"{id}.{timestamp}.{body}">`, keyed with the base64-decoded part of a `whsec_...` secret.
Any receiver can check deliveries with the `standardwebhooks` or `svix` libraries, or with
`verify` below.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
import random
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, get_args

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.handoff import store
from shared import metrics
from shared.clock import Clock, SystemClock
from shared.events import Event, LeadAssigned, LeadErased, LeadFeedback

log = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"
DEFAULT_TOLERANCE = timedelta(minutes=5)
_SUBSCRIPTIONS_KEY = "leadrelay_webhook_subscriptions"

WebhookEventType = Literal[
    "*",
    "lead.assigned",
    "lead.accepted",
    "lead.rejected",
    "lead.attempt",
    "lead.outcome",
    "lead.sla_warning",
    "lead.sla_breached",
    "lead.reassigned",
    "lead.escalated",
    "lead.recycled",
    "lead.erased",
]
WEBHOOK_EVENT_TYPES: tuple[str, ...] = tuple(t for t in get_args(WebhookEventType) if t != "*")


class WebhookVerificationError(ValueError):
    """The delivery is not from the holder of the secret, or not from now."""


# --- signing ---------------------------------------------------------------------------


def new_secret() -> str:
    """A fresh signing secret: 32 random bytes, base64, with the whsec_ prefix."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    raw = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    except ValueError as exc:
        raise ValueError("a webhook secret is whsec_ followed by base64") from exc
    if not key:
        raise ValueError("the webhook secret is empty")
    return key


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256>` of "{id}.{timestamp}.{body}"."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def signed_headers(secret: str, message_id: str, at: datetime, body: bytes) -> dict[str, str]:
    timestamp = int(at.timestamp())
    return {
        "content-type": "application/json",
        "user-agent": "LeadRelay-Webhooks/1",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id, timestamp, body),
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    tolerance: timedelta = DEFAULT_TOLERANCE,
    *,
    now: datetime | None = None,
) -> Any:
    """Check a delivery and return its parsed JSON body; raise WebhookVerificationError if not.

    Refuses a timestamp more than `tolerance` from `now` either way (a replayed or held-back
    delivery) and accepts any of several space-separated signatures (secret rotation).
    """
    lower = {k.lower(): v for k, v in headers.items()}
    message_id = lower.get("webhook-id")
    stamp = lower.get("webhook-timestamp")
    signatures = lower.get("webhook-signature")
    if not (message_id and stamp and signatures):
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or -signature")
    try:
        timestamp = int(stamp)
    except ValueError as exc:
        raise WebhookVerificationError(f"webhook-timestamp is not a number: {stamp!r}") from exc
    current = (now or datetime.now(UTC)).timestamp()
    if abs(current - timestamp) > tolerance.total_seconds():
        raise WebhookVerificationError(
            f"webhook-timestamp {timestamp} is outside the tolerance of {tolerance}"
        )
    expected = sign(secret, message_id, timestamp, body).encode()
    for candidate in signatures.split():
        if hmac.compare_digest(candidate.encode(), expected):
            return json.loads(body)
    raise WebhookVerificationError("no matching signature")


# --- what is delivered -----------------------------------------------------------------


def webhook_type(event: Event) -> str | None:
    """The webhook event type an event is delivered as, or None if it is never delivered."""
    if isinstance(event, LeadAssigned):
        return "lead.assigned"
    if isinstance(event, LeadFeedback):
        return f"lead.{event.data.kind}"
    if isinstance(event, LeadErased):
        return "lead.erased"
    return None


def webhook_body(event: Event, event_type: str) -> bytes:
    """The Standard Webhooks payload shape: type, timestamp and the event's data."""
    doc = {
        "type": event_type,
        "timestamp": event.time.isoformat(),
        # Over HTTPS to one subscriber: personal fields in clear, the sealed copy left out.
        "data": event.model_dump(
            mode="json",
            exclude_none=True,
            exclude={"data": {"lead": {"personal"}, "personal": True}},
        )["data"],
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def wants(event_types: list[str], event_type: str) -> bool:
    return "*" in event_types or event_type in event_types


async def enqueue(session: AsyncSession, event: Event, *, now: datetime) -> int:
    """Write a delivery row per matching subscription, in the caller's transaction."""
    return await enqueue_many(session, [event], now=now)


async def enqueue_many(session: AsyncSession, events: Sequence[Event], *, now: datetime) -> int:
    """Write a delivery row per event and matching subscription, in one statement."""
    typed = [(event, t) for event in events if (t := webhook_type(event)) is not None]
    if not typed:
        return 0
    # Read once per session (a request, a consumer batch, a scanner batch), not per event.
    active = session.info.get(_SUBSCRIPTIONS_KEY)
    if active is None:
        active = session.info[_SUBSCRIPTIONS_KEY] = await store.list_subscriptions(session)
    rows: list[dict[str, Any]] = []
    for event, event_type in typed:
        subs = [s for s in active if wants(s["event_types"], event_type)]
        if not subs:
            continue
        body = webhook_body(event, event_type)
        rows += [
            {
                "subscription_id": s["id"],
                "message_id": event.id,
                "event_type": event_type,
                "lead_id": event.subject,
                "payload": body,
                "status": "pending",
                "attempts": 0,
                "created_at": now,
                "next_attempt_at": None,
            }
            for s in subs
        ]
    await store.add_deliveries(session, rows)
    return len(rows)


# --- retry policy ----------------------------------------------------------------------


def retry_delay(
    attempt: int, *, base: float, cap: float, rng: Callable[[float, float], float]
) -> float:
    """Seconds before the next try after `attempt` failures: exponential, equal jitter.

    Half the exponential step is kept, half is random, so a receiver that comes back is not
    hit by every sender at the same instant and no retry comes sooner than half its step.
    """
    step = min(cap, base * 2.0 ** max(0, attempt - 1))
    return step / 2 + float(rng(0, step / 2))


@dataclass
class SenderConfig:
    max_attempts: int = 12
    backoff_seconds: float = 15.0
    backoff_max_seconds: float = 6 * 3600.0
    timeout_seconds: float = 10.0
    batch_size: int = 50
    concurrency: int = 10
    poll_seconds: float = 1.0


@dataclass
class _Result:
    delivery: dict[str, Any]
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass
class Sender:
    """Sends due deliveries; `deliver_once` is one pass, `run` loops until `stop`."""

    sessionmaker: async_sessionmaker[AsyncSession]
    client: httpx.AsyncClient
    config: SenderConfig = field(default_factory=SenderConfig)
    clock: Clock = field(default_factory=SystemClock)
    rng: random.Random = field(default_factory=random.Random)
    _stopping: bool = False
    _wake: asyncio.Event = field(default_factory=asyncio.Event)

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        while not self._stopping:
            try:
                sent = await self.deliver_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database is down: the rows wait, the loop retries
                log.warning("webhook sender pass failed", exc_info=True)
                sent = 0
            if sent >= self.config.batch_size:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.config.poll_seconds)
            self._wake.clear()

    async def deliver_once(self) -> int:
        """Lease due deliveries, POST them concurrently, record every attempt."""
        now = self.clock.now()
        lease = timedelta(seconds=self.config.timeout_seconds * 2 + 5)
        async with self.sessionmaker() as session, session.begin():
            due = await store.lease_due_deliveries(
                session, now, now + lease, self.config.batch_size
            )
        if not due:
            await self._observe_backlog()
            return 0
        gate = asyncio.Semaphore(self.config.concurrency)

        async def send(delivery: dict[str, Any]) -> _Result:
            async with gate:
                return await self._post(delivery)

        results = await asyncio.gather(*(send(d) for d in due))
        async with self.sessionmaker() as session, session.begin():
            for result in results:
                await self._record(session, result)
        await self._observe_backlog()
        return len(due)

    async def _post(self, delivery: dict[str, Any]) -> _Result:
        at = self.clock.now()
        body: bytes = delivery["payload"]
        headers = signed_headers(delivery["secret"], delivery["message_id"], at, body)
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            answer = await self.client.post(
                delivery["url"],
                content=body,
                headers=headers,
                timeout=self.config.timeout_seconds,
                follow_redirects=False,
            )
            status = answer.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        duration = round((time.perf_counter() - started) * 1000)
        return _Result(delivery, at, status, error, duration)

    async def _record(self, session: AsyncSession, result: _Result) -> None:
        delivery = result.delivery
        number = int(delivery["attempts"]) + 1
        values: dict[str, Any] = {
            "attempts": number,
            "last_attempt_at": result.at,
            "last_status_code": result.status_code,
            "last_error": result.error,
            "leased_until": None,
        }
        if result.ok:
            values.update(status="delivered", delivered_at=result.at, next_attempt_at=None)
            outcome = "delivered"
        elif number >= self.config.max_attempts or result.status_code == 410:
            # 410 Gone: the receiver says the endpoint is gone for good (Standard Webhooks).
            values.update(status="dead", next_attempt_at=None)
            outcome = "dead"
        else:
            delay = retry_delay(
                number,
                base=self.config.backoff_seconds,
                cap=self.config.backoff_max_seconds,
                rng=self.rng.uniform,
            )
            values["next_attempt_at"] = result.at + timedelta(seconds=delay)
            outcome = "failed"
        await store.record_delivery_attempt(
            session,
            int(delivery["id"]),
            {
                "number": number,
                "at": result.at,
                "status_code": result.status_code,
                "error": result.error,
                "duration_ms": result.duration_ms,
            },
            values,
        )
        metrics.WEBHOOK_DELIVERIES.labels(outcome).inc()

    async def _observe_backlog(self) -> None:
        with contextlib.suppress(Exception):
            async with self.sessionmaker() as session:
                metrics.WEBHOOK_BACKLOG.set(await store.webhook_backlog(session))
