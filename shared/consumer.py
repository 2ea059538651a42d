"""THE consume loop: a batch -> one transaction (inbox, handler, outbox) -> commit offsets.

Exactly-once effect without broker transactions: the inbox row, the handler's writes and
its outbox rows commit together; offsets are committed only after that. A redelivered
message finds its inbox row and changes nothing. A message that cannot be processed goes
to `<topic>.dlq` (through the outbox, in the same transaction) with the error attached.
A transient failure (database or broker down) rolls the batch back and retries it.

A broker can come back without what it held (Tansu's memory engine restarts empty: topics,
groups, committed offsets, records). Two rules keep a consumer from skipping what the
relays then publish (or publish again) there: offsets are committed only for records
fetched under the current assignment (a rejoin resets positions from the new broker's
committed offsets, which an old batch must not overwrite), and a partition whose log ends
below our position is read again from its beginning (the inbox makes that a no-op for
what was processed before).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared import metrics
from shared.db import is_transient
from shared.events import COMPACTED_TOPICS, Event, dlq, parse_event, tombstone
from shared.inbox import Inbox
from shared.kafka import ensure_topics, new_consumer, stop_quietly
from shared.logging import trace_id
from shared.outbox import Outbox
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, Event], Awaitable[None]]
BatchHandler = Callable[[AsyncSession, Sequence[Event]], Awaitable[None]]

LAG_REFRESH_SECONDS = 5.0
COMMIT_TIMEOUT_SECONDS = 10.0
STALL_SECONDS = 30.0


class _BatchFailed(Exception):
    """The fast path met an event it cannot process: do the batch again, isolating it."""


class _RestartConsumer(Exception):
    """Leave the consume loop; `run` starts a fresh consumer after a pause."""


MAX_ERROR_HEADER = 2000


@dataclass
class _Item:
    msg: Any
    event: Event | None
    error: str | None

    @property
    def inbox_id(self) -> str:
        if self.event is not None:
            return self.event.id
        return f"{self.msg.topic}:{self.msg.partition}:{self.msg.offset}"


class _CommitOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    """Commit what was processed before partitions move (kpn/kstreams#101)."""

    def __init__(self, loop: Consumer) -> None:
        self.loop = loop

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self.loop.commit_pending(from_loop=False)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self.loop.assigned()


class Consumer:
    def __init__(
        self,
        *,
        settings: ServiceSettings,
        topics: Sequence[str],
        group: str,
        handler: Handler | None = None,
        batch_handler: BatchHandler | None = None,
        sessionmaker: async_sessionmaker[AsyncSession],
        inbox: Inbox,
        outbox: Outbox,
        on_commit: Callable[[], None] | None = None,
        wants: Collection[str] | None = None,
        peek: Callable[[Sequence[Event]], None] | None = None,
        idempotent: bool = False,
        background: bool = False,
    ) -> None:
        self.settings = settings
        self.background = background
        """Off a lead's path: fetches may be held longer (see shared/kafka.new_consumer)."""
        self.wants = frozenset(wants) if wants is not None else None
        """Event types this consumer handles; others (well-formed) are passed over without
        a transaction or an inbox row. None: every type."""
        self.peek = peek
        self.idempotent = idempotent
        """The handler may see an event twice to no effect: no inbox reads or rows (two
        statements a batch fewer)."""
        """Sees each fetched batch's events before its transaction (e.g. the keys consumer
        hands keys to the data consumer at once, without waiting for its own commit)."""
        self.topics = tuple(topics)
        self.group = group
        if (handler is None) == (batch_handler is None):
            raise ValueError("give exactly one of handler and batch_handler")
        self.handler = handler
        self.batch_handler = batch_handler
        self.sessionmaker = sessionmaker
        self.inbox = inbox
        self.outbox = outbox
        self.on_commit = on_commit
        self.service = settings.service
        self._stopping = False
        self._consumer: Any = None
        self._pending: dict[Any, int] = {}
        self._epoch = 0
        """Counts assignments: a batch fetched under an earlier one commits nothing."""
        self._next: dict[Any, int] = {}
        """Per partition, the offset after the last record this assignment processed."""
        self._lag_checked = 0.0
        self.running = False
        self.processed = 0
        self.heartbeat = time.monotonic()

    def stop(self) -> None:
        self._stopping = True

    @property
    def healthy(self) -> bool:
        """Holding partitions and going round its loop (aio-libs/aiokafka#1037: a consumer
        can stall silently; readiness must not say ready then)."""
        return self.running and time.monotonic() - self.heartbeat < STALL_SECONDS

    async def run(self) -> None:
        backoff = 0.2
        while not self._stopping:
            try:
                await self._run_consumer()
                backoff = 0.2
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker gone: start over after a pause
                log.warning("consumer %s failed: %s", self.group, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                self.running = False
                if self._consumer is not None:
                    await stop_quietly(self._consumer)
                    self._consumer = None

    async def _run_consumer(self) -> None:
        await ensure_topics(self.settings)  # subscribing to a missing topic waits for metadata
        self._consumer = new_consumer(self.settings, group=self.group, background=self.background)
        self._consumer.subscribe(list(self.topics), listener=_CommitOnRevoke(self))
        await self._consumer.start()
        backoff = 0.1
        while not self._stopping:
            batch = await self._consumer.getmany(
                timeout_ms=200, max_records=self.settings.consumer_batch_size
            )
            epoch = self._epoch
            self.running = bool(self._consumer.assignment())
            self.heartbeat = time.monotonic()
            if batch:
                try:
                    await self._process(batch)
                except Exception as exc:
                    if not is_transient(exc):
                        raise
                    for tp, msgs in batch.items():
                        self._consumer.seek(tp, msgs[0].offset)
                    wait = getattr(exc, "wait", None)
                    if wait is not None:  # e.g. a lead's key on its way: retry once it is here
                        log.debug("batch waits, will retry: %s", exc)
                        await wait()
                        continue
                    log.warning("batch failed, will retry: %s", exc)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                backoff = 0.1
                if epoch == self._epoch:
                    for tp, msgs in batch.items():
                        self._pending[tp] = self._next[tp] = msgs[-1].offset + 1
                else:  # fetched before a rebalance: redelivered from the new positions
                    log.info("batch outlived its assignment; its offsets are not committed")
                await self.commit_pending()
            await self._rewind_if_log_shrank()
            await self._refresh_lag()

    def assigned(self) -> None:
        """A new assignment: positions come from the group's committed offsets now."""
        self._epoch += 1
        self._pending.clear()
        self._next.clear()

    async def _rewind_if_log_shrank(self) -> None:
        """A partition whose log now ends below the offset we read up to lost its records
        (a broker that came back empty): read it again from the beginning rather than
        wait, at a stale position, for the log to grow past it and skip what came before.
        Free: the high watermark comes with every fetch response (only a successful fetch
        at our position sets it)."""
        assert self._consumer is not None
        held = self._consumer.assignment()
        shrank = [
            tp
            for tp, position in self._next.items()
            if tp in held and (hw := self._consumer.highwater(tp)) is not None and hw < position
        ]
        if not shrank:
            return
        log.warning(
            "consumer %s: log ends below our position on %s; reading it again from the start",
            self.group,
            ", ".join(f"{tp.topic}[{tp.partition}]" for tp in shrank),
        )
        for tp in shrank:
            del self._next[tp]
            self._pending.pop(tp, None)
        await self._consumer.seek_to_beginning(*shrank)

    async def commit_pending(self, *, from_loop: bool = True) -> None:
        """Commit processed offsets, bounded in time. A commit aiokafka keeps retrying (a
        broker that lost the topic answers UnknownTopicOrPartition forever) would stall the
        loop silently, so from the loop it restarts the consumer instead: topics are
        created again and the group rejoined; redelivered messages meet the inbox."""
        if not self._pending or self._consumer is None:
            return
        offsets, self._pending = self._pending, {}
        try:
            await asyncio.wait_for(self._consumer.commit(offsets), COMMIT_TIMEOUT_SECONDS)
        except (CommitFailedError, KafkaError, TimeoutError) as exc:
            # Not lost: the batch is in the database and the inbox; redelivery is a no-op.
            log.warning("offset commit failed, messages will be redelivered: %r", exc)
            if from_loop and not isinstance(exc, CommitFailedError):
                raise _RestartConsumer(repr(exc)) from exc
            return
        now = time.time()
        for topic in {tp.topic for tp in offsets}:
            metrics.CONSUMER_PROGRESS.labels(self.service, topic).set(now)

    async def _process(self, batch: dict[Any, list[Any]]) -> None:
        """One transaction for the whole batch. A poison event is found and isolated only
        when the batch fails: the common path has no savepoint (two round trips per batch
        on PostgreSQL); a failed batch is rolled back whole and done again, each event in
        its own savepoint."""
        items = self._relevant([_parse(msg) for msgs in batch.values() for msg in msgs])
        if not items:
            return
        try:
            fresh, errors = await self._transaction(items, isolate=False)
        except _BatchFailed as failed:
            log.info("batch of %d failed (%s); isolating the poison", len(items), failed)
            fresh, errors = await self._transaction(items, isolate=True)
        self._after_commit(fresh, errors)
        self.processed += len(items)
        if self.on_commit is not None:
            self.on_commit()

    async def _transaction(
        self, items: list[_Item], *, isolate: bool
    ) -> tuple[list[_Item], dict[str, str]]:
        async with self.sessionmaker() as session, session.begin():
            seen = (
                set()
                if self.idempotent
                else await self.inbox.seen(session, {i.inbox_id for i in items})
            )
            done: dict[str, str] = {}
            fresh: list[_Item] = []
            for item in items:
                if item.inbox_id in seen or item.inbox_id in done:
                    metrics.CONSUMER_MESSAGES.labels(
                        self.service, item.msg.topic, "duplicate"
                    ).inc()
                    continue
                done[item.inbox_id] = item.msg.topic
                fresh.append(item)
            errors = {i.inbox_id: i.error for i in fresh if i.error is not None}
            handled = [i for i in fresh if i.event is not None]
            if handled and not isolate:
                await self._handle_all(session, [i.event for i in handled])
            elif handled:
                for item in handled:
                    error = await self._handle_one(session, item.event)
                    if error is not None:
                        errors[item.inbox_id] = error
            for item in fresh:
                if item.inbox_id in errors:
                    await self._dead_letter(session, item, errors[item.inbox_id])
            if not self.idempotent:
                await self.inbox.record(session, done)
        return fresh, errors

    def _relevant(self, items: list[_Item]) -> list[_Item]:
        """Shows the batch to `peek`, then drops the well-formed events not `wanted`."""
        if self.peek is not None:
            self.peek([i.event for i in items if i.event is not None])
        if self.wants is None:
            return items
        wanted = [i for i in items if i.event is None or i.event.type in self.wants]
        self.processed += len(items) - len(wanted)
        return wanted

    def _after_commit(self, fresh: list[_Item], errors: dict[str, str]) -> None:
        for item in fresh:
            metrics.CONSUMER_MESSAGES.labels(self.service, item.msg.topic, "processed").inc()
            if item.inbox_id in errors:
                metrics.DLQ_MESSAGES.labels(self.service, dlq(item.msg.topic)).inc()
            if item.event is not None:
                log.info(
                    "event consumed",
                    extra={
                        "lead_id": item.event.subject,
                        "event_type": item.event.type,
                        "event_id": item.event.id,
                        "correlation_id": trace_id(item.event.traceparent),
                        "dead_lettered": item.inbox_id in errors,
                    },
                )

    async def _handle_all(self, session: AsyncSession, events: list[Any]) -> None:
        """The fast path: every event of the batch, no savepoint. A failure that is not
        transient raises _BatchFailed, which rolls the whole transaction back."""
        try:
            if self.batch_handler is not None:
                await self.batch_handler(session, events)
            else:
                for event in events:
                    await self._call(session, event)
        except Exception as exc:
            if is_transient(exc) and not isinstance(exc, IntegrityError):
                raise
            raise _BatchFailed(f"{type(exc).__name__}: {exc}") from exc

    async def _handle_one(self, session: AsyncSession, event: Any) -> str | None:
        """The slow path: one event in its own savepoint, so a poison event rolls back alone."""
        try:
            async with session.begin_nested():
                if self.batch_handler is not None:
                    await self.batch_handler(session, [event])
                else:
                    await self._call(session, event)
        except Exception as exc:
            if is_transient(exc) and not isinstance(exc, IntegrityError):
                raise
            log.warning("event %s (%s) cannot be processed: %s", event.id, event.type, exc)
            return f"{type(exc).__name__}: {exc}"
        return None

    async def _call(self, session: AsyncSession, event: Event) -> None:
        assert self.handler is not None
        await self.handler(session, event)

    async def _dead_letter(self, session: AsyncSession, item: _Item, error: str) -> None:
        msg = item.msg
        await self.outbox.add_raw(
            session,
            event_id=f"dlq:{self.group}:{item.inbox_id}",
            topic=dlq(msg.topic),
            key=msg.key.decode("utf-8", "replace") if msg.key else None,
            payload=msg.value or b"",
            headers={
                "error": error[:MAX_ERROR_HEADER],
                "original_topic": msg.topic,
                "original_partition": str(msg.partition),
                "original_offset": str(msg.offset),
                "failed_by": self.group,
                "failed_at": datetime.now(UTC).isoformat(),
            },
        )

    async def _refresh_lag(self) -> None:
        """Lag of the partitions this replica holds; 0 for topics it holds none of, so a
        replica that lost its partitions in a rebalance does not report stale lag."""
        now = time.monotonic()
        if now - self._lag_checked < LAG_REFRESH_SECONDS or self._consumer is None:
            return
        self._lag_checked = now
        assigned = list(self._consumer.assignment())
        lag: dict[str, int] = dict.fromkeys(self.topics, 0)
        if assigned:
            try:
                ends = await self._consumer.end_offsets(assigned)
            except KafkaError:
                return
            for tp in assigned:
                position = await self._consumer.position(tp)
                lag[tp.topic] = lag.get(tp.topic, 0) + max(0, ends.get(tp, 0) - position)
        for topic, value in lag.items():
            metrics.CONSUMER_LAG.labels(self.service, topic).set(value)

    async def lag(self) -> dict[str, int]:
        """Lag per topic right now (for tests and /readyz detail)."""
        if self._consumer is None:
            return {}
        assigned: list[TopicPartition] = list(self._consumer.assignment())
        ends = await self._consumer.end_offsets(assigned) if assigned else {}
        out: dict[str, int] = {}
        for tp in assigned:
            committed = await self._consumer.committed(tp) or 0
            out[tp.topic] = out.get(tp.topic, 0) + max(0, ends.get(tp, 0) - committed)
        return out


def _parse(msg: Any) -> _Item:
    if msg.value is None and msg.topic in COMPACTED_TOPICS:  # a delete marker, not poison
        return _Item(msg, tombstone(msg.topic, msg.partition, msg.offset, msg.key), None)
    try:
        return _Item(msg, parse_event(msg.value or b""), None)
    except Exception as exc:  # any malformed input is a dead letter, never a crash
        return _Item(msg, None, f"{type(exc).__name__}: {str(exc)[:500]}")
