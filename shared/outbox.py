"""The transactional outbox: events are rows written with the state change, then relayed.

A row is marked sent only after the broker acknowledged it (acks=all). A produce that
times out has an unknown outcome (aio-libs/aiokafka#197), so the row stays and is sent
again; consumers deduplicate by event id.

Sent rows stay in the table, so an acknowledgement is not the end of the row's story: a
broker can lose records it acknowledged (Tansu's memory engine comes back empty after a
restart; Apache Kafka truncates a partition after an unclean leader election). The relay
notices (see `Relay._check_broker`) and sends those rows again, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import TopicPartition
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
from sqlalchemy.sql.elements import ColumnElement

from shared import ids, metrics
from shared.db import RetryLater, among, is_sqlite, read_sessionmaker
from shared.events import Event, serialize_event
from shared.kafka import end_offsets, stop_quietly
from shared.logging import trace_id

log = logging.getLogger(__name__)

BACKLOG_SECONDS = 1.0
"""How often a busy relay refreshes the backlog gauges."""

PROBE_SECONDS = 1.0
"""How often an idle relay asks the broker whether it still holds what it acknowledged."""

CHECK_SECONDS = 0.25
"""How often a busy relay does (before a batch): a check per batch was two of its round
trips out of three."""


class BrokerLostRecords(Exception):
    """The broker no longer holds records it acknowledged to this relay."""

    def __init__(self, topics: set[str]) -> None:
        super().__init__(f"the broker lost acknowledged records of {sorted(topics)}")
        self.topics = topics


TOMBSTONE = "leadrelay_tombstone"
"""Outbox header (never sent) of a row the relay publishes with a null value."""


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

    async def add_tombstone(self, session: AsyncSession, *, topic: str, key: str) -> None:
        """A null value for `key` on a compacted topic: the broker drops the key's records."""
        await self.add_raw(
            session,
            event_id=f"tombstone:{ids.new_id()}",
            topic=topic,
            key=key,
            payload=b"",
            headers={TOMBSTONE: "1"},
        )

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
        replay_window: timedelta | None = None,
        probe_seconds: float = PROBE_SECONDS,
        check_seconds: float = CHECK_SECONDS,
    ) -> None:
        self.service = service
        self.table = table
        self.sessionmaker = sessionmaker
        self.producer_factory = producer_factory
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.send_timeout = send_timeout
        self.replay_window = replay_window
        """How far back rows are sent again when the broker lost records (None: all)."""
        self.probe_seconds = probe_seconds
        self.check_seconds = check_seconds
        self._wake = asyncio.Event()
        self._sqlite = is_sqlite(str(sessionmaker.kw["bind"].url))
        self._read_sessionmaker = read_sessions or read_sessionmaker(sessionmaker.kw["bind"])
        self._stopping = False
        self.producer: Any = None
        self.broker_ok = False
        self.last_error: str | None = None
        self._acked: dict[TopicPartition, tuple[int, int]] = {}
        """Per partition written to: (lowest offset acked in the last send that reached
        it, highest offset ever acked), on the broker as it is now."""
        self._lost: set[str] = set()
        """Topics whose sent rows must be sent again (the broker lost records of them)."""
        self._probed = 0.0
        self._checked_topics: set[str] = set()
        """Topics the broker had when last checked, since this relay's producer started."""
        self._observed_at = -1e9
        self.replayed = 0
        """Rows sent again because the broker had lost them."""

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
                self._checked_topics.clear()
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
        """One batch: send unsent rows in order, await every ack, then mark those sent.
        Rows of topics the broker lost records of are first made unsent again."""
        if self._lost:
            await self._replay()
        try:
            if self._sqlite:
                sent = await self._publish_without_lock()
            else:
                sent = await self._publish_skip_locked()
        except BrokerLostRecords as exc:  # found before sending: nothing went out
            self._lost |= exc.topics
            sent = 0
        if self._lost:  # found before sending, or by this batch's acknowledgements
            await self._replay()
        return sent

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
            await self._observe_backlog_due(session)
        if not rows:
            await self._probe_if_due()
            return 0
        return await self._settle(rows, sent)

    async def _publish_without_lock(self) -> int:
        """SQLite (one relay per file): read, send and mark in separate steps, so the
        database's single write lock is never held while waiting for the broker. (Marking
        in the background instead, so the next batch goes out at once, was tried: the
        back-to-back produce requests got overlapping offsets from Tansu, which the
        lost-records check rightly took for a new log.)"""
        async with self._read_sessionmaker() as session:
            rows = (await session.execute(self._unsent())).all()
            await self._observe_backlog_due(session)
        if not rows:
            await self._probe_if_due()
            return 0
        sent = await self._send(rows)
        if any(err is None for _, err in sent):
            async with self.sessionmaker() as session, session.begin():
                await self._mark_sent(session, sent)
        return await self._settle(rows, sent)

    async def _observe_backlog_due(self, session: AsyncSession) -> None:
        """The backlog gauges, at most once per BACKLOG_SECONDS: two aggregate queries per
        batch were a good part of a relay pass."""
        now = time.monotonic()
        if now - self._observed_at >= BACKLOG_SECONDS:
            self._observed_at = now
            await self._observe_backlog(session)

    async def _send(self, rows: Sequence[Any]) -> list[tuple[Any, BaseException | None]]:
        topics = {row.topic for row in rows}
        if self._check_due(topics):
            await self._check_broker(topics)
        futures = []
        for row in rows:
            given = row.headers or {}
            headers = [(k, str(v).encode()) for k, v in given.items() if k != TOMBSTONE]
            futures.append(
                await self.producer.send(
                    row.topic,
                    value=None if TOMBSTONE in given else row.payload,
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
        self._note_acks(results)
        return [
            (row, r if isinstance(r, BaseException) else None)
            for row, r in zip(rows, results, strict=True)
        ]

    def _check_due(self, topics: set[str]) -> bool:
        """Before the first batch of a producer, before a batch for a topic not checked yet,
        and otherwise at most every `check_seconds`. Between checks, a broker that lost
        records shows in its acknowledgements (`_note_acks`: an offset at or below one it
        acknowledged before), and the next check catches what those cannot show (a topic
        gone); either way the topic's rows go out again, so a skipped check costs
        duplicates, never a loss."""
        return (
            not self._checked_topics.issuperset(topics)
            or time.monotonic() - self._probed >= self.check_seconds
        )

    async def _check_broker(self, topics: set[str]) -> None:
        """Fresh metadata and, in the same round trip time, the end offset of every
        partition this relay has acknowledged records on (see `_check_due` for when).

        - A partition whose end lies at or below the lowest offset acknowledged in the
          last send that reached it, or whose topic is gone, lost records the broker had
          acknowledged (Tansu's ListOffsets answers the last batch's base offset + 1, so
          the highest acknowledged offset would be a false alarm): BrokerLostRecords, and
          `publish_once` makes the topic's sent rows unsent again before anything newer
          goes out, so each key's events reach the new log in their order.
        - A missing topic sends us back through the producer factory, which creates it: a
          broker that restarted empty must not take records for partitions it no longer
          has (Tansu would create the topic with its own partition count, or drop them;
          no client's metadata request creates one, see `shared.kafka._NoAutoCreate`).

        Both run every `check_seconds` at most while busy (about once a second when idle),
        never per record; the offsets request goes out alongside the metadata one."""
        client = self.producer.client
        marks = dict(self._acked)
        for topic in topics | {tp.topic for tp in marks}:
            client.add_topic(topic)  # a client's metadata covers only the topics it tracks

        async def probe() -> dict[TopicPartition, int]:
            return await end_offsets(client, marks) if marks else {}

        updated, ends = await asyncio.gather(client.force_metadata_update(), probe())
        self._probed = time.monotonic()
        present = set(client.cluster.topics())
        if updated:  # the broker answered for every tracked topic: one it left out is gone
            # (unless the broker itself just answered for the partition: a metadata answer
            # racing a topic's creation can leave it out)
            ends.update({tp: -1 for tp in marks if tp.topic not in present and tp not in ends})
        self._lost_below(marks, ends)
        missing = topics - present
        if missing:
            self._checked_topics.clear()
            raise RetryLater(f"topics missing on the broker: {sorted(missing)}")
        self._checked_topics |= topics

    async def _probe_if_due(self) -> None:
        """An idle relay checks too, now and then: rows it sent before the broker lost them
        must go out again even when nothing new comes."""
        if self._acked and time.monotonic() - self._probed >= self.probe_seconds:
            await self._check_broker(set())

    def _lost_below(
        self, marks: dict[TopicPartition, tuple[int, int]], ends: dict[TopicPartition, int]
    ) -> None:
        lost = {tp.topic for tp, end in ends.items() if end <= marks[tp][0]}
        if lost:
            self._forget(lost)
            raise BrokerLostRecords(lost)

    def _note_acks(self, results: Sequence[Any]) -> None:
        """Remember what the broker acknowledged. An offset at or below one it acknowledged
        before means the broker wrote over records it had acknowledged (a new, shorter log;
        or, seen with Tansu after a restart, an abandoned producer's retried batch and a
        fresh producer's batch given the same offsets): the topic's rows go out again.
        Duplicates, which consumers drop, rather than a loss."""
        sent: dict[TopicPartition, list[int]] = {}
        for r in results:
            if not isinstance(r, BaseException):
                sent.setdefault(r.topic_partition, []).append(r.offset)
        lost = {
            tp.topic
            for tp, offsets in sent.items()
            if tp in self._acked and min(offsets) <= self._acked[tp][1]
        }
        if lost:
            self._forget(lost)
            self._lost |= lost
        for tp, offsets in sent.items():
            highest = max(max(offsets), self._acked[tp][1] if tp in self._acked else -1)
            self._acked[tp] = (min(offsets), highest)

    def _forget(self, topics: set[str]) -> None:
        self._checked_topics -= topics
        for tp in [tp for tp in self._acked if tp.topic in topics]:
            del self._acked[tp]

    async def _replay(self) -> None:
        """Make the sent rows of the topics the broker lost records of unsent again (within
        `replay_window`); the next batches send them in order, ahead of anything newer.
        Consumers deduplicate by event id, so what they had already read is a no-op."""
        topics = set(self._lost)
        t = self.table
        where: list[ColumnElement[bool]] = [t.c.topic.in_(sorted(topics)), t.c.sent_at.is_not(None)]
        if self.replay_window is not None:
            where.append(t.c.sent_at >= datetime.now(UTC) - self.replay_window)
        async with self.sessionmaker() as session, session.begin():
            result = await session.execute(update(t).where(*where).values(sent_at=None))
        self._lost -= topics
        count = int(getattr(result, "rowcount", 0) or 0)
        self.replayed += count
        log.warning(
            "the broker lost records it had acknowledged on %s: sending %d outbox rows again",
            ", ".join(sorted(topics)),
            count,
        )
        self._wake.set()

    async def _mark_sent(
        self, session: AsyncSession, sent: list[tuple[Any, BaseException | None]]
    ) -> None:
        t = self.table
        done = [row.id for row, err in sent if err is None]
        if done:
            await session.execute(
                update(t)
                .where(among(session, t.c.id, done))
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
