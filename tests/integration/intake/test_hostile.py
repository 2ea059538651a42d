"""Malformed, hostile and oversized input against every channel: never a 5xx, always the
right status as problem+json, and nothing stored for a refused lead."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest

from tests.conftest import a_lead
from tests.integration.intake.conftest import HOOK_SECRET, Intake

MiB = 1024 * 1024
JSON = {"content-type": "application/json"}
CSV = {"content-type": "text/csv"}
NDJSON = {"content-type": "application/x-ndjson"}
FORM = {"content-type": "application/x-www-form-urlencoded"}

MANY = {f"k{i}": i for i in range(99)}
LEAD_CASES: list[tuple[str, bytes, dict[str, str], int]] = [
    ("not json", b"{email: 1}", JSON, 400),
    ("empty body", b"", JSON, 400),
    ("truncated", b'{"email": "a@b.co"', JSON, 400),
    ("invalid utf-8", b'{"email": "\xff\xfe@b.co"}', JSON, 400),
    ("deep nesting", b"[" * 100_000 + b"]" * 100_000, JSON, 400),
    ("huge integer", b'{"email": "a@b.co", "attributes": {"n": ' + b"9" * 5000 + b"}}", JSON, 400),
    ("an array", b"[]", JSON, 422),
    ("a string", b'"a@b.co"', JSON, 422),
    ("null", b"null", JSON, 422),
    ("NaN attribute", b'{"email": "a@b.co", "attributes": {"n": NaN}}', JSON, 422),
    ("nul byte", json.dumps(a_lead(first_name="A\u0000")).encode(), JSON, 422),
    ("lone surrogate", b'{"email": "a@b.co", "company": "\\ud800"}', JSON, 422),
    ("bidi override", json.dumps(a_lead(company="\u202eevil")).encode(), JSON, 422),
    ("nested attribute", json.dumps(a_lead(attributes={"a": {"b": 1}})).encode(), JSON, 422),
    ("too many attributes", json.dumps(a_lead(attributes=MANY)).encode(), JSON, 422),
    ("huge email", json.dumps(a_lead(email="a" * 10_000 + "@b.co")).encode(), JSON, 422),
    ("unknown field", json.dumps(a_lead(admin=True)).encode(), JSON, 422),
    ("wrong types", b'{"email": 1, "touches": "x", "consent": [1]}', JSON, 422),
    ("text/plain", json.dumps(a_lead()).encode(), {"content-type": "text/plain"}, 415),
    ("form encoded", b"email=a%40b.co", FORM, 415),
    ("no content type", json.dumps(a_lead()).encode(), {}, 415),
    ("over 1 MiB", b'{"email": "a@b.co", "x": "' + b"a" * MiB + b'"}', JSON, 413),
]  # fmt: skip

LONG_KEY = {"Idempotency-Key": "k" * 500}


async def assert_refused(
    intake: Intake, method: str, path: str, body: bytes, headers: dict[str, str], status: int
) -> None:
    before = await intake.stored()
    answer = await intake.client.request(method, path, content=body, headers=headers)
    assert answer.status_code == status, (path, headers, body[:80], answer.text[:300])
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["status"] == status
    assert problem["title"]
    assert await intake.stored() == before


async def test_refused_single_leads_store_nothing(intake: Intake) -> None:
    for _name, body, headers, status in LEAD_CASES:
        await assert_refused(intake, "POST", "/v1/leads", body, {**intake.admin, **headers}, status)
    body = json.dumps(a_lead()).encode()
    await assert_refused(
        intake, "POST", "/v1/leads", body, {**intake.admin, **JSON, **LONG_KEY}, 422
    )
    await assert_refused(intake, "POST", "/v1/leads", body, JSON, 401)


async def test_refused_batches_store_nothing(intake: Intake) -> None:
    admin = intake.admin
    cases: list[tuple[bytes, dict[str, str], int, str]] = [
        (b"email\na@b.co\n", {"content-type": "application/json"}, 415, ""),
        (b"email\na@b.co\n", {}, 415, ""),
        (b"email\na@b.co\n", CSV, 422, "?source=tv"),
        (b"email\na@b.co\n", CSV, 422, "?campaign_id=" + "c" * 300),
        (b"email\na@b.co\n", {**CSV, **LONG_KEY}, 422, ""),
        (b"email\na@b.co\n", CSV, 401, "nokey"),
        (b"email\n" + b"x" * (2 * MiB), CSV, 413, ""),  # one line past the line limit
    ]
    for body, headers, status, query in cases:
        auth = {} if query == "nokey" else admin
        path = "/v1/leads/batch" + ("" if query == "nokey" else query)
        await assert_refused(intake, "POST", path, body, {**auth, **headers}, status)


async def test_batches_of_garbage_answer_each_row_and_store_only_good_rows(intake: Intake) -> None:
    body = b"\n".join(
        [
            b'{"email": "good@acme.io"}',
            b"\xff\xfe\x00\x01",
            b"[1, 2]",
            b'{"email": "x", "phone": {"a": 1}}',
            b"{" * 10_000,
            b'"just a string"',
            b'{"email": "a@b.co", "n": NaN}',
        ]
    )
    answer = await intake.client.post(
        "/v1/leads/batch", content=body, headers={**intake.admin, **NDJSON}
    )
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["summary"] == {"accepted": 1, "duplicate": 0, "rejected": 6, "replayed": 0}
    assert [r["row"] for r in result["rows"] if r["status"] == "rejected"] == [2, 3, 4, 5, 6, 7]
    assert (await intake.stored())["leads"] == 1

    header_only = await intake.client.post(
        "/v1/leads/batch", content=b"name,phone\nAda,1\n", headers={**intake.admin, **CSV}
    )
    assert header_only.status_code == 200
    assert header_only.json()["summary"]["rejected"] == 1
    assert header_only.json()["rows"][0]["row"] == 1
    assert (await intake.stored())["leads"] == 1

    empty = await intake.client.post(
        "/v1/leads/batch", content=b"", headers={**intake.admin, **NDJSON}
    )
    assert empty.json() == {
        "summary": {"accepted": 0, "duplicate": 0, "rejected": 0, "replayed": 0},
        "rows": [],
    }


def _form_key(intake: Intake) -> str:
    return intake.keys.create("site", ["form:contact"])


async def test_refused_form_posts_store_nothing(intake: Intake) -> None:
    key = _form_key(intake)
    admin_key = intake.admin["Authorization"].removeprefix("Bearer ").encode()
    good = f"_key={key}&work_email=ada%40acme.io".encode()
    origin = {"origin": "https://www.example.com"}
    multipart = {"content-type": "multipart/form-data; boundary=xyz"}
    cases: list[tuple[str, bytes, dict[str, str], int]] = [
        ("/v1/forms/contact", good, {**FORM, **origin, "origin": "https://evil.example"}, 403),
        ("/v1/forms/contact", good, {**JSON, **origin}, 415),
        ("/v1/forms/contact", good, origin, 415),
        ("/v1/forms/contact", b"garbage", {**multipart, **origin}, 400),
        ("/v1/forms/contact", b"x", {"content-type": "multipart/form-data", **origin}, 400),
        ("/v1/forms/contact", b"work_email=ada%40acme.io", {**FORM, **origin}, 401),
        ("/v1/forms/contact", b"_key=lr_x_y&work_email=a%40b.co", {**FORM, **origin}, 401),
        ("/v1/forms/nope", good.replace(key.encode(), admin_key), {**FORM, **origin}, 404),
        ("/v1/forms/Bad%20Id", good, {**FORM, **origin}, 422),
        ("/v1/forms/contact", f"_key={key}&work_email=nope".encode(), {**FORM, **origin}, 422),
        ("/v1/forms/contact", f"_key={key}&work_email=a%00b.co".encode(), {**FORM, **origin}, 422),
        ("/v1/forms/contact", good + b"&f=" + b"x" * MiB, {**FORM, **origin}, 413),
        ("/v1/forms/contact", b"&".join(b"f%d=1" % i for i in range(500)), {**FORM, **origin}, 400),
    ]  # fmt: skip
    for path, body, headers, status in cases:
        await assert_refused(intake, "POST", path, body, headers, status)
    signup_key = intake.keys.create("signup", ["form:signup"])
    await assert_refused(
        intake, "POST", "/v1/forms/contact", f"_key={signup_key}".encode(), {**FORM, **origin}, 403
    )


def _signed(body: bytes, secret: str = HOOK_SECRET) -> dict[str, str]:
    sig = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return {**JSON, "Webhook-Signature": sig}


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b"\xff\xfe", 400),
        (b"[" * 50_000, 400),
        (b'{"n": NaN}', 400),
        (b"[]", 422),
        (b'"mautic"', 422),
        (b"x" * (MiB + 1), 413),
    ],
)
async def test_refused_webhooks_store_nothing(
    sqlite_intake: Intake, body: bytes, status: int
) -> None:
    await assert_refused(sqlite_intake, "POST", "/v1/hooks/mautic", body, _signed(body), status)


async def test_unsigned_or_unknown_webhooks_store_nothing(intake: Intake) -> None:
    body = json.dumps({"mautic.lead_post_save_new": [{"contact": {"id": 1}}]}).encode()
    for path, headers, status in [
        ("/v1/hooks/mautic", JSON, 401),
        ("/v1/hooks/mautic", {**JSON, "Webhook-Signature": "bm9wZQ=="}, 401),
        ("/v1/hooks/mautic", _signed(body, "wrong secret"), 401),
        ("/v1/hooks/hubspot", _signed(body), 404),
        ("/v1/hooks/" + "m" * 100, _signed(body), 422),
    ]:
        await assert_refused(intake, "POST", path, body, headers, status)


async def test_webhook_events_that_are_not_leads_are_answered_and_store_nothing(
    sqlite_intake: Intake,
) -> None:
    payload: dict[str, Any] = {
        "mautic.lead_post_save_new": [
            {"contact": {"id": 1, "fields": {"core": {"email": {"value": ""}}}}},
            {"contact": {"id": 2, "fields": {"core": {"email": {"value": "nope"}}}}},
            "junk",
        ],
        "mautic.email_on_open": [{"stat": {}}],
    }
    body = json.dumps(payload).encode()
    answer = await sqlite_intake.client.post(
        "/v1/hooks/mautic", content=body, headers=_signed(body)
    )
    assert answer.status_code == 202
    assert [r["status"] for r in answer.json()["results"]] == [
        "skipped",
        "rejected",
        "skipped",
        "skipped",
    ]
    assert answer.json()["results"][1]["errors"][0]["pointer"] == "/email"
    assert (await sqlite_intake.stored())["leads"] == 0
