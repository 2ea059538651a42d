"""Events: CloudEvents 1.0 envelopes, keyed by lead id, parsed back to their type."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from shared.events import (
    EVENT_TYPES,
    LeadData,
    LeadReceived,
    UnknownEventType,
    dlq,
    parse_event,
    serialize_event,
)
from shared.pii import DataKey, open_lead, seal_lead

KEY = DataKey.new()


def a_lead_data() -> LeadData:
    return LeadData(
        lead_id="L1",
        email="jane@acme.io",
        source="web",
        received_at=datetime(2026, 11, 24, tzinfo=UTC),
    )


def test_an_event_carries_the_cloudevents_required_attributes() -> None:
    ev = LeadReceived(source="/leadrelay/intake", subject="L1", data=seal_lead(a_lead_data(), KEY))
    doc = json.loads(serialize_event(ev))
    assert doc["specversion"] == "1.0"
    assert doc["type"] == "com.leadrelay.lead.received.v1"
    assert doc["source"] == "/leadrelay/intake"
    assert doc["id"]
    assert doc["time"].startswith("20")
    assert doc["datacontenttype"] == "application/json"


def test_the_kafka_key_is_the_lead_id() -> None:
    ev = LeadReceived(source="/x", subject="L1", data=a_lead_data())
    assert ev.key == "L1"


def test_an_event_round_trips_to_its_own_class() -> None:
    ev = LeadReceived(source="/x", subject="L1", data=seal_lead(a_lead_data(), KEY))
    back = parse_event(serialize_event(ev))
    assert isinstance(back, LeadReceived)
    assert back.data.email == ""  # sealed on the wire
    assert back.model_copy(update={"data": open_lead(back.data, KEY)}) == ev


def test_unknown_types_and_garbage_are_refused_with_value_errors() -> None:
    with pytest.raises(UnknownEventType):
        parse_event(b'{"type": "com.example.other"}')
    for raw in (b"", b"[]", b"{", b'{"type": "com.leadrelay.lead.received.v1"}'):
        with pytest.raises(ValueError):  # noqa: PT011 - JSON, shape and validation errors alike
            parse_event(raw)


def test_every_event_type_is_versioned_and_reverse_dns() -> None:
    for name in EVENT_TYPES:
        assert name.startswith("com.leadrelay.")
        assert name.rsplit(".", 1)[-1].startswith("v")


def test_dead_letter_topic_names_follow_the_design() -> None:
    assert dlq("leads.received") == "leads.received.dlq"
