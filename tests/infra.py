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
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import FastAPI

from shared.auth import KeyStore
from shared.events import TOPIC_KEYS, Event, LeadKeyIssued, parse_event, serialize_event
from shared.pii import DataKey, lead_of, needs_key, open_event, seal_event
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
        # Tansu holds a group's join for half the session timeout: 2 s instead of 5 s at
        # every start (and at every stop of a consumer still joining).
        "kafka_session_timeout_ms": 4_000,
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
    opened: bool = False,
) -> list[dict[str, Any]]:
    """Read a topic from the beginning with a plain consumer (no group) until `until` holds.

    Each record: key, value (parsed JSON or raw bytes), headers, partition, offset. With
    `opened`, each event's sealed personal fields are opened with the keys on leads.keys
    (as a consumer would), so `value` shows them in clear; `until` sees opened records."""
    if opened:
        keys: dict[str, Any] = {}

        async def opened_until(records: list[dict[str, Any]]) -> bool:
            await open_records(bootstrap, records, keys)
            return until(records)

        return await _read(bootstrap, topic, until=opened_until, timeout=timeout)

    async def plain(records: list[dict[str, Any]]) -> bool:
        return until(records)

    return await _read(bootstrap, topic, until=plain, timeout=timeout)


async def read_all(bootstrap: str, topic: str, *, timeout: float = 10.0) -> list[dict[str, Any]]:
    """Every record on `topic` now (to the end offsets of when it started), raw: value is
    the record's bytes (None for a tombstone), headers as bytes."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=10
    )
    await consumer.start()
    out: list[dict[str, Any]] = []
    try:
        await consumer._client.force_metadata_update()
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in parts]
        if not tps:
            return out
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            positions = [await consumer.position(tp) for tp in tps]
            if all(at >= ends[tp] for at, tp in zip(positions, tps, strict=True)):
                break
            batch = await consumer.getmany(timeout_ms=100)
            for msgs in batch.values():
                out += [
                    {
                        "topic": m.topic,
                        "key": m.key,
                        "value": m.value,
                        "headers": list(m.headers),
                        "partition": m.partition,
                        "offset": m.offset,
                    }
                    for m in msgs
                ]
        else:
            raise AssertionError(f"could not read {topic} to its end within {timeout}s")
        return out
    finally:
        await consumer.stop()


async def read_keys(bootstrap: str) -> dict[str, Any]:
    """The leads' data keys on leads.keys now: lead id -> DataKey, or None once erased."""
    keys: dict[str, Any] = {}
    for record in await read_all(bootstrap, TOPIC_KEYS):
        lead_id = record["key"].decode()
        if record["value"] is None:
            keys[lead_id] = None
        else:
            event = parse_event(record["value"])
            assert isinstance(event, LeadKeyIssued)
            keys.setdefault(lead_id, DataKey.of(event.data))
    return keys


async def open_records(bootstrap: str, records: list[dict[str, Any]], keys: dict[str, Any]) -> None:
    """Replace each sealed event value in `records` by the event opened (in place)."""
    for record in records:
        value = record["value"]
        if not isinstance(value, dict) or record.get("opened"):
            continue
        event = parse_event(json.dumps(value))
        if needs_key(event) and (event.subject or "") not in keys:
            keys.update(await read_keys(bootstrap))
        if needs_key(event) and keys.get(event.subject or "") is None:
            continue  # not here yet, or erased: left sealed
        done = open_event(event, keys)
        if done is not None:
            record["value"] = done.model_dump(mode="json", exclude_none=True)
            record["opened"] = True


async def _read(
    bootstrap: str,
    topic: str,
    *,
    until: Callable[[list[dict[str, Any]]], Awaitable[bool]],
    timeout: float,
) -> list[dict[str, Any]]:
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
            if await until(records):
                break
        return records
    finally:
        await consumer.stop()


_TEST_KEYS: dict[str, DataKey] = {}


def on_the_wire(*events: Event) -> list[tuple[str, str, bytes]]:
    """(topic, key, value) records for events as LeadRelay publishes them: each lead's data
    key on leads.keys first, its personal fields sealed (tests build plaintext events)."""
    out: list[tuple[str, str, bytes]] = []
    for event in events:
        lead = lead_of(event)
        if lead is not None and lead.personal is None and lead.has_personal_data():
            key = _TEST_KEYS.setdefault(lead.lead_id, DataKey.new())
            issued = LeadKeyIssued(
                source="/tests",
                subject=lead.lead_id,
                data=key.record(lead.lead_id, lead.received_at),
            )
            out.append((TOPIC_KEYS, lead.lead_id, serialize_event(issued)))
            event = seal_event(event, key)
        out.append((event.TOPIC, event.key, serialize_event(event)))
    return out


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
