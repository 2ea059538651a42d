"""The fault-injection harness (issue #7).

- `Stack`: Tansu and the three services as real processes on one real PostgreSQL database
  (a schema per service), each service logging to its own file; start, kill (SIGKILL),
  restart on the same port, wait for `/readyz`. The tails of every log are attached to the
  report of a failed test.
- `LeadPoster`: posts leads the way a careful client does: one Idempotency-Key per lead,
  the same key on every retry, retrying a 503/429 (after Retry-After, capped at 1 s), a
  refused connection and a lost answer. Every answer is counted; an answer a client should
  never get (a 500, a 503 without Retry-After, a 4xx for a valid lead) is recorded.
- `audit`: the check every fault test ends with, reading the databases and the topics
  directly: nothing lost, nothing twice, every topic reconciled with the databases, no
  outbox backlog. It has no excuses, not even for a broker that came back empty.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Collection, Coroutine, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import yaml
from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.events import (
    TOPIC_HANDOFF,
    TOPIC_RECEIVED,
    TOPIC_SCORED,
    LeadAssigned,
    LeadReceived,
    LeadScored,
)
from shared.tansu import free_port, start_tansu
from tests.conftest import a_lead

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("intake", "scoring", "handoff")
SCHEMAS = SERVICES
HARNESS_APP = "leadrelay-faults"
"""application_name of the harness's own database connections: a database cut spares them."""
POISON = "poison-"
"""Key prefix of the messages a test produces itself; the topic audit leaves them out."""

_PR_SET_PDEATHSIG = 1
_prctl = getattr(ctypes.CDLL(None), "prctl", None) if sys.platform == "linux" else None


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL it when the test process dies, so no service
    outlives a run killed by CI. (prctl is looked up before the fork, not in the child.)"""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def asyncpg_dsn(url: str) -> str:
    """The SQLAlchemy URL of the test database as a plain libpq DSN for asyncpg."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def roomy_reps(source: Path, target: Path, capacity: int = 100_000) -> None:
    """The reps seed with capacities so large that no lead ever queues for capacity."""
    doc = yaml.safe_load(source.read_text())
    for rep in doc["reps"]:
        rep["capacity"] = capacity
    target.write_text(yaml.safe_dump(doc, sort_keys=False))


# --- processes ----------------------------------------------------------------------------


