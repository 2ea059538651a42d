"""Standard Webhooks signing and verification, checked against the reference library."""

from __future__ import annotations

import base64
import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook

from services.handoff.webhooks import (
    WebhookVerificationError,
    new_secret,
    retry_delay,
    sign,
    signed_headers,
    verify,
    wants,
    webhook_body,
    webhook_type,
)
from shared.events import FeedbackData, LeadFeedback, LeadReceived

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
BODY = b'{"type":"lead.accepted","timestamp":"2026-11-24T15:00:00+00:00","data":{}}'


def test_our_signature_is_the_reference_librarys_signature() -> None:
    ours = sign(SECRET, "msg_1", int(NOW.timestamp()), BODY)
    theirs = Webhook(SECRET).sign("msg_1", NOW, BODY.decode())
    assert ours == theirs
    assert ours.startswith("v1,")


def test_the_reference_library_verifies_our_headers() -> None:
    headers = signed_headers(SECRET, "msg_2", datetime.now(UTC), BODY)
    assert Webhook(SECRET).verify(BODY, headers) == json.loads(BODY)


def test_verify_accepts_a_delivery_within_the_tolerance_and_returns_the_payload() -> None:
    headers = signed_headers(SECRET, "msg_3", NOW, BODY)
    later = NOW + timedelta(minutes=4, seconds=59)
    assert verify(SECRET, headers, BODY, now=later) == json.loads(BODY)


@pytest.mark.parametrize(
    "skew", [timedelta(minutes=5, seconds=1), -timedelta(minutes=5, seconds=1)]
)
def test_verify_refuses_a_timestamp_outside_the_tolerance_either_way(skew: timedelta) -> None:
    headers = signed_headers(SECRET, "msg_4", NOW, BODY)
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        verify(SECRET, headers, BODY, now=NOW + skew)


def test_a_wider_tolerance_can_be_asked_for() -> None:
    headers = signed_headers(SECRET, "msg_5", NOW, BODY)
    assert verify(SECRET, headers, BODY, timedelta(hours=1), now=NOW + timedelta(minutes=30))


def test_verify_refuses_a_tampered_body_or_another_secret() -> None:
    headers = signed_headers(SECRET, "msg_6", NOW, BODY)
    with pytest.raises(WebhookVerificationError, match="no matching signature"):
        verify(SECRET, headers, BODY.replace(b"accepted", b"rejected"), now=NOW)
    with pytest.raises(WebhookVerificationError, match="no matching signature"):
        verify(new_secret(), headers, BODY, now=NOW)


def test_any_of_several_signatures_may_match_while_a_secret_is_rotated() -> None:
    headers = signed_headers(SECRET, "msg_7", NOW, BODY)
    old = sign(new_secret(), "msg_7", int(NOW.timestamp()), BODY)
    headers["webhook-signature"] = f"{old} {headers['webhook-signature']}"
    assert verify(SECRET, {k.upper(): v for k, v in headers.items()}, BODY, now=NOW)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_header_is_refused(missing: str) -> None:
    headers = signed_headers(SECRET, "msg_8", NOW, BODY)
    del headers[missing]
    with pytest.raises(WebhookVerificationError, match="missing"):
        verify(SECRET, headers, BODY, now=NOW)


def test_new_secrets_are_whsec_and_32_random_bytes() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert secret != new_secret()


def test_retry_delays_double_with_equal_jitter_up_to_the_cap() -> None:
    rng = random.Random(7)
    for attempt, step in [(1, 15), (2, 30), (3, 60), (10, 3600), (30, 3600)]:
        for _ in range(50):
            delay = retry_delay(attempt, base=15, cap=3600, rng=rng.uniform)
            assert step / 2 <= delay <= step


def test_feedback_is_delivered_as_lead_dot_kind_in_the_standard_payload_shape() -> None:
    event = LeadFeedback(
        source="/leadrelay/handoff",
        subject="lead-1",
        time=NOW,
        data=FeedbackData(lead_id="lead-1", kind="accepted", at=NOW, rep_id="rep-ana"),
    )
    assert webhook_type(event) == "lead.accepted"
    assert json.loads(webhook_body(event, "lead.accepted")) == {
        "type": "lead.accepted",
        "timestamp": "2026-11-24T15:00:00+00:00",
        "data": {
            "lead_id": "lead-1",
            "kind": "accepted",
            "at": "2026-11-24T15:00:00Z",
            "rep_id": "rep-ana",
            "detail": {},
        },
    }


def test_only_handoff_events_are_delivered_and_star_means_all() -> None:
    assert webhook_type(LeadReceived.model_construct(type="x")) is None
    assert wants(["*"], "lead.recycled")
    assert wants(["lead.recycled"], "lead.recycled")
    assert not wants(["lead.assigned"], "lead.recycled")
