"""Fixtures for tests on real infrastructure (integration, e2e): a Tansu broker per test,
PostgreSQL (a fresh database per test) and
SQLite. PostgreSQL cases skip with a reason where it is unreachable, but fail under CI=true."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import FastAPI

from shared.auth import KeyStore
from shared.tansu import free_port, start_tansu

PG_HOST = os.environ.get("LEADRELAY_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("LEADRELAY_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("LEADRELAY_TEST_PG_USER", "postgres")
IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[str]:
    """A fresh in-memory Tansu for each test: no topic, group or offset leaks between tests."""
    port = free_port()
    proc = start_tansu(port, log=tmp_path / "tansu.log")
    try:
        yield f"127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait()


async def _pg_admin() -> asyncpg.Connection:
    return await asyncpg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres", timeout=5
    )


@pytest.fixture(scope="session")
async def pg_available() -> bool:
    try:
        conn = await _pg_admin()
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL at {PG_HOST}:{PG_PORT} is unreachable under CI=true: {exc}")
        return False
    await conn.close()
    return True


@pytest.fixture
async def pg_url(pg_available: bool) -> AsyncIterator[str]:
    """A fresh PostgreSQL database for one test, dropped after."""
    if not pg_available:
        pytest.skip(f"PostgreSQL at {PG_HOST}:{PG_PORT} is unreachable (set CI=true to fail)")
    name = f"leadrelay_test_{uuid.uuid4().hex[:12]}"
    conn = await _pg_admin()
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    try:
        yield f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        conn = await _pg_admin()
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_urls(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """Each service's database URL, on both backends (`make run` uses one, production the
    other): a SQLite file per service, or one PostgreSQL database with a schema per service."""
    services = ("intake", "scoring", "handoff")
    if request.param == "sqlite":
        return {s: f"sqlite+aiosqlite:///{tmp_path}/{s}.db" for s in services}
    url = str(request.getfixturevalue("pg_url"))
    return dict.fromkeys(services, url)


@pytest.fixture
def keys_file(tmp_path: Path) -> Path:
    return tmp_path / "keys.json"


@pytest.fixture
def api_key(keys_file: Path) -> str:
    return KeyStore(keys_file).create("test admin", ["admin"])


@pytest.fixture
def auth(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"}


def service_env(db: str, broker: str, keys_file: Path, **extra: Any) -> dict[str, Any]:
    """Settings keyword arguments shared by every service in a test."""
    return {
        "database_url": db,
        "kafka_bootstrap_servers": broker,
        "keys_file": str(keys_file),
        "outbox_poll_seconds": 0.2,
        **extra,
    }


@contextlib.asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run an app's lifespan (its loops included) and talk to it over ASGI."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def read_topic(
    bootstrap: str,
    topic: str,
    *,
    until: Callable[[list[dict[str, Any]]], bool],
    timeout: float = 15.0,
) -> list[dict[str, Any]]:
    """Read a topic from the beginning with a plain consumer (no group) until `until` holds.

    Each record: key, value (parsed JSON or raw bytes), headers, partition, offset."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        fetch_max_wait_ms=10,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    records: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + timeout
        parts: set[int] | None = None
        while parts is None and time.monotonic() < deadline:
            parts = consumer.partitions_for_topic(topic)
            if not parts:
                parts = None
                await consumer._client.force_metadata_update()  # topic may not exist yet
                await asyncio.sleep(0.1)
        if parts is None:
            return records
        tps = [TopicPartition(topic, p) for p in parts]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=100)
            for msgs in batch.values():
                for m in msgs:
                    try:
                        value: Any = json.loads(m.value)
                    except (ValueError, TypeError):
                        value = m.value
                    records.append(
                        {
                            "key": m.key.decode() if m.key else None,
                            "value": value,
                            "headers": {k: v.decode() for k, v in m.headers},
                            "partition": m.partition,
                            "offset": m.offset,
                        }
                    )
            if until(records):
                break
        return records
    finally:
        await consumer.stop()


async def eventually(
    check: Callable[[], Any], *, timeout: float = 15.0, interval: float = 0.05
) -> Any:
    """Poll an async check until it returns something truthy (a wait, never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s; last value: {last!r}")
