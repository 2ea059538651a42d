"""Body size limits (413 problem+json naming the limit) and per-key rate limits (429 with
Retry-After), on running services with small limits so the tests stay fast."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import a_lead
from tests.security.conftest import FORM_ID, Stack, a_stack

pytestmark = pytest.mark.security

MAX_BODY = 4096
MAX_BATCH = 16_384
BURST = 5


@pytest.fixture(scope="module")
async def small(
    module_broker: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    """The stack with a 4 KiB body limit, a 16 KiB batch limit and 5 requests of burst per
    key on intake, refilled at 1 per second."""
    async with a_stack(
        tmp_path_factory.mktemp("small"),
        module_broker,
        max_body_bytes=MAX_BODY,
        max_batch_bytes=MAX_BATCH,
        rate_limit_per_second=1.0,
        rate_limit_burst=float(BURST),
    ) as running_stack:
        yield running_stack


def auth(stack: Stack, kind: str = "admin") -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.keys[kind]}"}


def assert_too_large(answer: httpx.Response, limit: int) -> None:
    assert answer.status_code == 413, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert problem["status"] == 413
    assert str(limit) in problem["detail"], problem


async def chunks(body: bytes, size: int = 1024) -> AsyncIterator[bytes]:
    """A body without Content-Length (chunked): only counting what arrives can stop it."""
    for i in range(0, len(body), size):
        yield body[i : i + size]


def big_lead() -> bytes:
    return json.dumps(a_lead(attributes={"notes": "x" * (MAX_BODY * 2)})).encode()


# --- 413 ---------------------------------------------------------------------------------


async def test_oversized_json_lead_declared(small: Stack) -> None:
    answer = await small.clients["intake"].post(
        "/v1/leads",
        content=big_lead(),
        headers={**auth(small, "intake"), "Content-Type": "application/json"},
    )
    assert_too_large(answer, MAX_BODY)


async def test_oversized_json_lead_streamed(small: Stack) -> None:
    answer = await small.clients["intake"].post(
        "/v1/leads",
        content=chunks(big_lead()),
        headers={**auth(small, "intake"), "Content-Type": "application/json"},
    )
    assert_too_large(answer, MAX_BODY)


async def test_oversized_body_without_a_key_is_refused_before_auth(small: Stack) -> None:
    """A declared oversize body is refused at the edge, whoever sends it (no 500, no read)."""
    answer = await small.clients["intake"].post(
        "/v1/leads", content=big_lead(), headers={"Content-Type": "application/json"}
    )
    assert_too_large(answer, MAX_BODY)


@pytest.mark.parametrize("streamed", [False, True], ids=["declared", "streamed"])
async def test_oversized_batch(small: Stack, streamed: bool) -> None:
    """The batch route has its own (higher) limit and enforces it while streaming."""
    line = json.dumps(a_lead()).encode() + b"\n"
    body = line * (MAX_BATCH // len(line) + 5)
    assert len(body) > MAX_BODY
    answer = await small.clients["intake"].post(
        "/v1/leads/batch",
        content=chunks(body) if streamed else body,
        headers={**auth(small, "intake"), "Content-Type": "application/x-ndjson"},
    )
    assert_too_large(answer, MAX_BATCH)


async def test_batch_under_its_limit_but_over_the_default_is_accepted(small: Stack) -> None:
    line = json.dumps(a_lead()).encode() + b"\n"
    body = b"".join(
        json.dumps(a_lead()).encode() + b"\n" for _ in range((MAX_BODY * 2) // len(line))
    )
    assert MAX_BODY < len(body) < MAX_BATCH
    answer = await small.clients["intake"].post(
        "/v1/leads/batch",
        content=body,
        headers={**auth(small, "intake"), "Content-Type": "application/x-ndjson"},
    )
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("streamed", [False, True], ids=["declared", "streamed"])
@pytest.mark.parametrize("media", ["urlencoded", "multipart"])
async def test_oversized_form_post(small: Stack, streamed: bool, media: str) -> None:
    key = small.keys["form"]
    fields = {"_key": key, "work_email": "big@example.com", "notes": "x" * (MAX_BODY * 2)}
    if media == "urlencoded":
        body = httpx.QueryParams(fields).__str__().encode()
        ctype = "application/x-www-form-urlencoded"
    else:
        boundary = uuid.uuid4().hex
        body = (
            b"".join(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n'
                f"{v}\r\n".encode()
                for k, v in fields.items()
            )
            + f"--{boundary}--\r\n".encode()
        )
        ctype = f"multipart/form-data; boundary={boundary}"
    answer = await small.clients["intake"].post(
        f"/v1/forms/{FORM_ID}",
        content=chunks(body) if streamed else body,
        headers={"Content-Type": ctype},
    )
    assert_too_large(answer, MAX_BODY)


@pytest.mark.parametrize("service", ["scoring", "handoff"])
async def test_oversized_bodies_on_the_other_services(small: Stack, service: str) -> None:
    """scoring and handoff keep the shared default (1 MiB) here: past it, 413 too."""
    limit = small.apps[service].state.runtime.settings.max_body_bytes
    path = "/v1/contracts" if service == "scoring" else "/v1/subscriptions"
    body = json.dumps({"x": "y" * (limit + 10)}).encode()
    for content in (body, chunks(body, 64 * 1024)):
        answer = await small.clients[service].post(
            path, content=content, headers={**auth(small), "Content-Type": "application/json"}
        )
        assert_too_large(answer, limit)


# --- 429 ---------------------------------------------------------------------------------


async def test_a_key_past_its_bucket_gets_429_and_other_keys_do_not(small: Stack) -> None:
    intake = small.clients["intake"]
    keys = small.apps["intake"].state.keys
    noisy = keys.create("noisy", ["intake"])
    quiet = keys.create("quiet", ["intake"])
    statuses = []
    for _ in range(BURST + 2):
        answer = await intake.post(
            "/v1/leads", json=a_lead(), headers={"Authorization": f"Bearer {noisy}"}
        )
        statuses.append(answer.status_code)
    assert statuses[:BURST] == [202] * BURST, statuses
    assert statuses[BURST:] == [429, 429], statuses
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert int(answer.headers["Retry-After"]) >= 1
    # another key is not slowed down by the noisy one
    other = await intake.post("/v1/leads", json=a_lead(), headers={"X-API-Key": quiet})
    assert other.status_code == 202, other.text
    # form posts count against the form key's own bucket
    form_key = keys.create("noisy form", [f"form:{FORM_ID}"])
    posts = [
        (
            await intake.post(
                f"/v1/forms/{FORM_ID}",
                data={"_key": form_key, "work_email": f"f{i}.{uuid.uuid4().hex[:6]}@example.com"},
            )
        ).status_code
        for i in range(BURST + 1)
    ]
    assert posts == [202] * BURST + [429], posts


@pytest.mark.parametrize("service", ["scoring", "handoff"])
async def test_scoring_and_handoff_limit_each_key_too(small: Stack, service: str) -> None:
    """scoring and handoff have no rate-limit settings (only intake's settings carry
    them); their key stores use the shared defaults. Tighten the store to show the routes
    enforce it."""
    store = small.apps[service].state.keys
    saved = store.rate_per_second, store.burst
    store.rate_per_second, store.burst = 1.0, float(BURST)
    try:
        noisy = store.create("noisy", ["sales"])
        quiet = store.create("quiet", ["sales"])
        path = "/v1/contracts" if service == "scoring" else "/v1/reps"
        client = small.clients[service]
        statuses = [
            (await client.get(path, headers={"Authorization": f"Bearer {noisy}"})).status_code
            for _ in range(BURST + 1)
        ]
        assert statuses == [200] * BURST + [429], statuses
        other = await client.get(path, headers={"Authorization": f"Bearer {quiet}"})
        assert other.status_code == 200
    finally:
        store.rate_per_second, store.burst = saved


async def test_rate_limit_settings_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from services.intake.settings import IntakeSettings

    monkeypatch.setenv("LEADRELAY_INTAKE_RATE_LIMIT_PER_SECOND", "2.5")
    monkeypatch.setenv("LEADRELAY_INTAKE_RATE_LIMIT_BURST", "7")
    monkeypatch.setenv("LEADRELAY_MAX_BODY_BYTES", "1234")
    monkeypatch.setenv("LEADRELAY_INTAKE_MAX_BATCH_BYTES", "5678")
    settings = IntakeSettings()
    assert (settings.rate_limit_per_second, settings.rate_limit_burst) == (2.5, 7.0)
    assert (settings.max_body_bytes, settings.max_batch_bytes) == (1234, 5678)
