"""Thin aiokafka factories. Tansu (tests, `make run`) and Apache Kafka (compose) alike.

No idempotent or transactional producer: Tansu does not support InitProducerId, and the
outbox + inbox design does not need it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import aiokafka.client
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, UnknownTopicOrPartitionError
from aiokafka.protocol.metadata import MetadataRequest
from aiokafka.protocol.offset import OffsetRequest

from shared.events import ALL_TOPICS, TOPIC_KEYS
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)

TOPIC_CONFIGS = {
    # One record per lead, its latest: the key, or the tombstone that deletes it (kept a
    # day so consumers that are behind still see it before it goes too).
    TOPIC_KEYS: {"cleanup.policy": "compact", "delete.retention.ms": "86400000"},
}

STOP_TIMEOUT_SECONDS = 10.0

CONSUMER_METADATA_MAX_AGE_MS = 5_000
"""A consumer notices a topic created (again) or grown within this long."""


class _NoAutoCreate(MetadataRequest):  # type: ignore[misc]
    """Metadata requests that never create a topic. Topics are made by `ensure_topics`, with
    our partition count and configs (leads.keys is compacted); a client asking about a
    topic the broker lacks (a consumer refreshing its metadata against a broker that came
    back empty) must not get one with the broker's defaults instead (Tansu: 4 partitions,
    no compaction; Apache Kafka with auto.create.topics.enable likewise). The topic then
    reads as missing, and whoever needs it calls `ensure_topics`."""

    def __init__(
        self, topics: list[str] | None = None, allow_auto_topic_creation: bool | None = None
    ) -> None:
        super().__init__(topics, False)


aiokafka.client.MetadataRequest = _NoAutoCreate


def new_producer(settings: ServiceSettings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=f"leadrelay-{settings.service}",
        acks="all",
        enable_idempotence=False,
        linger_ms=2,
        request_timeout_ms=settings.kafka_request_timeout_ms,
    )


async def start_producer(settings: ServiceSettings) -> AIOKafkaProducer:
    producer = new_producer(settings)
    try:
        await producer.start()
    except BaseException:
        await stop_quietly(producer)
        raise
    return producer


def new_consumer(
    settings: ServiceSettings, *, group: str, background: bool = False
) -> AIOKafkaConsumer:
    """A consumer of a LeadRelay group. `background`: off a lead's path, so the broker may
    hold its fetches longer (`kafka_background_fetch_wait_ms`)."""
    return AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=f"leadrelay-{settings.service}",
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        metadata_max_age_ms=CONSUMER_METADATA_MAX_AGE_MS,
        fetch_max_wait_ms=settings.kafka_background_fetch_wait_ms
        if background
        else settings.kafka_fetch_max_wait_ms,
        fetch_max_bytes=settings.kafka_fetch_max_bytes,
        max_partition_fetch_bytes=settings.kafka_max_partition_fetch_bytes,
        max_poll_interval_ms=300_000,
        session_timeout_ms=settings.kafka_session_timeout_ms,
        heartbeat_interval_ms=min(3_000, settings.kafka_session_timeout_ms // 3),
        # A JoinGroup may be held for the rebalance (up to the session timeout): a request
        # timeout shorter than that would mark a healthy coordinator dead and rejoin forever.
        request_timeout_ms=max(
            settings.kafka_request_timeout_ms, 40_000, settings.kafka_session_timeout_ms + 5_000
        ),
    )


async def ensure_topics(settings: ServiceSettings, topics: tuple[str, ...] = ALL_TOPICS) -> None:
    """Create LeadRelay's topics if missing; safe to call from every service on start."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        request_timeout_ms=settings.kafka_request_timeout_ms,
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t not in existing]
        for topic in missing:
            new = NewTopic(
                topic,
                num_partitions=settings.kafka_partitions,
                replication_factor=1,
                topic_configs=TOPIC_CONFIGS.get(topic, {}),
            )
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([new])
    finally:
        await admin.close()


async def stop_quietly(client: Any, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
    """stop() can hang on a dead broker (aio-libs/aiokafka#659, #773): bound it."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(client.stop(), timeout=timeout)


async def broker_reachable(producer: AIOKafkaProducer | None, timeout: float = 2.0) -> bool:
    if producer is None:
        return False
    try:
        return bool(await asyncio.wait_for(producer.client.fetch_all_metadata(), timeout))
    except Exception:
        return False


LATEST = -1
"""ListOffsets timestamp meaning "the log end offset"."""


async def end_offsets(client: Any, tps: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
    """The log end offset of each partition, one ListOffsets request per leader found in
    the client's cached metadata (no metadata round trip). -1 for a partition the broker
    answers it does not know, or that its topic's metadata no longer lists; left out when
    the cache has no leader for it (unknown for now: ask again later).

    Tansu answers the base offset of the partition's last record batch + 1, which can lag
    the true end by the rest of that batch: a lower bound, exact for Apache Kafka."""
    cluster = client.cluster
    by_node: dict[int, dict[str, list[tuple[int, int]]]] = defaultdict(lambda: defaultdict(list))
    out: dict[TopicPartition, int] = {}
    for tp in tps:
        partitions = cluster.partitions_for_topic(tp.topic)
        if not partitions:  # not in the metadata this client asked for: no leader to ask
            continue
        if tp.partition not in partitions:  # a topic made again with fewer partitions
            out[tp] = -1
            continue
        node = cluster.leader_for_partition(tp)
        if node is None or node < 0:
            continue
        by_node[node][tp.topic].append((tp.partition, LATEST))
    if not by_node:
        return out
    responses = await asyncio.gather(
        *(
            client.send(node, OffsetRequest(-1, 0, list(topics.items())))
            for node, topics in by_node.items()
        )
    )
    for response in responses:
        for topic, partitions in response.topics:
            for partition, error_code, *info in partitions:
                tp = TopicPartition(topic, partition)
                if error_code == UnknownTopicOrPartitionError.errno:
                    out[tp] = -1
                elif error_code == 0:
                    if response.API_VERSION == 0:
                        out[tp] = info[0][0] if info[0] else -1
                    else:
                        out[tp] = info[1]  # (timestamp, offset[, leader_epoch])
    return out
