"""The soak's traffic (bench/soak.py): the leads it offers (a mix the default contract
partly qualifies), a watcher that follows leads.scored and leads.handoff, and the reps who
answer each `lead.assigned` through handoff's feedback API like a sales tool would."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.client import Pool, auth
from bench.kafka_io import FETCH_MAX_WAIT_MS, MAX_RECORDS
from shared.events import TOPIC_HANDOFF, TOPIC_SCORED, LeadAssigned

# --- the leads -------------------------------------------------------------------------

PROFILES = (("hot", 45), ("warm", 20), ("nurture", 20), ("disqualified", 15))
"""Under contracts/default.yaml hot and warm qualify (65%), the rest do not."""
QUALIFYING = frozenset({"hot", "warm"})
SHARED_DOMAINS = 40
"""A tenth of the leads come from these few companies, so account matching has owners."""


class LeadMix:
    """Lead i's body and profile, made when it is sent (the client stays flat in memory)."""

    def __init__(self, run: str, seed: int) -> None:
        self.run = run
        self.rng = random.Random(seed)
        self.touched_at = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
        self.names = [name for name, _ in PROFILES]
        self.weights = [weight for _, weight in PROFILES]

    def next(self, i: int) -> tuple[str, bytes]:
        rng = self.rng
        profile = rng.choices(self.names, self.weights)[0]
        country = rng.choice(("US", "US", "CA", "GB", "DE"))
        if rng.random() < 0.1:
            domain = f"shared-{rng.randrange(SHARED_DOMAINS)}-{self.run}.io"
        else:
            domain = f"acme-{self.run}-{i}.io"
        title, employees, touch = {
            "hot": ("VP Marketing", 500, "form_submit"),
            "warm": ("Director of Operations", 350, "form_submit"),
            "nurture": ("Marketing Manager", 60, "email_click"),
            "disqualified": ("Student", 30, "email_click"),
        }[profile]
        email = f"lead.{self.run}.{i}@{domain}"
        if profile == "disqualified":
            email = f"lead.{self.run}.{i}@gmail.com"
        body = {
            "email": email,
            "first_name": "Jane",
            "last_name": f"Doe{i}",
            "company": "Acme",
            "job_title": title,
            "country": country,
            "source": rng.choice(("web", "web", "campaign", "event")),
            "attributes": {"employees": employees},
            "touches": [{"type": touch, "at": self.touched_at, "detail": "pricing page"}],
        }
        return profile, json.dumps(body).encode()


# --- what the flow did, as the soak saw it ---------------------------------------------


@dataclass
class Tally:
    """Everything counted; `counts` are running totals the interval rows difference."""

    counts: Counter[str] = field(default_factory=Counter)
    post_status: Counter[int] = field(default_factory=Counter)
    feedback_status: Counter[str] = field(default_factory=Counter)
    accepted: dict[str, str] = field(default_factory=dict)  # lead_id -> profile sent
    scored: dict[str, str] = field(default_factory=dict)  # lead_id -> decision outcome
    assigned: dict[str, float] = field(default_factory=dict)  # lead_id -> first seen at
    answered: set[str] = field(default_factory=set)
    answer_ms: list[float] = field(default_factory=list)  # assigned seen -> answered
    post_ms: list[float] = field(default_factory=list)

    def qualified(self) -> set[str]:
        return {k for k, v in self.scored.items() if v == "qualified"}


# --- leads.scored and leads.handoff ----------------------------------------------------