@dataclass
class Service:
    name: str
    service: str
    port: int
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class Stack:
    """Tansu + the services as processes, configured only by the environment."""

    def __init__(self, tmp: Path, db_url: str, keys_file: Path, api_key: str) -> None:
        self.tmp = tmp
        self.db_url = db_url
        self.api_key = api_key
        self.broker_port = free_port()
        self.bootstrap = f"127.0.0.1:{self.broker_port}"
        self.broker: subprocess.Popen[bytes] | None = None
        self.broker_log = tmp / "tansu.log"
        self.services: dict[str, Service] = {}
        self.notes: list[str] = []
        self.born = time.monotonic()
        self._db: asyncpg.Connection | None = None
        reps_file = tmp / "reps.yaml"
        roomy_reps(REPO / "contracts" / "reps.yaml", reps_file)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("LEADRELAY_")}
        self.env.update(
            {
                "LEADRELAY_DATABASE_URL": db_url,
                "LEADRELAY_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
                "LEADRELAY_KEYS_FILE": str(keys_file),
                "LEADRELAY_HANDOFF_REPS_FILE": str(reps_file),
                "LEADRELAY_LOG_LEVEL": "WARNING",
                "LEADRELAY_OUTBOX_POLL_SECONDS": "0.2",
                # Tansu holds a group's join for half the session timeout: 2 s at every
                # start instead of 5 s, and a killed replica's partitions move sooner.
                "LEADRELAY_KAFKA_SESSION_TIMEOUT_MS": "4000",
                # A key must outwait a rebalance (at least twice the session timeout, or the
                # services refuse to start): a key on a killed replica's partition is on its
                # way, not lost; a poison's key that never comes is dead-lettered after this.
                "LEADRELAY_KEY_WAIT_SECONDS": "10",
                # The poster is one API key at ~100/s: the per-key rate limit is not under test.
                "LEADRELAY_INTAKE_RATE_LIMIT_PER_SECOND": "100000",
                "LEADRELAY_INTAKE_RATE_LIMIT_BURST": "100000",
                "PYTHONUNBUFFERED": "1",
            }
        )

    # the broker

    async def start_broker(self) -> None:
        """Tansu on this stack's port (the same port on every start)."""
        if self.broker is not None and self.broker.poll() is None:
            raise RuntimeError("the broker is already running")
        with self.broker_log.open("ab") as out:
            out.write(f"\n--- broker start at {time.time():.3f} ---\n".encode())
        self.broker = await asyncio.to_thread(start_tansu, self.broker_port, log=self.broker_log)

    def kill_broker(self) -> None:
        if self.broker is not None and self.broker.poll() is None:
            self.broker.kill()
            self.broker.wait(timeout=10)

    # the services

    def start(self, service: str, name: str | None = None) -> Service:
        """Start a service process (a replica when `name` differs); again on its old port."""
        name = name or service
        svc = self.services.get(name)
        if svc is None:
            svc = Service(name, service, free_port(), self.tmp / f"{name}.log")
            self.services[name] = svc
        if svc.alive:
            raise RuntimeError(f"{name} is already running")
        svc.starts += 1
        with svc.log.open("ab") as out:
            out.write(f"\n--- {name} start #{svc.starts} at {time.time():.3f} ---\n".encode())
            out.flush()
            svc.proc = subprocess.Popen(
                [sys.executable, "-m", "services.cli", "serve", service, "--port", str(svc.port)],
                cwd=REPO,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,  # only ever called from the main thread
            )
        return svc

    async def up(self, replicas: dict[str, int] | None = None, timeout: float = 90.0) -> None:
        """The broker and every service (`replicas`: processes per service, 1 by default)."""
        await self.start_broker()
        for service in SERVICES:
            count = (replicas or {}).get(service, 1)
            for i in range(1, count + 1):
                self.start(service, service if count == 1 else f"{service}-{i}")
        await self.wait_ready(timeout=timeout)
        self.note(f"up: {', '.join(self.services)}")

    def url(self, name: str = "intake") -> str:
        return self.services[name].url

    async def wait_ready(self, *names: str, timeout: float = 60.0) -> None:
        """Until every named service (all by default) answers /readyz 200."""
        pending = set(names or self.services)
        last: dict[str, str] = {}
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2.0) as client:
            while pending:
                for name in sorted(pending):
                    svc = self.services[name]
                    if not svc.alive:
                        code = svc.proc.returncode if svc.proc else None
                        raise RuntimeError(f"{name} exited ({code}) before it was ready")
                    try:
                        answer = await client.get(f"{svc.url}/readyz")
                    except httpx.HTTPError as exc:
                        last[name] = repr(exc)
                        continue
                    if answer.status_code == 200:
                        pending.discard(name)
                    else:
                        last[name] = answer.text[:300]
                if not pending:
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"not ready after {timeout}s: {last}")
                await asyncio.sleep(0.1)

    async def readiness(self) -> dict[str, str]:
        """Each service's /readyz status and checks, for a diagnosis ("ready, yet stalled")."""
        out: dict[str, str] = {}
        async with httpx.AsyncClient(timeout=3.0) as client:
            for name, svc in self.services.items():
                if not svc.alive:
                    out[name] = "not running"
                    continue
                try:
                    answer = await client.get(f"{svc.url}/readyz")
                except httpx.HTTPError as exc:
                    out[name] = repr(exc)
                    continue
                out[name] = f"{answer.status_code}: {answer.text[:300]}"
        return out

    def kill(self, name: str) -> None:
        """SIGKILL: no shutdown hook runs, no offset is committed, no transaction finishes."""
        svc = self.services[name]
        assert svc.proc is not None, f"{name} was never started"
        assert svc.alive, f"{name} is not running"
        svc.proc.send_signal(signal.SIGKILL)
        svc.proc.wait(timeout=10)
        self.note(f"killed {name} (SIGKILL)")

    async def restart(self, name: str, timeout: float = 60.0) -> None:
        svc = self.services[name]
        self.start(svc.service, name)
        await self.wait_ready(name, timeout=timeout)
        self.note(f"{name} restarted and ready")

    async def close(self) -> None:
        """Kill everything this stack started (services first, then the broker)."""
        for svc in self.services.values():
            if svc.alive and svc.proc is not None:
                svc.proc.kill()
        for svc in self.services.values():
            if svc.proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    svc.proc.wait(timeout=10)
        self.kill_broker()
        if self._db is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._db.close(), timeout=5)

    def note(self, line: str) -> None:
        """What happened when (seconds since the stack was made), for the test's report."""
        line = f"[{time.monotonic() - self.born:6.1f}s] {line}"
        self.notes.append(line)
        print(line)

    def tails(self, lines: int = 40) -> str:
        """The last `lines` distinct messages of every log, each with its count."""
        out = []
        for path in [*(s.log for s in self.services.values()), self.broker_log]:
            if path.exists():
                text = _collapse(path.read_text(errors="replace").splitlines())[-lines:]
                out.append(f"==> {path.name} (last {len(text)} lines) <==\n" + "\n".join(text))
        return "\n\n".join(out)

    # the database, read directly

    async def db(self) -> asyncpg.Connection:
        if self._db is None or self._db.is_closed():
            self._db = await asyncpg.connect(
                asyncpg_dsn(self.db_url),
                timeout=5,
                server_settings={"application_name": HARNESS_APP},
            )
        return self._db

    async def count(self, sql: str) -> int:
        conn = await self.db()
        return int(await asyncio.wait_for(conn.fetchval(sql), timeout=10))

    async def wait_count(self, sql: str, at_least: int, timeout: float = 60.0) -> int:
        """Poll a count query until it reaches `at_least` (the moment to inject a fault)."""
        deadline = time.monotonic() + timeout
        while True:
            n = await self.count(sql)
            if n >= at_least:
                return n
            if time.monotonic() > deadline:
                raise TimeoutError(f"{sql!r} stayed at {n} < {at_least} for {timeout}s")
            await asyncio.sleep(0.02)


