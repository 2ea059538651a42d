"""The delivery mechanism on both backends, with a real broker: outbox relay, inbox dedupe,
the consume loop's dead letters and retries. A tiny service of its own is built here so
the assertions are about shared/ alone."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import Column, String, Table, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shared import db
from shared.events import (
    TOPIC_RECEIVED,
    Event,
    LeadData,
    LeadReceived,
    serialize_event,
)
from shared.runtime import Plumbing, Runtime
from shared.settings import ServiceSettings
from shared.tansu import start_tansu
from tests.infra import eventually, read_topic

metadata = db.new_metadata()
plumbing = Plumbing.on(metadata)
seen = Table("seen_leads", metadata, Column("lead_id", String(64), primary_key=True))


@dataclass
class Harness:
    runtime: Runtime
    handled: list[str]


@pytest.fixture
async def harness(any_db: str, broker: str) -> AsyncIterator[Harness]:
    settings = ServiceSettings(
        service="plumbing",
        database_url=any_db,
        kafka_bootstrap_servers=broker,
        outbox_poll_seconds=0.2,
    )
    runtime = Runtime.build(settings, plumbing)
    async with runtime.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.exec_driver_sql('CREATE SCHEMA IF NOT EXISTS "plumbing"')
        await conn.run_sync(metadata.create_all)
    handled: list[str] = []
    lost_races: Counter[str] = Counter()

    async def handler(session: AsyncSession, event: Event) -> None:
        assert isinstance(event, LeadReceived)
        if event.data.utm.get("poison"):
            raise ValueError("this lead cannot be processed")
        # Twice: once in the batch, once more when the batch is done again (without the
        # batch's own failure deciding it was this event's fault).
        if event.data.utm.get("deadlock_twice") and lost_races[event.id] < 2:
            lost_races[event.id] += 1  # the server itself raises deadlock_detected
            await session.execute(
                text("DO $$ BEGIN RAISE EXCEPTION 'deadlock' USING ERRCODE = '40P01'; END $$")
            )
        await session.execute(seen.insert().values(lead_id=event.data.lead_id))
        handled.append(event.data.lead_id)

    runtime.consume([TOPIC_RECEIVED], group=f"plumbing-{uuid.uuid4().hex[:6]}", handler=handler)
    yield Harness(runtime, handled)
    await runtime.stop()


def a_received(**flags: object) -> LeadReceived:
    """A lead with no personal data (nothing to seal: the plumbing is under test here)."""
    lead_id = str(uuid.uuid4())
    return LeadReceived(
        source="/test",
        subject=lead_id,
        data=LeadData(
            lead_id=lead_id,
            source="web",
            received_at=datetime.now(UTC),
            utm={k: str(v) for k, v in flags.items()},
        ),
    )


async def count(runtime: Runtime, table: Table) -> int:
    async with runtime.sessionmaker() as s:
        return int((await s.execute(select(func.count()).select_from(table))).scalar_one())


async def test_a_consumed_event_is_recorded_once(harness: Harness) -> None:
    rt = harness.runtime
    async with db.transaction(rt.sessionmaker) as s:
        await plumbing.inbox.record(s, {"event-1": "t"})
    with pytest.raises(IntegrityError):
        async with db.transaction(rt.sessionmaker) as s:
            await plumbing.inbox.record(s, {"event-1": "t"})
    async with rt.sessionmaker() as s:
        assert await plumbing.inbox.seen(s, ["event-1", "event-2"]) == {"event-1"}


async def test_outbox_rows_roll_back_with_the_state_change(harness: Harness) -> None:
    rt = harness.runtime

    async def failing_use_case() -> None:
        async with db.transaction(rt.sessionmaker) as s:
            await plumbing.outbox.add(s, a_received())
            raise RuntimeError("the use case failed")

    with pytest.raises(RuntimeError, match="the use case failed"):
        await failing_use_case()
    assert await count(rt, plumbing.outbox.table) == 0


async def test_the_relay_publishes_each_row_once_and_marks_it_sent(
    harness: Harness, broker: str
) -> None:
    rt = harness.runtime
    events = [a_received() for _ in range(20)]
    async with db.transaction(rt.sessionmaker) as s:
        await plumbing.outbox.add_many(s, events)
    await rt.start()
    rt.relay.wake()
    await eventually(lambda: _backlog_is(rt, 0))
    ids = {e.id for e in events}
    records = await read_topic(
        broker, TOPIC_RECEIVED, until=lambda rs: ids <= {r["value"]["id"] for r in rs}
    )
    published = [r["value"]["id"] for r in records if r["value"]["id"] in ids]
    assert sorted(published) == sorted(ids)
    assert all(r["key"] == r["value"]["subject"] for r in records)
    assert {r["headers"]["ce_type"] for r in records} == {LeadReceived.TYPE}


async def _backlog_is(rt: Runtime, n: int) -> bool:
    return await rt.relay.backlog() == n


async def test_leads_queue_while_the_broker_is_down_and_flow_once_it_is_back(
    any_db: str, tmp_path: Path
) -> None:
    from shared.tansu import free_port

    port = free_port()
    settings = ServiceSettings(
        service="plumbing",
        database_url=any_db,
        kafka_bootstrap_servers=f"127.0.0.1:{port}",
        outbox_poll_seconds=0.2,
        kafka_request_timeout_ms=2000,
    )
    rt = Runtime.build(settings, plumbing)
    async with rt.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.exec_driver_sql('CREATE SCHEMA IF NOT EXISTS "plumbing"')
        await conn.run_sync(metadata.create_all)
    await rt.start()  # no broker listening yet
    try:
        events = [a_received() for _ in range(30)]
        async with db.transaction(rt.sessionmaker) as s:
            await plumbing.outbox.add_many(s, events)
        await asyncio.sleep(0.5)
        assert await rt.relay.backlog() == 30
        ok, checks = await rt.readiness()
        assert not ok
        assert checks["outbox_backlog"] == 30
        broker = start_tansu(port, log=tmp_path / "late-broker.log")
        try:
            await eventually(lambda: _backlog_is(rt, 0), timeout=30)
            ids = {e.id for e in events}
            records = await read_topic(
                f"127.0.0.1:{port}",
                TOPIC_RECEIVED,
                until=lambda rs: ids <= {r["value"]["id"] for r in rs},
            )
            published = [r["value"]["id"] for r in records]
            assert sorted(published) == sorted(ids)
        finally:
            broker.kill()
            broker.wait()
    finally:
        await rt.stop()


async def test_the_consume_loop_processes_once_and_dead_letters_the_poison(
    harness: Harness, broker: str
) -> None:
    rt = harness.runtime
    good = [a_received() for _ in range(5)]
    poison = a_received(poison=True)
    producer = AIOKafkaProducer(bootstrap_servers=broker)
    await producer.start()
    try:
        await rt.start()
        for ev in [*good, poison, good[0]]:  # good[0] twice: a redelivery
            await producer.send_and_wait(TOPIC_RECEIVED, serialize_event(ev), key=ev.key.encode())
        await producer.send_and_wait(TOPIC_RECEIVED, b"{not json", key=b"garbage")
        await eventually(lambda: _consumed(rt, 8))
    finally:
        await producer.stop()
    # A handler may run again when its batch is retried; only the committed effects count.
    assert set(harness.handled) == {e.data.lead_id for e in good}
    assert await count(rt, seen) == 5
    dead = await read_topic(broker, "leads.received.dlq", until=lambda rs: len(rs) >= 2)
    assert len(dead) == 2
    errors = sorted(r["headers"]["error"] for r in dead)
    assert errors[0].startswith("JSONDecodeError") or "JSON" in errors[0]
    assert any("this lead cannot be processed" in e for e in errors)
    poisoned = next(r for r in dead if r["key"] == poison.key)
    assert json.loads(json.dumps(poisoned["value"]))["id"] == poison.id
    assert poisoned["headers"]["original_topic"] == TOPIC_RECEIVED


async def _consumed(rt: Runtime, n: int) -> bool:
    return sum(c.processed for c in rt.consumers) >= n


async def test_a_deadlocked_batch_is_retried_not_dead_lettered(
    harness: Harness, broker: str, any_db: str
) -> None:
    """A deadlock says the transaction lost a race, not that an event is bad: the batch is
    done again and nothing reaches the dead-letter topic (it once dead-lettered leads)."""
    if not any_db.startswith("postgresql"):
        pytest.skip("deadlock_detected is PostgreSQL's; SQLite's 'locked' is retried as ever")
    rt = harness.runtime
    events = [a_received(), a_received(deadlock_twice=True), a_received()]
    producer = AIOKafkaProducer(bootstrap_servers=broker)
    await producer.start()
    try:
        await rt.start()
        for ev in events:
            await producer.send_and_wait(TOPIC_RECEIVED, serialize_event(ev), key=ev.key.encode())
        await eventually(lambda: _consumed(rt, 3))
    finally:
        await producer.stop()
    assert set(harness.handled) >= {e.data.lead_id for e in events}
    assert await count(rt, seen) == 3
    assert await count(rt, plumbing.outbox.table) == 0  # no dead letter queued