class Watcher:
    """A plain consumer (no group) on leads.scored and leads.handoff from the beginning:
    notes each decision, and queues each `lead.assigned` for the reps."""

    def __init__(self, bootstrap: str, tally: Tally, jobs: asyncio.Queue[Job]) -> None:
        self.bootstrap = bootstrap
        self.tally = tally
        self.jobs = jobs
        self.assigned_type = LeadAssigned.TYPE.encode()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        c = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        )
        await c.start()
        try:
            tps = await partitions(c, (TOPIC_SCORED, TOPIC_HANDOFF))
            c.assign(tps)
            await c.seek_to_beginning(*tps)
            task = asyncio.create_task(self._loop(c))
            try:
                yield
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        finally:
            await asyncio.wait_for(c.stop(), timeout=10)

    async def _loop(self, c: AIOKafkaConsumer) -> None:
        while True:
            batch = await c.getmany(timeout_ms=200, max_records=MAX_RECORDS)
            now = time.perf_counter()
            for tp, msgs in batch.items():
                for m in msgs:
                    if tp.topic == TOPIC_SCORED:
                        self._scored(m.value)
                    elif dict(m.headers).get("ce_type") == self.assigned_type:
                        self._assigned(m.value, now)

    def _scored(self, value: bytes) -> None:
        data = json.loads(value)["data"]
        lead_id = data["lead"]["lead_id"]
        if lead_id not in self.tally.scored:
            self.tally.counts["scored"] += 1
        self.tally.scored[lead_id] = data["decision"]["outcome"]

    def _assigned(self, value: bytes, now: float) -> None:
        data = json.loads(value)["data"]
        lead_id = data["lead_id"]
        if lead_id not in self.tally.assigned:
            self.tally.assigned[lead_id] = now
            self.tally.counts["assigned"] += 1
        else:
            self.tally.counts["reassigned"] += 1
        assigned_at = datetime.fromisoformat(data["assigned_at"].replace("Z", "+00:00"))
        self.jobs.put_nowait(Job(lead_id, data["rep_id"], assigned_at, now))


async def partitions(
    c: AIOKafkaConsumer, topics: tuple[str, ...], timeout: float = 15.0
) -> list[TopicPartition]:
    deadline = time.monotonic() + timeout
    tps: list[TopicPartition] = []
    for topic in topics:
        while not (parts := c.partitions_for_topic(topic)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"topic {topic} has no partitions after {timeout}s")
            await c._client.force_metadata_update()
            await asyncio.sleep(0.1)
        tps += [TopicPartition(topic, p) for p in sorted(parts)]
    return tps


# --- the reps --------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    lead_id: str
    rep_id: str
    assigned_at: datetime
    seen: float  # perf_counter when the watcher read the lead.assigned


class Reps:
    """Like a sales tool: for each assignment the rep accepts and logs a first attempt;
    a quarter get a second attempt; 15% become an opportunity, of which some are won or
    lost. Every report goes through handoff's API; statuses are tallied per call."""

    def __init__(self, pool: Pool, keys: list[str], tally: Tally, seed: int) -> None:
        self.pool = pool
        self.keys = keys
        self.tally = tally
        self.rng = random.Random(seed)
        self.calls = 0
        self.busy = 0

    async def work(self, jobs: asyncio.Queue[Job]) -> None:
        while True:
            job = await jobs.get()
            self.busy += 1
            try:
                if await self._answer(job):
                    self.tally.answered.add(job.lead_id)
                    self.tally.counts["answered"] += 1
                    self.tally.answer_ms.append((time.perf_counter() - job.seen) * 1000)
            finally:
                self.busy -= 1
                jobs.task_done()

    async def _answer(self, job: Job) -> bool:
        rng = self.rng
        rep: dict[str, Any] = {"rep_id": job.rep_id}
        ok = await self._post("accept", job, rep)
        attempts = 2 if rng.random() < 0.25 else 1
        for n in range(attempts):
            at = max(datetime.now(UTC), job.assigned_at + timedelta(milliseconds=1))
            body = {
                **rep,
                "attempt_id": f"soak-{job.lead_id}-{job.rep_id}-{n}",
                "channel": ("call", "email")[n],
                "outcome": rng.choice(("no_answer", "voicemail", "connected")),
                "at": at.isoformat(),
            }
            ok &= await self._post("attempts", job, body)
        roll = rng.random()
        if roll < 0.15:
            amount = 5_000 + 500 * rng.randrange(40)
            body = {**rep, "stage": "opportunity", "amount": amount, "currency": "USD"}
            ok &= await self._post("outcome", job, body)
            if roll < 0.06:
                ok &= await self._post("outcome", job, {**rep, "stage": "won"})
            elif roll < 0.09:
                ok &= await self._post("outcome", job, {**rep, "stage": "lost", "reason": "price"})
        return ok

    async def _post(self, what: str, job: Job, body: dict[str, Any]) -> bool:
        self.calls += 1
        headers = {"Content-Type": "application/json", **auth(self.keys, self.calls)}
        path = f"/v1/leads/{job.lead_id}/{what}"
        status, _ = await self.pool.post(path, json.dumps(body).encode(), headers)
        self.tally.feedback_status[f"{what} {status}"] += 1
        self.tally.counts["feedback_calls"] += 1
        return 200 <= status < 300
