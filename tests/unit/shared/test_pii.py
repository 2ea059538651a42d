"""Crypto-shredding: personal fields leave only sealed, open only with the lead's own key."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from shared.events import (
    Decision,
    FeedbackData,
    LeadAssigned,
    LeadAssignedData,
    LeadData,
    LeadFeedback,
    LeadReceived,
    LeadScored,
    LeadScoredData,
    OutcomeReport,
    PlaintextOnWire,
    RejectionReport,
    Touch,
    parse_event,
    serialize_event,
)
from shared.pii import (
    DataKey,
    KeyNotYetKnown,
    SealError,
    erase_lead,
    open_event,
    open_lead,
    seal,
    seal_brief,
    seal_event,
    seal_lead,
    unseal,
)

AT = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
PERSONAL = ("jane.doe@acme.io", "Jane", "Doe", "+14155552671", "VP Marketing", "Acme", "pricing")


def a_lead(lead_id: str = "L1") -> LeadData:
    return LeadData(
        lead_id=lead_id,
        email="jane.doe@acme.io",
        first_name="Jane",
        last_name="Doe",
        phone="+14155552671",
        company="Acme",
        job_title="VP Marketing",
        country="US",
        source="web",
        campaign_id="q4",
        attributes={"employees": 500},
        touches=(Touch(type="form_submit", at=AT, detail="asked about pricing"),),
        received_at=AT,
    )


def test_a_sealed_lead_on_the_wire_holds_no_personal_field_and_opens_to_the_original() -> None:
    key = DataKey.new()
    event = LeadReceived(source="/t", subject="L1", data=seal_lead(a_lead(), key))
    raw = serialize_event(event)
    for text in PERSONAL:
        assert text.encode() not in raw
    doc = json.loads(raw)["data"]
    assert {"lead_id", "source", "campaign_id", "country", "personal"} <= set(doc)
    assert doc["touches"] == [{"type": "form_submit", "at": "2026-11-24T15:00:00Z"}]
    back = parse_event(raw)
    opened = open_event(back, {"L1": key})
    assert isinstance(opened, LeadReceived)
    assert opened.data.model_copy(update={"personal": None}) == a_lead()


def test_plaintext_personal_data_never_serialises_for_a_topic() -> None:
    with pytest.raises(Exception, match="seal personal fields first"):
        serialize_event(LeadReceived(source="/t", subject="L1", data=a_lead()))
    # The same lead without personal data (erased) goes out as it is.
    raw = serialize_event(LeadReceived(source="/t", subject="L1", data=erase_lead(a_lead())))
    assert b"Jane" not in raw
    assert b"personal" not in raw


def test_a_blob_opens_only_with_its_key_and_for_its_own_lead() -> None:
    key, other = DataKey.new(), DataKey.new()
    sealed = seal(key, {"email": "a@b.io"}, aad="L1")
    assert unseal(key, sealed, aad="L1") == {"email": "a@b.io"}
    with pytest.raises(SealError):
        unseal(other, sealed, aad="L1")  # another lead's key
    with pytest.raises(SealError):
        unseal(key, sealed, aad="L2")  # moved to another lead
    tampered = sealed.model_copy(
        update={"ct": sealed.ct[:-2] + ("A" if sealed.ct[-2] != "A" else "B") + sealed.ct[-1]}
    )
    with pytest.raises(SealError):
        unseal(key, tampered, aad="L1")


def test_each_seal_draws_a_fresh_nonce() -> None:
    key = DataKey.new()
    assert seal(key, {"x": 1}, aad="L1").ct != seal(key, {"x": 1}, aad="L1").ct


def test_a_key_travels_as_a_record_and_comes_back_the_same() -> None:
    key = DataKey.new()
    assert DataKey.of(key.record("L1", AT)) == key
    with pytest.raises(SealError):
        DataKey.of(key.record("L1", AT).model_copy(update={"key": "c2hvcnQ"}))


def test_an_event_whose_key_has_not_come_is_retried_and_an_erased_leads_is_dropped() -> None:
    key = DataKey.new()
    event = LeadReceived(source="/t", subject="L1", data=seal_lead(a_lead(), key))
    with pytest.raises(KeyNotYetKnown):
        open_event(event, {})
    assert open_event(event, {"L1": None}) is None
    legacy = LeadReceived(source="/t", subject="L1", data=erase_lead(a_lead()))
    assert open_event(legacy, {}) is legacy  # nothing sealed: nothing to open


def test_downstream_events_pass_the_sealed_lead_on_and_seal_the_brief() -> None:
    key = DataKey.new()
    lead = open_lead(seal_lead(a_lead(), key), key)
    decision = Decision(
        lead_id="L1", outcome="qualified", score=80, contract_version="v1", decided_at=AT
    )
    scored = LeadScored(
        source="/s", subject="L1", data=LeadScoredData(decision=decision, lead=lead)
    )
    raw = serialize_event(scored)  # no new seal: the blob intake made goes on
    assert b"Jane" not in raw
    assert json.loads(raw)["data"]["lead"]["personal"] == lead.personal.model_dump()  # type: ignore[union-attr]
    assigned = LeadAssignedData(
        lead_id="L1",
        rep_id="r1",
        team="na",
        reason="round_robin",
        assigned_at=AT,
        lead=lead,
        decision=decision,
        brief="Jane Doe, VP Marketing at Acme",
    )
    event = LeadAssigned(source="/h", subject="L1", data=assigned)
    with pytest.raises(Exception, match="seal the brief first"):
        serialize_event(event)
    raw = serialize_event(event.model_copy(update={"data": seal_brief(assigned, key)}))
    for text in PERSONAL:
        assert text.encode() not in raw
    opened = open_event(parse_event(raw), {"L1": key})
    assert isinstance(opened, LeadAssigned)
    assert opened.data.brief == "Jane Doe, VP Marketing at Acme"
    assert opened.data.lead.email == "jane.doe@acme.io"
    assert seal_brief(assigned, None).brief is None  # erased: no brief at all


def test_seal_event_seals_what_each_event_type_carries() -> None:
    key = DataKey.new()
    sealed = seal_event(LeadReceived(source="/t", subject="L1", data=a_lead()), key)
    assert isinstance(sealed, LeadReceived)
    assert sealed.data.personal is not None
    assert b"Jane" not in serialize_event(sealed)


def test_an_erased_lead_keeps_only_anonymous_facts() -> None:
    erased = erase_lead(a_lead())
    assert not erased.has_personal_data()
    assert (erased.source, erased.campaign_id, erased.country, erased.received_at) == (
        "web",
        "q4",
        "US",
        AT,
    )
    assert [t.type for t in erased.touches] == ["form_submit"]


def test_plaintext_on_wire_is_a_value_error() -> None:
    assert issubclass(PlaintextOnWire, ValueError)


def test_sales_notes_stay_off_the_wire() -> None:
    data = FeedbackData(
        lead_id="L1",
        kind="rejected",
        at=AT,
        detail={"reason": "other", "note": "Jane asked us to stop"},
        rejection=RejectionReport(reason="other", note="Jane asked us to stop"),
        outcome=OutcomeReport(stage="lost", note="Jane went elsewhere"),
    )
    raw = serialize_event(LeadFeedback(source="/h", subject="L1", data=data))
    assert b"Jane" not in raw
    doc = json.loads(raw)["data"]
    assert doc["rejection"] == {"reason": "other"}
    assert doc["detail"] == {"reason": "other"}
    assert data.model_dump()["rejection"]["note"] == "Jane asked us to stop"  # kept in memory