_TIMESTAMP = re.compile(r'"ts": "[^"]*", ')


def _collapse(lines: list[str]) -> list[str]:
    """Each distinct message once (timestamps aside), ordered by its last occurrence, with
    its count: a client retrying every 100 ms would otherwise fill any tail."""
    seen: dict[str, tuple[int, int, str]] = {}
    for i, line in enumerate(lines):
        message = _TIMESTAMP.sub("", line)
        count = seen[message][1] + 1 if message in seen else 1
        seen[message] = (i, count, line)
    ordered = sorted(seen.values())
    return [line if count == 1 else f"{line}  [x{count}]" for _, count, line in ordered]


@pytest.fixture
async def stack(tmp_path: Path, pg_url: str, keys_file: Path, api_key: str) -> AsyncIterator[Stack]:
    the_stack = Stack(tmp_path, pg_url, keys_file, api_key)
    try:
        yield the_stack
    finally:
        await the_stack.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item,
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed fault test carries the tail of every process log; every one its notes."""
    report = yield
    the_stack = getattr(item, "funcargs", {}).get("stack")
    if isinstance(the_stack, Stack):
        if report.when == "call" and the_stack.notes:
            report.sections.append(("fault notes", "\n".join(the_stack.notes)))
        if report.failed:
            report.sections.append(("process logs (tails)", the_stack.tails()))
    return report


# --- a client that retries like one should -----------------------------------------------


@dataclass
class LeadPoster:
    url: str
    api_key: str
    give_up_after: float = 120.0
    accepted: dict[str, str] = field(default_factory=dict)
    """Idempotency-Key -> the lead_id intake answered 202 with."""
    answers: Counter[str] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    given_up: list[str] = field(default_factory=list)

    @property
    def lead_ids(self) -> set[str]:
        return set(self.accepted.values())

    async def post(self, n: int, *, rate: float = 100.0, concurrency: int = 16) -> None:
        """Post `n` new leads at about `rate` per second; return when each is accepted."""
        gate = asyncio.Semaphore(concurrency)
        async with httpx.AsyncClient(timeout=10.0) as client:

            async def one() -> None:
                async with gate:
                    await self.post_one(client, a_lead(), str(uuid.uuid4()))

            loop = asyncio.get_running_loop()
            start = loop.time()
            tasks: list[asyncio.Task[None]] = []
            try:
                for i in range(n):
                    tasks.append(asyncio.create_task(one()))
                    await asyncio.sleep(max(0.0, start + (i + 1) / rate - loop.time()))
                await asyncio.gather(*tasks)
            finally:
                for task in tasks:
                    task.cancel()

    async def post_one(self, client: httpx.AsyncClient, body: dict[str, Any], key: str) -> None:
        headers = {"Authorization": f"Bearer {self.api_key}", "Idempotency-Key": key}
        deadline = time.monotonic() + self.give_up_after
        while True:
            pause = 0.2
            try:
                answer = await client.post(f"{self.url}/v1/leads", json=body, headers=headers)
            except httpx.TransportError as exc:  # refused, reset, timed out: the outcome is unknown
                self.answers[type(exc).__name__] += 1
            else:
                status = answer.status_code
                replayed = answer.headers.get("Idempotent-Replayed") == "true"
                self.answers[f"{status} replayed" if replayed else str(status)] += 1
                if status == 202:
                    if answer.json().get("status") == "accepted":
                        self.accepted[key] = answer.json()["lead_id"]
                    else:  # a new person, never seen: a merge would be wrong
                        self.unexpected.append(f"{status} {answer.text[:300]}")
                    return
                if status in (429, 503) and "Retry-After" in answer.headers:
                    pause = _retry_after(answer.headers["Retry-After"])
                elif status >= 500:  # a client retries it, but it must not happen
                    self.unexpected.append(f"{status} {answer.text[:300]}")
                else:  # a 4xx for a valid lead: retrying would change nothing
                    self.unexpected.append(f"{status} {answer.text[:300]}")
                    return
            if time.monotonic() > deadline:
                self.given_up.append(key)
                return
            await asyncio.sleep(pause)

    def summary(self) -> str:
        return f"posted {len(self.accepted)} accepted; answers {dict(sorted(self.answers.items()))}"


@contextlib.asynccontextmanager
async def meanwhile(work: Coroutine[Any, Any, None]) -> AsyncIterator[asyncio.Task[None]]:
    """Run `work` (the load) while the body injects a fault; wait for it after the body,
    or cancel it if the body failed."""
    task = asyncio.create_task(work)
    try:
        yield task
    except BaseException:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        raise
    await task


def _retry_after(value: str) -> float:
    try:
        return min(max(float(value), 0.05), 1.0)
    except ValueError:
        return 1.0


# --- the topics, read directly ------------------------------------------------------------


async def topic_snapshot(
    bootstrap: str, topic: str, *, idle: float = 1.0, timeout: float = 30.0
) -> list[dict[str, Any]]:
    """Every record on `topic` now, duplicates included (which `read_topic`, stopping once
    satisfied, cannot promise). Read from the beginning past the end offsets until nothing
    new came for `idle` seconds: Tansu's ListOffsets answers an end offset that can lag the
    log by a few records, so it is a lower bound only. Call it once the producers are idle.
    Each record: key, value (parsed JSON, or the raw bytes), headers, partition, offset."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        fetch_max_wait_ms=10,
        auto_offset_reset="earliest",
    )
    await asyncio.wait_for(consumer.start(), timeout=15)
    records: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + timeout
        parts = consumer.partitions_for_topic(topic)
        while not parts:
            if time.monotonic() > deadline:
                return records
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topic)
            if not parts:
                await asyncio.sleep(0.1)
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        quiet_since = time.monotonic()
        while True:
            batch = await consumer.getmany(timeout_ms=100, max_records=2000)
            for msgs in batch.values():
                records.extend(_record(m) for m in msgs)
            now = time.monotonic()
            if batch:
                quiet_since = now
            elif now - quiet_since >= idle and all(
                [await consumer.position(tp) >= ends[tp] for tp in tps]
            ):
                return records
            if now > deadline:
                raise TimeoutError(f"{topic}: still reading after {timeout}s")
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(consumer.stop(), timeout=10)


