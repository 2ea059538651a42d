"""Thin aiokafka factories. Tansu (tests, `make run`) and Apache Kafka (compose) alike.

No idempotent or transactional producer: Tansu does not support InitProducerId, and the
outbox + inbox design does not need it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.events import ALL_TOPICS
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)

STOP_TIMEOUT_SECONDS = 10.0


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


def new_consumer(settings: ServiceSettings, *, group: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=f"leadrelay-{settings.service}",
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
        max_poll_interval_ms=300_000,
        session_timeout_ms=10_000,
        heartbeat_interval_ms=3_000,
        request_timeout_ms=max(settings.kafka_request_timeout_ms, 40_000),
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
            new = NewTopic(topic, num_partitions=settings.kafka_partitions, replication_factor=1)
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
