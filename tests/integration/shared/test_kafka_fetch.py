"""What a consumer fetches is bounded by the settings, so a lagging consumer's memory is
bounded too (the PostgreSQL soak's handoff grew with its lag: aiokafka held the broker's
multi-megabyte answers)."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from shared.kafka import new_consumer
from shared.settings import ServiceSettings

TOPIC = "fetch.bounds"
VALUE = b"x" * 2_000
COUNT = 1_500  # 3 MB waiting in one partition


async def _fill(broker: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=broker)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(TOPIC, 1, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=broker, linger_ms=5)
    await producer.start()
    try:
        for i in range(COUNT):
            await producer.send(TOPIC, VALUE, key=str(i).encode())
        await producer.flush()
    finally:
        await producer.stop()


async def _largest_fetch(settings: ServiceSettings) -> int:
    """Bytes of the largest answer while reading the whole backlog."""
    consumer = new_consumer(settings, group=f"g-{settings.kafka_max_partition_fetch_bytes}")
    consumer.subscribe([TOPIC])
    await consumer.start()
    try:
        read, largest = 0, 0
        while read < COUNT:
            batch = await consumer.getmany(timeout_ms=2_000, max_records=100_000)
            got = [m for msgs in batch.values() for m in msgs]
            assert got, f"stalled after {read} of {COUNT} records"
            read += len(got)
            largest = max(largest, sum(len(m.value) for m in got))
        assert read == COUNT
        return largest
    finally:
        await consumer.stop()


async def test_a_lagging_consumer_fetches_in_bounded_pieces(broker: str) -> None:
    await _fill(broker)
    bounded = ServiceSettings(
        kafka_bootstrap_servers=broker,
        kafka_max_partition_fetch_bytes=65_536,
        kafka_fetch_max_bytes=131_072,
    )
    wide = ServiceSettings(
        kafka_bootstrap_servers=broker,
        kafka_max_partition_fetch_bytes=4_194_304,
        kafka_fetch_max_bytes=8_388_608,
    )
    small = await _largest_fetch(bounded)
    large = await _largest_fetch(wide)
    # The broker answers whole record batches, so a little over the bound is allowed.
    assert small <= 4 * 65_536, small
    assert large > 8 * small, (small, large)