def _record(m: Any) -> dict[str, Any]:
    try:
        value: Any = json.loads(m.value) if m.value is not None else None
    except (ValueError, TypeError):
        value = m.value
    return {
        "key": m.key.decode("utf-8", "replace") if m.key else None,
        "value": value,
        "headers": {k: v.decode("utf-8", "replace") for k, v in m.headers},
        "partition": m.partition,
        "offset": m.offset,
    }


# --- the audit ----------------------------------------------------------------------------


@dataclass
class DbState:
    intake: set[str]
    decisions: dict[str, str]
    """lead_id -> outcome"""
    handoff: dict[str, str]
    """lead_id -> status"""
    assignments: dict[str, tuple[int, int]]
    """lead_id -> (open assignments, all assignments)"""
    backlog: dict[str, int]
    resent: dict[str, int] = field(default_factory=dict)
    """Outbox rows marked sent more than once (a relay sent them again), per schema."""

    @property
    def qualified(self) -> set[str]:
        return {lead for lead, outcome in self.decisions.items() if outcome == "qualified"}

    def waiting_for(self) -> dict[str, Any]:
        """What the pipeline still owes; empty once it has settled."""
        owed: dict[str, Any] = {}
        unscored = self.intake - set(self.decisions)
        if unscored:
            owed["not scored"] = _sample(unscored)
        unrouted = set(self.decisions) - set(self.handoff)
        if unrouted:
            owed["scored, unknown to handoff"] = _sample(unrouted)
        unassigned = {
            lead
            for lead in self.qualified
            if lead in self.handoff and self.handoff[lead] != "assigned"
        }
        if unassigned:
            owed["qualified, not assigned"] = {
                lead: self.handoff[lead] for lead in sorted(unassigned)[:5]
            } | {"count": len(unassigned)}
        if any(self.backlog.values()):
            owed["outbox backlog"] = self.backlog
        return owed


