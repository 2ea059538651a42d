"""The Standard Webhooks verifier (services/handoff/webhooks.py `verify`) refuses what it
must: stale or future timestamps, a tampered body, id or timestamp, a wrong secret; and
accepts a rotation's several signatures. Pure functions: no services needed."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook

from services.handoff.webhooks import (
    DEFAULT_TOLERANCE,
    WebhookVerificationError,
    new_secret,
    sign,
    signed_headers,
    verify,
)

pytestmark = pytest.mark.security

OLD = "whsec_" + base64.b64encode(b"old-secret-old-secret-old-secret").decode()
NEW = "whsec_" + base64.b64encode(b"new-secret-new-secret-new-secret").decode()
NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
BODY = b'{"type":"lead.assigned","data":{"lead_id":"l-1"}}'
TOL = int(DEFAULT_TOLERANCE.total_seconds())


def headers_at(
    at: datetime, *, secrets: tuple[str, ...] = (OLD,), msg_id: str = "msg_1"
) -> dict[str, str]:
    stamp = int(at.timestamp())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": " ".join(sign(s, msg_id, stamp, BODY) for s in secrets),
    }


def test_the_default_tolerance_is_five_minutes() -> None:
    assert timedelta(minutes=5) == DEFAULT_TOLERANCE


@pytest.mark.parametrize("skew", [0, 1, TOL - 1, TOL, -1, -(TOL - 1), -TOL])
def test_inside_the_tolerance_is_accepted(skew: int) -> None:
    """A delivery signed `skew` seconds before now (negative: a sender's clock ahead)."""
    sent = NOW - timedelta(seconds=skew)
    assert verify(OLD, headers_at(sent), BODY, now=NOW) == json.loads(BODY)


@pytest.mark.parametrize(
    "skew",
    [TOL + 1, 3600, 86_400 * 365, -(TOL + 1), -3600, -86_400 * 365],
    ids=["just-too-old", "hour-old", "year-old", "just-too-new", "hour-ahead", "year-ahead"],
)
def test_outside_the_tolerance_is_refused_with_a_valid_signature(skew: int) -> None:
    sent = NOW - timedelta(seconds=skew)
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        verify(OLD, headers_at(sent), BODY, now=NOW)


def test_a_custom_tolerance_is_honoured_both_ways() -> None:
    tight = timedelta(seconds=10)
    assert verify(OLD, headers_at(NOW - timedelta(seconds=10)), BODY, tight, now=NOW)
    for skew in (11, -11):
        with pytest.raises(WebhookVerificationError):
            verify(OLD, headers_at(NOW - timedelta(seconds=skew)), BODY, tight, now=NOW)


def test_the_wall_clock_is_the_default_now() -> None:
    assert verify(OLD, headers_at(datetime.now(UTC)), BODY)
    with pytest.raises(WebhookVerificationError):
        verify(OLD, headers_at(datetime.now(UTC) - timedelta(hours=1)), BODY)


def test_a_tampered_body_is_refused() -> None:
    headers = headers_at(NOW)
    for body in (
        BODY.replace(b"l-1", b"l-2"),
        BODY + b" ",
        BODY[:-1],
        b"",
        BODY.replace(b'"', b"'"),
    ):
        with pytest.raises(WebhookVerificationError, match="signature"):
            verify(OLD, headers, body, now=NOW)


def test_a_tampered_id_is_refused() -> None:
    headers = {**headers_at(NOW), "webhook-id": "msg_2"}
    with pytest.raises(WebhookVerificationError, match="signature"):
        verify(OLD, headers, BODY, now=NOW)


def test_a_replay_with_a_fresh_timestamp_is_refused() -> None:
    """An old delivery cannot be brought back inside the window by editing its timestamp:
    the timestamp is signed."""
    old = headers_at(NOW - timedelta(hours=1))
    replay = {**old, "webhook-timestamp": str(int(NOW.timestamp()))}
    with pytest.raises(WebhookVerificationError, match="signature"):
        verify(OLD, replay, BODY, now=NOW)


def test_a_wrong_secret_is_refused() -> None:
    with pytest.raises(WebhookVerificationError, match="signature"):
        verify(NEW, headers_at(NOW, secrets=(OLD,)), BODY, now=NOW)
    with pytest.raises(WebhookVerificationError):
        verify(new_secret(), headers_at(NOW), BODY, now=NOW)


@pytest.mark.parametrize("receiver", [OLD, NEW])
def test_rotation_both_signatures_sent_either_secret_verifies(receiver: str) -> None:
    """During a rotation the sender signs with both secrets, space-separated; a receiver
    still on the old one and a receiver already on the new one both accept."""
    headers = headers_at(NOW, secrets=(OLD, NEW))
    assert " " in headers["webhook-signature"]
    assert verify(receiver, headers, BODY, now=NOW) == json.loads(BODY)
    reversed_order = headers_at(NOW, secrets=(NEW, OLD))
    assert verify(receiver, reversed_order, BODY, now=NOW) == json.loads(BODY)
    # the retired secret alone no longer verifies what only the new one signs
    if receiver == OLD:
        with pytest.raises(WebhookVerificationError):
            verify(receiver, headers_at(NOW, secrets=(NEW,)), BODY, now=NOW)


def test_rotation_with_the_reference_library() -> None:
    """Real time here: the reference library checks against its own clock."""
    now = datetime.now(UTC)
    headers = headers_at(now, secrets=(OLD, NEW))
    for receiver in (OLD, NEW):
        assert Webhook(receiver).verify(BODY, headers) == json.loads(BODY)
        assert verify(receiver, headers, BODY) == json.loads(BODY)
    # and we accept what the reference library signs
    theirs = Webhook(NEW).sign("msg_1", now, BODY.decode())
    assert verify(NEW, {**headers, "webhook-signature": f"v1,bogus= {theirs}"}, BODY)


def test_other_signatures_in_the_list_do_not_help() -> None:
    """Only an exact v1 signature counts: other versions, truncated, padded or mangled
    signatures are ignored, and a list of only those is refused."""
    good = headers_at(NOW)["webhook-signature"]
    digest = good.split(",", 1)[1]
    for sigs in (
        f"v1a,{digest}",
        f"v2,{digest}",
        digest,
        f"v1,{digest[:-4]}",
        f"v1,{digest}A",
        f"V1,{digest}",
        f"v1 ,{digest}",
        "v1,",
        ",",
        f"v1,{base64.b64encode(b'x' * 32).decode()}",
    ):
        headers = {**headers_at(NOW), "webhook-signature": f"v1,AAAA {sigs}"}
        with pytest.raises(WebhookVerificationError):
            verify(OLD, headers, BODY, now=NOW)
    # a good one anywhere in the list is enough
    mixed = {**headers_at(NOW), "webhook-signature": f"v2,xyz v1,AAAA {good} v1,BBBB"}
    assert verify(OLD, mixed, BODY, now=NOW)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_header_is_refused(missing: str) -> None:
    headers = {k: v for k, v in headers_at(NOW).items() if k != missing}
    with pytest.raises(WebhookVerificationError, match="missing"):
        verify(OLD, headers, BODY, now=NOW)


@pytest.mark.parametrize("stamp", ["", "soon", "1.7e9", "17000000000000000000000000", "-1"])
def test_a_malformed_or_absurd_timestamp_is_refused(stamp: str) -> None:
    headers = {**headers_at(NOW), "webhook-timestamp": stamp}
    with pytest.raises(WebhookVerificationError):
        verify(OLD, headers, BODY, now=NOW)


def test_header_names_are_case_insensitive() -> None:
    headers = {k.title(): v for k, v in headers_at(NOW).items()}
    assert verify(OLD, headers, BODY, now=NOW)


def test_signed_headers_sign_what_they_say() -> None:
    headers = signed_headers(NEW, "msg_9", NOW, BODY)
    assert headers["webhook-timestamp"] == str(int(NOW.timestamp()))
    assert verify(NEW, headers, BODY, now=NOW + timedelta(seconds=TOL))
    with pytest.raises(WebhookVerificationError):
        verify(NEW, headers, BODY, now=NOW + timedelta(seconds=TOL + 1))
