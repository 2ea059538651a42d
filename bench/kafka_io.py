"""Plain aiokafka clients for the baselines and for watching what the services publish."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterable, Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

PARTITIONS = 3
"""LeadRelay's default (LEADRELAY_KAFKA_PARTITIONS); baselines use the same."""

FETCH_MAX_WAIT_MS = 10
MAX_RECORDS = 500
"""The consume loop's batch (LEADRELAY_CONSUMER_BATCH_SIZE), so bare loops fetch alike."""


async def create_topics(bootstrap: str, topics: Iterable[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        for topic in topics:
            if topic not in existing:
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
    finally:
        await admin.close()


@contextlib.asynccontextmanager
async def producer(bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    """acks=all, no idempotence, linger 2 ms: the services' own producer settings."""
    p = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=False,
        linger_ms=2,
        request_timeout_ms=30_000,
    )
    await p.start()
    try:
        yield p
    finally:
        await asyncio.wait_for(p.stop(), timeout=10)


async def send_all(p: AIOKafkaProducer, topic: str, records: Sequence[tuple[bytes, bytes]]) -> None:
    """Send every (key, value), flush, and wait until each one is acknowledged."""
    futures = [await p.send(topic, value, key=key) for key, value in records]
    await p.flush()
    await asyncio.gather(*futures)


@contextlib.asynccontextmanager
async def assigned_consumer(
    bootstrap: str, topic: str, *, timeout: float = 15.0
) -> AsyncIterator[AIOKafkaConsumer]:
    """A consumer without a group on every partition of `topic`, at the beginning."""
    c = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
    )
    await c.start()
    try:
        deadline = time.monotonic() + timeout
        parts = c.partitions_for_topic(topic)
        while not parts:
            if time.monotonic() > deadline:
                raise TimeoutError(f"topic {topic} has no partitions after {timeout}s")
            await c._client.force_metadata_update()  # the topic may be brand new
            await asyncio.sleep(0.1)
            parts = c.partitions_for_topic(topic)
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        c.assign(tps)
        await c.seek_to_beginning(*tps)
        yield c
    finally:
        await asyncio.wait_for(c.stop(), timeout=10)


async def consume_count(c: AIOKafkaConsumer, n: int, *, timeout: float) -> int:
    """A bare getmany loop, no processing: how many records arrived before `n` or timeout."""
    seen = 0
    deadline = time.monotonic() + timeout
    while seen < n and time.monotonic() < deadline:
        batch = await c.getmany(timeout_ms=200, max_records=MAX_RECORDS)
        seen += sum(len(msgs) for msgs in batch.values())
    return seen


class Arrivals:
    """Watches a topic from the beginning and notes when each key first arrived
    (perf_counter), optionally only for one CloudEvents type (the `ce_type` header)."""

    def __init__(self, bootstrap: str, topic: str, *, ce_type: str | None = None) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.ce_type = ce_type.encode() if ce_type else None
        self.at: dict[str, float] = {}
        self._changed = asyncio.Event()

    @contextlib.asynccontextmanager
    async def watching(self) -> AsyncIterator[Arrivals]:
        async with assigned_consumer(self.bootstrap, self.topic) as c:
            task = asyncio.create_task(self._loop(c))
            try:
                yield self
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _loop(self, c: AIOKafkaConsumer) -> None:
        while True:
            batch = await c.getmany(timeout_ms=100, max_records=MAX_RECORDS)
            now = time.perf_counter()
            for msgs in batch.values():
                for m in msgs:
                    if m.key is None or not self._wanted(m.headers):
                        continue
                    self.at.setdefault(m.key.decode(), now)
            if batch:
                self._changed.set()

    def _wanted(self, headers: Sequence[tuple[str, bytes]]) -> bool:
        return self.ce_type is None or (dict(headers).get("ce_type") == self.ce_type)

    async def wait_for(self, keys: int | set[str], *, timeout: float) -> bool:
        """Until `keys` distinct keys (a count) or these keys arrived; False on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            self._changed.clear()
            if self._done(keys):
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=min(left, 0.5))

    def _done(self, keys: int | set[str]) -> bool:
        if isinstance(keys, int):
            return len(self.at) >= keys
        return keys.issubset(self.at.keys())
