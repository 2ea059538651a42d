"""The leads the bench sends, and its two load shapes: a closed loop (fixed concurrency,
for rates) and an open loop (a fixed arrival rate, for latency). Ours and every baseline
get the same payloads through the same generator."""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from shared.events import LeadData, LeadKeyIssued, LeadReceived, Touch, serialize_event
from shared.pii import DataKey, seal_event


def lead_body(run: str, i: int, touched_at: datetime) -> dict[str, object]:
    """What tests/conftest.py `a_lead()` sends: the default contract qualifies it (VP, US,
    500 employees, a recent form submit); the email is unique, so nothing dedupes."""
    return {
        "email": f"jane.{run}.{i}@acme-{run}-{i}.io",
        "first_name": "Jane",
        "last_name": "Doe",
        "company": "Acme",
        "job_title": "VP Marketing",
        "country": "US",
        "source": "web",
        "attributes": {"employees": 500},
        "touches": [
            {"type": "form_submit", "at": touched_at.isoformat(), "detail": "pricing page"}
        ],
    }


def lead_bodies(n: int) -> list[bytes]:
    """n distinct lead bodies as JSON, built before any clock starts."""
    run = uuid.uuid4().hex[:8]
    touched_at = datetime.now(UTC) - timedelta(hours=1)
    return [json.dumps(lead_body(run, i, touched_at)).encode() for i in range(n)]


def received_events(n: int) -> tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes]]]:
    """n `lead.received` events as intake's relay publishes them: (key = lead id, value),
    personal fields sealed; and the `lead.key` records (for leads.keys) that open them."""
    run = uuid.uuid4().hex[:8]
    now = datetime.now(UTC)
    touch = Touch(type="form_submit", at=now - timedelta(hours=1), detail="pricing page")
    records, keys = [], []
    for i in range(n):
        lead_id = str(uuid.uuid4())
        data = LeadData(
            lead_id=lead_id,
            email=f"jane.{run}.{i}@acme-{run}-{i}.io",
            first_name="Jane",
            last_name="Doe",
            company="Acme",
            job_title="VP Marketing",
            country="US",
            source="web",
            attributes={"employees": 500},
            touches=(touch,),
            received_at=now,
        )
        key = DataKey.new()
        issued = LeadKeyIssued(
            source="/leadrelay/intake", subject=lead_id, data=key.record(lead_id, now)
        )
        keys.append((lead_id.encode(), serialize_event(issued)))
        event = LeadReceived(source="/leadrelay/intake", subject=lead_id, data=data)
        records.append((lead_id.encode(), serialize_event(seal_event(event, key))))
    return records, keys


@dataclass(frozen=True)
class Reply:
    status: int  # 0: no answer (connection error or timeout)
    key: str | None = None  # e.g. the lead id the answer carried

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


Send = Callable[[int], Awaitable[Reply]]
"""Send request number i; never raises (a failure is a Reply with its status)."""


@dataclass
class Rate:
    completed: int
    seconds: float
    statuses: Counter[int] = field(default_factory=Counter)

    @property
    def per_second(self) -> float:
        return self.completed / self.seconds if self.seconds > 0 else 0.0

    @property
    def failures(self) -> str:
        """e.g. "429 x12, 0 x1" for answers that were not 2xx (0 = no answer)."""
        bad = {s: n for s, n in self.statuses.items() if not 200 <= s < 300}
        return ", ".join(f"{s} x{n}" for s, n in sorted(bad.items()))


async def closed_loop(
    send: Send, *, concurrency: int, warmup: float, duration: float, max_requests: int
) -> Rate:
    """`concurrency` workers send back to back; 2xx answers completed inside the timed
    window (after `warmup`) count. Stops at `duration` or `max_requests`, whichever first."""
    numbers = itertools.count()
    start = time.perf_counter()
    t0, t1 = start + warmup, start + warmup + duration
    finished: list[float] = []
    statuses: Counter[int] = Counter()

    async def worker() -> None:
        while time.perf_counter() < t1:
            i = next(numbers)
            if i >= max_requests:
                return
            reply = await send(i)
            end = time.perf_counter()
            if end >= t0:
                statuses[reply.status] += 1
                if reply.ok and end <= t1:
                    finished.append(end)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    window_end = t1 if next(numbers) < max_requests else max(finished, default=t0)
    return Rate(len(finished), window_end - t0, statuses)


@dataclass(frozen=True)
class Answer:
    index: int
    sent_at: float
    answered_at: float
    reply: Reply


async def open_loop(send: Send, *, rate: float, count: int) -> list[Answer]:
    """Request i leaves at start + i/rate whether or not earlier ones were answered
    (no coordinated omission); returns every answer with its perf_counter times."""

    async def timed(i: int) -> Answer:
        sent = time.perf_counter()
        reply = await send(i)
        return Answer(i, sent, time.perf_counter(), reply)

    start = time.perf_counter()
    tasks = []
    for i in range(count):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(timed(i)))
    return list(await asyncio.gather(*tasks))


def achieved_rate(answers: list[Answer]) -> float:
    """Requests per second actually sent (the pacing can slip when the client is busy)."""
    if len(answers) < 2:
        return 0.0
    span = max(a.sent_at for a in answers) - min(a.sent_at for a in answers)
    return (len(answers) - 1) / span if span > 0 else 0.0


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = min(len(ordered), max(1, math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]
