"""One figure's world: a temp dir, a fresh Tansu, a fresh database, API keys, a reps seed
with room for every lead, and the services started as `leadrelay serve` subprocesses."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from bench.procs import Child, Processes, wait_ready
from bench.profile import Profiler
from shared.auth import KeyStore
from shared.tansu import free_port, tansu_command, wait_for_port

REPO = Path(__file__).resolve().parent.parent
PG_HOST = os.environ.get("LEADRELAY_BENCH_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("LEADRELAY_BENCH_PG_PORT", "5432"))
PG_USER = os.environ.get("LEADRELAY_BENCH_PG_USER", "postgres")

KEY_POOL = 64
"""Keys are rate limited (100/s, burst 200, per key): the load spreads over this many keys
so the bench measures the service, not the limiter (64 keys allow 6,400 requests/s)."""

REP_CAPACITY = 100_000
"""Far above any run's lead count, so every qualified lead is assigned, none queued."""

REPS_SEED = """\
# The bench's sales team: the contracts/reps.yaml teams, with capacity for every lead.
teams:
  - {{team: na, manager: mgr-na}}
  - {{team: emea, manager: mgr-emea}}
reps:
  - {{rep_id: mgr-na, name: NA Manager, team: na, weight: 0, capacity: {cap}}}
  - {{rep_id: rep-na-1, name: NA One, team: na, weight: 2, capacity: {cap}}}
  - {{rep_id: rep-na-2, name: NA Two, team: na, weight: 1, capacity: {cap}}}
  - {{rep_id: mgr-emea, name: EMEA Manager, team: emea, weight: 0, capacity: {cap}}}
  - {{rep_id: rep-emea-1, name: EMEA One, team: emea, weight: 1, capacity: {cap}}}
"""


class DatabaseUnavailable(RuntimeError):
    pass


@dataclass
class Stack:
    database: str  # "sqlite" or "postgresql"
    workdir: Path
    procs: Processes
    bootstrap: str
    keys: list[str]
    pg_url: str | None = None
    profiler: Profiler | None = None
    children: list[Child] = field(default_factory=list)

    def database_url(self, service: str) -> str:
        if self.pg_url is not None:
            return self.pg_url  # one database, a schema per service
        return f"sqlite+aiosqlite:///{self.workdir}/{service}.db"

    def service_env(self, service: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEADRELAY_")}
        env.update(
            {
                "LEADRELAY_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
                f"LEADRELAY_{service.upper()}_DATABASE_URL": self.database_url(service),
                "LEADRELAY_KEYS_FILE": str(self.workdir / "keys.json"),
                "LEADRELAY_HANDOFF_REPS_FILE": str(self.workdir / "reps.yaml"),
                "LEADRELAY_LOG_LEVEL": "WARNING",
            }
        )
        return env

    def spawn(self, service: str) -> Child:
        """`leadrelay serve <service>` on a free port; not yet ready."""
        port = free_port()
        child = self.procs.start(
            service,
            [sys.executable, "-m", "services.cli", "serve", service, "--port", str(port)],
            log=self.workdir / f"{service}.log",
            env=self.service_env(service),
            cwd=REPO,
            port=port,
        )
        self.children.append(child)
        return child

    async def start_services(self, *services: str) -> dict[str, Child]:
        """Start them together (they migrate in parallel) and wait until each is ready."""
        children = {s: self.spawn(s) for s in services}
        await asyncio.gather(*(wait_ready(c) for c in children.values()))
        return children

    def start_baseline_app(self, topic: str) -> Child:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEADRELAY_")}
        child = self.procs.start(
            "baseline-app",
            [
                sys.executable,
                "-m",
                "bench.baseline_app",
                "--port",
                str(port),
                "--bootstrap",
                self.bootstrap,
                "--topic",
                topic,
            ],
            log=self.workdir / "baseline-app.log",
            env=env,
            cwd=REPO,
            port=port,
        )
        self.children.append(child)
        return child

    def profiling(
        self, children: dict[str, Child], label: str
    ) -> contextlib.AbstractContextManager[None]:
        """py-spy on these children for the block, when the run asked for profiles."""
        if self.profiler is None:
            return contextlib.nullcontext()
        return self.profiler.recording(children, f"{self.database}-{label}")

    def stop(self, *children: Child) -> None:
        self.procs.stop(*children)
        for c in children:
            if c in self.children:
                self.children.remove(c)


@contextlib.asynccontextmanager
async def open_stack(
    database: str, procs: Processes, profiler: Profiler | None = None
) -> AsyncIterator[Stack]:
    """A fresh broker and database for one figure; everything is gone after."""
    with tempfile.TemporaryDirectory(prefix="leadrelay-bench-") as tmp:
        workdir = Path(tmp)
        pg_name = await _create_pg_database() if database == "postgresql" else None
        broker_port = free_port()
        broker = procs.start("tansu", tansu_command(broker_port), log=workdir / "tansu.log")
        stack = Stack(
            database=database,
            workdir=workdir,
            procs=procs,
            bootstrap=f"127.0.0.1:{broker_port}",
            keys=_create_keys(workdir / "keys.json"),
            pg_url=_pg_url(pg_name) if pg_name else None,
            profiler=profiler,
        )
        (workdir / "reps.yaml").write_text(REPS_SEED.format(cap=REP_CAPACITY))
        try:
            await asyncio.to_thread(wait_for_port, broker_port)
            yield stack
        finally:
            await asyncio.to_thread(procs.stop, *reversed(stack.children))
            broker.proc.kill()
            await asyncio.to_thread(procs.stop, broker)
            if pg_name:
                await _drop_pg_database(pg_name)


def _create_keys(path: Path) -> list[str]:
    store = KeyStore(path)
    return [store.create(f"bench-{i}", ["admin"]) for i in range(KEY_POOL)]


def _pg_url(name: str) -> str:
    return f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"


async def _pg_admin() -> asyncpg.Connection:
    try:
        return await asyncpg.connect(
            host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres", timeout=5
        )
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise DatabaseUnavailable(f"PostgreSQL at {PG_HOST}:{PG_PORT} unreachable: {exc}") from exc


async def _create_pg_database() -> str:
    name = f"leadrelay_bench_{uuid.uuid4().hex[:12]}"
    conn = await _pg_admin()
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name


async def _drop_pg_database(name: str) -> None:
    conn = await _pg_admin()
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
