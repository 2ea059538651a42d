"""The transactional outbox: events are rows written with the state change, then relayed.

A row is marked sent only after the broker acknowledged it (acks=all). A produce that
times out has an unknown outcome (aio-libs/aiokafka#197), so the row stays and is sent
again; consumers deduplicate by event id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    func,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared import metrics
from shared.db import RetryLater, is_sqlite, read_sessionmaker
from shared.events import Event, serialize_event
from shared.kafka import stop_quietly
from shared.logging import trace_id

log = logging.getLogger(__name__)


def outbox_table(metadata: MetaData) -> Table:
    return Table(
        "outbox_messages",
        metadata,
        Column(
            "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
        Column("event_id", String(64), nullable=False, unique=True),
        Column("topic", String(255), nullable=False),
        Column("key", String(255), nullable=True),
        Column("payload", LargeBinary, nullable=False),
        Column("headers", JSON, nullable=False, default=dict),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("sent_at", DateTime(timezone=True), nullable=True),
        Column("attempts", Integer, nullable=False, default=0),
        Index("ix_outbox_messages_unsent", "sent_at", "id"),
    )


class Outbox:
    """Adds rows to one service's outbox table; the caller owns the transaction."""

    def __init__(self, table: Table) -> None:
        self.table = table

    async def add(
        self, session: AsyncSession, event: Event, *, traceparent: str | None = None
    ) -> None:
        await self.add_many(session, [event], traceparent=traceparent)

    async def add_many(
        self, session: AsyncSession, events: Sequence[Event], *, traceparent: str | None = None
    ) -> None:
        if not events:
            return
        now = datetime.now(UTC)
        rows = []
        for ev in events:
            headers = {"ce_type": ev.type, "ce_id": ev.id}
            tp = traceparent or ev.traceparent
            if tp:
                headers["traceparent"] = tp
            rows.append(
                {
                    "event_id": ev.id,
                    "topic": ev.TOPIC,
                    "key": ev.key,
                    "payload": serialize_event(ev),
                    "headers": headers,
                    "created_at": now,
                    "attempts": 0,
                }
            )
        await session.execute(self.table.insert(), rows)

    async def add_raw(
        self,
        session: AsyncSession,
        *,
        event_id: str,
        topic: str,
        key: str | None,
        payload: bytes,
        headers: dict[str, str],
    ) -> None:
        """A dead-letter record: the original bytes, the error in the headers."""
        await session.execute(
            self.table.insert(),
            [
                {
                    "event_id": event_id,
                    "topic": topic,
                    "key": key,
                    "payload": payload,
                    "headers": headers,
                    "created_at": datetime.now(UTC),
                    "attempts": 0,
                }
            ],
        )


