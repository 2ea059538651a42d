"""Poison messages on every consumed topic: dead-lettered with the error, the flow goes on."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from shared.events import (
    TOPIC_RECEIVED,
    TOPIC_SCORED,
    Decision,
    Event,
    LeadData,
    LeadReceived,
    LeadScored,
    LeadScoredData,
    dlq,
    serialize_event,
)
from shared.pii import DataKey, seal_event
from tests.faults.conftest import POISON, LeadPoster, Stack, audit, meanwhile, topic_snapshot

pytestmark = pytest.mark.faults

CONSUMED_BY = {TOPIC_RECEIVED: "scoring", TOPIC_SCORED: "handoff"}


def _lead(lead_id: str) -> LeadData:
    return LeadData(
        lead_id=lead_id, email="poison@example.com", source="web", received_at=datetime.now(UTC)
    )


def _decision(lead_id: str) -> Decision:
    return Decision(
        lead_id=lead_id,
        outcome="qualified",
        score=99,
        tier="hot",
        contract_version="poison",
        decided_at=datetime.now(UTC),
    )


def _received_event(lead_id: str) -> LeadReceived:
    return LeadReceived(source="/poison", subject=lead_id, data=_lead(lead_id))


def _scored_event(lead_id: str) -> LeadScored:
    data = LeadScoredData(decision=_decision(lead_id), lead=_lead(lead_id))
    return LeadScored(source="/poison", subject=lead_id, data=data)


def _received(lead_id: str) -> bytes:
    return _plaintext(_received_event(lead_id))


def _scored(lead_id: str) -> bytes:
    return _plaintext(_scored_event(lead_id))


def _plaintext(event: Event) -> bytes:
    """A producer that does not seal (serialize_event refuses to): consumers take such a
    lead on without its personal fields, so the poison fails for what it is."""
    return event.model_dump_json(exclude_none=True).encode()


def _sealed_without_key(event: Event) -> bytes:
    """Sealed with a key that never reaches leads.keys: dead-lettered once the consumer has
    waited LEADRELAY_KEY_WAIT_SECONDS for it, and the partition goes on."""
    return serialize_event(seal_event(event, DataKey.new()))


def _envelope(lead_id: str, event_type: str, data: Any) -> bytes:
    doc = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "/poison",
        "type": event_type,
        "subject": lead_id,
        "time": datetime.now(UTC).isoformat(),
        "data": data,
    }
    return json.dumps(doc).encode()


def poisons(topic: str) -> dict[str, bytes | None]:
    """key -> value: what a consumer of `topic` cannot process, one of each kind."""
    tag = uuid.uuid4().hex[:8]
    own, wrong = (_received, _scored) if topic == TOPIC_RECEIVED else (_scored, _received)
    own_type = LeadReceived.TYPE if topic == TOPIC_RECEIVED else LeadScored.TYPE
    # A lead id longer than any lead_id column: valid against the schema, cannot be stored.
    unstorable = f"{POISON}unstorable-{tag}-" + "x" * 60
    return {
        f"{POISON}not-json-{tag}": b'{"specversion": "1.0", "type": "com.leadrelay.lead',
        f"{POISON}null-value-{tag}": None,
        f"{POISON}not-an-object-{tag}": b'["a", "list"]',
        f"{POISON}unknown-type-{tag}": _envelope(
            f"{POISON}unknown-type-{tag}", "com.leadrelay.lead.teleported.v1", {"to": "mars"}
        ),
        f"{POISON}broken-data-{tag}": _envelope(
            f"{POISON}broken-data-{tag}", own_type, {"lead_id": 42, "email": ["not", "one"]}
        ),
        f"{POISON}wrong-type-{tag}": wrong(f"{POISON}wrong-type-{tag}"),
        unstorable: own(unstorable),
        f"{POISON}no-key-{tag}": _sealed_without_key(
            (_received_event if topic == TOPIC_RECEIVED else _scored_event)(f"{POISON}no-key-{tag}")
        ),
    }


async def produce(bootstrap: str, topic: str, messages: dict[str, bytes | None]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await asyncio.wait_for(producer.start(), timeout=15)
    try:
        for key, value in messages.items():
            await asyncio.wait_for(
                producer.send_and_wait(topic, value=value, key=key.encode()), timeout=15
            )
    finally:
        await asyncio.wait_for(producer.stop(), timeout=10)


async def test_poison_messages_are_dead_lettered_and_the_flow_goes_on(stack: Stack) -> None:
    """While 200 leads are posted at ~100/s, after the first 60 are stored, produce on each
    consumed topic (leads.received, leads.scored) a message that is not JSON, an empty
    value, JSON that is not an object, a CloudEvent of an unknown type, a known type whose
    data breaks its schema, a valid event of a type the topic's consumer does not handle,
    and a valid event whose lead id no table can store. Each lands on `<topic>.dlq` with an
    `error` header naming the failure, leaves no trace in the consumer's tables, and every
    real lead, before and after the poison, is still assigned (the audit)."""
    async with asyncio.timeout(180):
        await stack.up()
        poster = LeadPoster(stack.url(), stack.api_key)
        sent: dict[str, dict[str, bytes | None]] = {}
        async with meanwhile(poster.post(200, rate=100)):
            await stack.wait_count("select count(*) from intake.leads", 60)
            for topic in CONSUMED_BY:
                sent[topic] = poisons(topic)
                await produce(stack.bootstrap, topic, sent[topic])
            before = len(poster.accepted)
        after = len(poster.accepted) - before
        assert after > 0, "no lead was posted after the poison"
        stack.note(f"{after} leads accepted after the poison")
        stack.note(poster.summary())
        await audit(stack, poster)

        conn = await stack.db()
        for table in ("scoring.leads", "scoring.decisions", "handoff.leads", "handoff.timeline"):
            traces = await conn.fetchval(
                f"select count(*) from {table} where lead_id like $1", POISON + "%"
            )
            assert traces == 0, f"poison left {traces} rows in {table}"
        for topic, messages in sent.items():
            dead = await _dead_letters(stack, topic, set(messages))
            for key, value in messages.items():
                assert key in dead, f"{key} is not on {dlq(topic)}"
                record = dead[key][0]
                headers = record["headers"]
                assert headers.get("error"), f"{key}: no error header: {headers}"
                assert headers["original_topic"] == topic
                assert headers["failed_by"] == CONSUMED_BY[topic]
                assert _same_payload(record["value"], value), f"{key}: payload changed"
            stack.note(
                f"{dlq(topic)}: {sum(len(v) for v in dead.values())} dead letters for "
                f"{len(messages)} poisons"
            )
            for key in sorted(messages):
                error = " ".join(dead[key][0]["headers"]["error"].split())
                kind = re.match(rf"{POISON}(.+?)-[0-9a-f]{{8}}", key)
                stack.note(f"  {kind.group(1) if kind else key}: {error[:110]}")


async def _dead_letters(
    stack: Stack, topic: str, keys: set[str], timeout: float = 30.0
) -> dict[str, list[dict[str, Any]]]:
    """The records on `<topic>.dlq` by key, once every poison of `keys` is there (bounded)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        by_key: dict[str, list[dict[str, Any]]] = {}
        for record in await topic_snapshot(stack.bootstrap, dlq(topic), idle=0.5):
            by_key.setdefault(record["key"], []).append(record)
        if keys <= set(by_key) or asyncio.get_running_loop().time() > deadline:
            return by_key
        await asyncio.sleep(0.5)


def _same_payload(dead: Any, original: bytes | None) -> bool:
    """The dead letter carries the original bytes (a snapshot parses what is JSON)."""
    if isinstance(dead, bytes):
        return dead == (original or b"")
    return original is not None and dead == json.loads(original)