def _sample(ids: Collection[str]) -> dict[str, Any]:
    return {"count": len(ids), "some": sorted(ids)[:5]}


async def _db_state(conn: asyncpg.Connection) -> DbState:
    async def ids(sql: str) -> set[str]:
        return {r[0] for r in await conn.fetch(sql)}

    state = DbState(
        intake=await ids("select lead_id from intake.leads"),
        decisions={
            r[0]: r[1] for r in await conn.fetch("select lead_id, outcome from scoring.decisions")
        },
        handoff={r[0]: r[1] for r in await conn.fetch("select lead_id, status from handoff.leads")},
        assignments={
            r[0]: (r[1], r[2])
            for r in await conn.fetch(
                "select lead_id, count(*) filter (where ended_at is null), count(*)"
                " from handoff.assignments group by lead_id"
            )
        },
        backlog={
            s: int(
                await conn.fetchval(
                    f"select count(*) from {s}.outbox_messages where sent_at is null"
                )
            )
            for s in SCHEMAS
        },
    )
    state.resent = {
        s: int(await conn.fetchval(f"select count(*) from {s}.outbox_messages where attempts > 1"))
        for s in SCHEMAS
    }
    return state


@dataclass
class TopicCount:
    topic: str
    messages: int
    events: int
    leads: int

    @property
    def duplicates(self) -> int:
        """Messages delivered more than once (same event id): allowed, at-least-once."""
        return self.messages - self.events


@dataclass
class AuditReport:
    state: DbState
    topics: list[TopicCount]

    def summary(self) -> str:
        s = self.state
        lines = [
            f"audit: {len(s.intake)} leads, {len(s.decisions)} decisions "
            f"({len(s.qualified)} qualified), "
            f"{sum(1 for v in s.handoff.values() if v == 'assigned')} assigned",
        ]
        if any(s.resent.values()):
            lines.append(f"  outbox rows sent more than once: {s.resent}")
        lines.extend(
            f"  {t.topic}: {t.messages} messages, {t.events} events, {t.leads} leads, "
            f"{t.duplicates} duplicate deliveries"
            for t in self.topics
        )
        return "\n".join(lines)


