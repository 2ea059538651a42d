"""The relay notices a broker that lost records it had acknowledged (no broker needed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka import TopicPartition
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from shared.outbox import BrokerLostRecords, Relay, outbox_table

A0 = TopicPartition("leads.received", 0)
A1 = TopicPartition("leads.received", 1)
B0 = TopicPartition("leads.scored", 0)


@dataclass
class Ack:
    topic_partition: TopicPartition
    offset: int


def acks(tp: TopicPartition, *offsets: int) -> list[Any]:
    return [Ack(tp, o) for o in offsets]


@pytest.fixture
def relay() -> Relay:
    engine = create_async_engine("sqlite+aiosqlite:///:memory:")
    return Relay(
        service="test",
        table=outbox_table(MetaData()),
        sessionmaker=async_sessionmaker(engine),
        producer_factory=None,
    )


def test_acks_in_order_lose_nothing(relay: Relay) -> None:
    relay._note_acks(acks(A0, 0, 1, 2) + acks(A1, 0))
    relay._note_acks([*acks(A0, 3, 4), RuntimeError("not acked")])
    assert relay._lost == set()
    assert relay._acked[A0] == (3, 4)
    assert relay._acked[A1] == (0, 0)


def test_an_ack_at_or_below_an_earlier_one_means_a_new_log(relay: Relay) -> None:
    relay._note_acks(acks(A0, 5, 6, 7) + acks(B0, 1))
    relay._note_acks(acks(A0, 0, 1))  # offsets again from 0: the broker came back empty
    assert relay._lost == {"leads.received"}
    assert relay._acked[A0] == (0, 1)  # what the new log holds
    assert relay._acked[B0] == (1, 1)


def test_end_offsets_below_the_last_send_mean_lost_records(relay: Relay) -> None:
    relay._note_acks(acks(A0, 10, 11, 12) + acks(B0, 3))
    marks = dict(relay._acked)
    # Tansu answers the last batch's base offset + 1: 11 is fine although 12 was acked.
    relay._lost_below(marks, {A0: 11, B0: 4})
    with pytest.raises(BrokerLostRecords) as lost:
        relay._lost_below(marks, {A0: 11, B0: 0})
    assert lost.value.topics == {"leads.scored"}
    assert B0 not in relay._acked
    assert A0 in relay._acked
    with pytest.raises(BrokerLostRecords) as gone:
        relay._lost_below(dict(relay._acked), {A0: -1})  # the topic is gone
    assert gone.value.topics == {"leads.received"}
    assert relay._acked == {}