class Relay:
    """Publishes unsent outbox rows in order, marks them sent after the broker's ack."""

    def __init__(
        self,
        *,
        service: str,
        table: Table,
        sessionmaker: async_sessionmaker[AsyncSession],
        producer_factory: Any,
        batch_size: int = 500,
        poll_seconds: float = 1.0,
        read_sessions: async_sessionmaker[AsyncSession] | None = None,
        send_timeout: float = 15.0,
    ) -> None:
        self.service = service
        self.table = table
        self.sessionmaker = sessionmaker
        self.producer_factory = producer_factory
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.send_timeout = send_timeout
        self._wake = asyncio.Event()
        self._sqlite = is_sqlite(str(sessionmaker.kw["bind"].url))
        self._read_sessionmaker = read_sessions or read_sessionmaker(sessionmaker.kw["bind"])
        self._stopping = False
        self.producer: Any = None
        self.broker_ok = False
        self.last_error: str | None = None

    def wake(self) -> None:
        """Called after a commit that added rows, so they go out without waiting for a poll."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        backoff = 0.2
        while not self._stopping:
            try:
                if self.producer is None:
                    self.producer = await self.producer_factory()
                sent = await self.publish_once()
                self.broker_ok = True
                self.last_error = None
                backoff = 0.2
                if sent >= self.batch_size:
                    continue  # more waiting: no sleep
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker or the database is down: keep the rows, retry
                self.broker_ok = False
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("outbox relay failed, retrying", extra={"error": self.last_error})
                # Start over with a fresh producer: a broker that came back may have lost its
                # topics (Tansu's memory engine does, and acknowledges writes to a missing
                # topic while keeping nothing); the factory creates them before producing.
                producer, self.producer = self.producer, None
                if producer is not None:
                    await stop_quietly(producer)
                with contextlib.suppress(Exception):  # keep the backlog gauges true while down
                    async with self._read_sessionmaker() as session:
                        await self._observe_backlog(session)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
            self._wake.clear()

    async def publish_once(self) -> int:
        """One batch: send unsent rows in order, await every ack, then mark those sent."""
        if self._sqlite:
            return await self._publish_without_lock()
        return await self._publish_skip_locked()

    def _unsent(self) -> Any:
        t = self.table
        return (
            select(t.c.id, t.c.topic, t.c.key, t.c.payload, t.c.headers)
            .where(t.c.sent_at.is_(None))
            .order_by(t.c.id)
            .limit(self.batch_size)
        )

    async def _publish_skip_locked(self) -> int:
        """PostgreSQL: rows locked SKIP LOCKED, so replicas' relays never send the same row."""
        async with self.sessionmaker() as session, session.begin():
            rows = (await session.execute(self._unsent().with_for_update(skip_locked=True))).all()
            if rows:
                sent = await self._send(rows)
                await self._mark_sent(session, sent)
            await self._observe_backlog(session)
        return await self._settle(rows, sent if rows else [])

    async def _publish_without_lock(self) -> int:
        """SQLite (one relay per file): read, send and mark in separate steps, so the
        database's single write lock is never held while waiting for the broker."""
        async with self._read_sessionmaker() as session:
            rows = (await session.execute(self._unsent())).all()
            await self._observe_backlog(session)
        if not rows:
            return 0
        sent = await self._send(rows)
        if any(err is None for _, err in sent):
            async with self.sessionmaker() as session, session.begin():
                await self._mark_sent(session, sent)
        return await self._settle(rows, sent)

    async def _send(self, rows: Sequence[Any]) -> list[tuple[Any, BaseException | None]]:
        await self._check_topics({row.topic for row in rows})
        futures = []
        for row in rows:
            headers = [(k, str(v).encode()) for k, v in (row.headers or {}).items()]
            futures.append(
                await self.producer.send(
                    row.topic,
                    value=row.payload,
                    key=row.key.encode() if row.key else None,
                    headers=headers,
                )
            )
        # Bounded: a producer waiting out a broker outage must not deliver a batch into a
        # broker that came back empty (Tansu acknowledges writes to missing topics); on
        # timeout the rows stay unsent and a fresh producer (topics ensured) sends them.
        results = await asyncio.wait_for(
            asyncio.gather(*futures, return_exceptions=True), timeout=self.send_timeout
        )
        return [
            (row, r if isinstance(r, BaseException) else None)
            for row, r in zip(rows, results, strict=True)
        ]

    async def _check_topics(self, topics: set[str]) -> None:
        """Fresh metadata before each batch: a broker that restarted empty must not take
        records for partitions it no longer has (Tansu acknowledges and drops them). A
        missing topic sends us back through the producer factory, which creates it."""
        await self.producer.client.force_metadata_update()
        missing = topics - set(self.producer.client.cluster.topics())
        if missing:
            raise RetryLater(f"topics missing on the broker: {sorted(missing)}")

    async def _mark_sent(
        self, session: AsyncSession, sent: list[tuple[Any, BaseException | None]]
    ) -> None:
        t = self.table
        done = [row.id for row, err in sent if err is None]
        if done:
            await session.execute(
                update(t)
                .where(t.c.id.in_(done))
                .values(sent_at=datetime.now(UTC), attempts=t.c.attempts + 1)
            )

    async def _settle(
        self, rows: Sequence[Any], sent: list[tuple[Any, BaseException | None]]
    ) -> int:
        for row, err in sent:
            if err is None:
                metrics.OUTBOX_PUBLISHED.labels(self.service, row.topic).inc()
                if log.isEnabledFor(logging.INFO):
                    headers = row.headers or {}
                    log.info(
                        "event published",
                        extra={
                            "lead_id": row.key,
                            "topic": row.topic,
                            "event_type": headers.get("ce_type"),
                            "correlation_id": trace_id(headers.get("traceparent")),
                        },
                    )
        failed = [err for _, err in sent if err is not None]
        if failed:
            raise failed[0]
        return len(rows)

    async def _observe_backlog(self, session: AsyncSession) -> None:
        t = self.table
        count, oldest = (
            await session.execute(
                select(func.count(), func.min(t.c.created_at)).where(t.c.sent_at.is_(None))
            )
        ).one()
        metrics.OUTBOX_BACKLOG.labels(self.service).set(count)
        age = 0.0
        if oldest is not None:
            if oldest.tzinfo is None:
                oldest = oldest.replace(tzinfo=UTC)
            age = max(0.0, (datetime.now(UTC) - oldest).total_seconds())
        metrics.OUTBOX_OLDEST_AGE.labels(self.service).set(age)

    async def backlog(self) -> int:
        t = self.table
        async with self._read_sessionmaker() as session:
            return int(
                (
                    await session.execute(
                        select(func.count()).select_from(t).where(t.c.sent_at.is_(None))
                    )
                ).scalar_one()
            )