async def audit(
    stack: Stack,
    poster: LeadPoster,
    *,
    timeout: float = 60.0,
) -> AuditReport:
    """Wait (bounded) for the pipeline to settle, then check it held every promise: every
    accepted lead stored once, decided once, handed off as decided (at most one active
    assignment), and each topic holding exactly one event per lead the databases know of
    (duplicate deliveries of that one event allowed).

    No excuses for a broker that came back empty (Tansu's memory engine): the relays send
    again what it had acknowledged and lost, and the consumers read the new log from its
    start, so even then the topics reconcile exactly with the databases."""
    assert not poster.given_up, f"{len(poster.given_up)} leads never accepted: {poster.summary()}"
    assert not poster.unexpected, f"answers no client should get: {poster.unexpected[:5]}"
    conn = await stack.db()
    deadline = time.monotonic() + timeout
    while True:
        state = await _db_state(conn)
        owed = state.waiting_for()
        if not owed:
            break
        if time.monotonic() > deadline:
            ready = await stack.readiness()
            raise AssertionError(f"not settled within {timeout}s: {owed}; /readyz: {ready}")
        await asyncio.sleep(0.2)

    accepted = poster.lead_ids
    assert state.intake == accepted, (
        f"intake.leads vs 202 answers: {len(state.intake - accepted)} stored but never "
        f"answered, {len(accepted - state.intake)} answered but not stored"
    )
    strays = set(state.decisions) - state.intake
    assert not strays, f"decisions for leads intake never stored: {_sample(strays)}"
    strays = set(state.handoff) - set(state.decisions)
    assert not strays, f"handoff leads scoring never decided: {_sample(strays)}"
    wrong = {
        lead: (outcome, state.handoff.get(lead))
        for lead, outcome in state.decisions.items()
        if state.handoff.get(lead) != ("assigned" if outcome == "qualified" else outcome)
    }
    assert not wrong, f"(decision, handoff status) that disagree: {dict(list(wrong.items())[:5])}"
    twice = {lead: n for lead, n in state.assignments.items() if n != (1, 1)}
    assert not twice, f"(open, all) assignments per lead, expected (1, 1): {twice}"
    unearned = set(state.assignments) - state.qualified
    assert not unearned, f"assignments of leads not qualified: {_sample(unearned)}"

    assigned = {lead for lead, status in state.handoff.items() if status == "assigned"}
    snapshots = await asyncio.gather(
        *(topic_snapshot(stack.bootstrap, t) for t in (TOPIC_RECEIVED, TOPIC_SCORED, TOPIC_HANDOFF))
    )
    expectations = [
        (TOPIC_RECEIVED, LeadReceived.TYPE, state.intake, "intake"),
        (TOPIC_SCORED, LeadScored.TYPE, set(state.decisions), "scoring"),
        (TOPIC_HANDOFF, LeadAssigned.TYPE, assigned, "handoff"),
    ]
    topics = [
        _reconcile(records, *expected)
        for records, expected in zip(snapshots, expectations, strict=True)
    ]
    report = AuditReport(state, topics)
    stack.note(report.summary())
    return report


def _reconcile(
    records: list[dict[str, Any]],
    topic: str,
    event_type: str,
    expected: set[str],
    schema: str,
) -> TopicCount:
    """One event of `event_type` per lead in `expected` on `topic`, however often delivered."""
    events: dict[str, set[str]] = defaultdict(set)
    messages = 0
    for r in records:
        value, key = r["value"], r["key"] or ""
        if (
            isinstance(value, dict)
            and value.get("type") == event_type
            and not key.startswith(POISON)
        ):
            events[key].add(value["id"])
            messages += 1
    twice = {lead: ids for lead, ids in events.items() if len(ids) > 1}
    assert not twice, f"{topic}: leads with more than one distinct {event_type}: {twice}"
    seen = set(events)
    assert seen == expected, (
        f"{topic} vs {schema}: {_sample(expected - seen)} missing from the topic, "
        f"{_sample(seen - expected)} on the topic only"
    )
    return TopicCount(topic, messages, sum(len(s) for s in events.values()), len(events))
