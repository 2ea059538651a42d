"""POST /v1/leads: accepted once, deduplicated, keyed, rate limited, counted."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake import service
from tests.conftest import a_lead
from tests.infra import eventually, read_topic
from tests.integration.intake.conftest import Intake, an_intake


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def events_for(broker: str, lead_id: str, count: int) -> list[dict[str, Any]]:
    records = await read_topic(
        broker,
        "leads.received",
        opened=True,
        until=lambda rs: sum(r["key"] == lead_id for r in rs) >= count,
        timeout=10,
    )
    return [r["value"] for r in records if r["key"] == lead_id]


async def test_a_lead_is_stored_and_published_once_keyed_by_its_id(
    intake: Intake, broker: str
) -> None:
    before = metric("leadrelay_leads_received_total", source="web", channel="api")
    answer = await intake.client.post("/v1/leads", json=a_lead(), headers=intake.admin)
    assert answer.status_code == 202, answer.text
    lead_id = answer.json()["lead_id"]
    assert answer.json()["status"] == "accepted"
    [event] = await events_for(broker, lead_id, 1)
    assert event["type"] == "com.leadrelay.lead.received.v1"
    assert event["data"]["lead_id"] == lead_id
    assert event["data"]["channel"] == "api"
    assert metric("leadrelay_leads_received_total", source="web", channel="api") == before + 1


async def test_the_same_idempotency_key_returns_the_first_answer_and_creates_nothing(
    intake: Intake, broker: str
) -> None:
    body = a_lead()
    headers = {**intake.admin, "Idempotency-Key": "order-17"}
    first = await intake.client.post("/v1/leads", json=body, headers=headers)
    stored = await intake.stored()
    again = await intake.client.post("/v1/leads", json=body, headers=headers)
    assert again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert await intake.stored() == stored
    events = await events_for(broker, first.json()["lead_id"], 1)
    assert len(events) == 1

    other = await intake.client.post("/v1/leads", json=a_lead(), headers=headers)
    assert other.status_code == 409
    assert other.headers["content-type"] == "application/problem+json"
    assert await intake.stored() == stored


async def test_idempotency_keys_belong_to_the_api_key_that_sent_them(intake: Intake) -> None:
    body = a_lead()
    one = await intake.client.post(
        "/v1/leads", json=body, headers={**intake.key("intake"), "Idempotency-Key": "k"}
    )
    two = await intake.client.post(
        "/v1/leads", json=a_lead(), headers={**intake.key("intake"), "Idempotency-Key": "k"}
    )
    assert (one.status_code, two.status_code) == (202, 202)
    assert one.json()["lead_id"] != two.json()["lead_id"]


async def test_the_same_person_is_merged_and_published_as_updated_for_rescoring(
    intake: Intake, broker: str
) -> None:
    email = a_lead()["email"]
    first = await intake.client.post(
        "/v1/leads", json=a_lead(email=email, company=None), headers=intake.admin
    )
    lead_id = first.json()["lead_id"]
    second = await intake.client.post(
        "/v1/leads",
        json=a_lead(
            email=email.upper(),
            company="Acme Corp",
            touches=[{"type": "webinar", "at": "2026-11-25T10:00:00Z"}],
            attributes={"industry": "saas"},
        ),
        headers=intake.admin,
    )
    assert second.status_code == 202
    assert second.json() == {"lead_id": lead_id, "status": "duplicate", "duplicate_of": lead_id}
    assert (await intake.stored())["leads"] == 1
    received, updated = await events_for(broker, lead_id, 2)
    assert received["type"] == "com.leadrelay.lead.received.v1"
    assert updated["type"] == "com.leadrelay.lead.updated.v1"
    data = updated["data"]
    assert data["revision"] == 2
    assert data["company"] == "Acme Corp"
    assert data["attributes"] == {"employees": 500, "industry": "saas"}
    assert [t["type"] for t in data["touches"]] == ["form_submit", "webinar"]


async def test_keys_missing_unknown_revoked_or_without_the_scope_are_refused(
    sqlite_intake: Intake,
) -> None:
    intake = sqlite_intake
    post = intake.client.post
    assert (await post("/v1/leads", json=a_lead())).status_code == 401
    bogus = {"Authorization": "Bearer lr_nope_nope"}
    assert (await post("/v1/leads", json=a_lead(), headers=bogus)).status_code == 401
    for scopes in (["sales"], ["form:contact"]):
        answer = await post("/v1/leads", json=a_lead(), headers=intake.key(*scopes))
        assert answer.status_code == 403, scopes
        assert answer.headers["content-type"] == "application/problem+json"
    plain = intake.keys.create("x", ["intake"])
    ok = await post("/v1/leads", json=a_lead(), headers={"X-API-Key": plain})
    assert ok.status_code == 202
    intake.keys.revoke(plain.split("_")[1])

    async def refused() -> bool:  # services re-read the keys file at most once a second
        answer = await post("/v1/leads", json=a_lead(), headers={"X-API-Key": plain})
        return answer.status_code == 401

    await eventually(refused, timeout=5, interval=0.2)


async def test_a_key_over_its_rate_gets_429_with_retry_after(
    broker: str, keys_file: Path, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/intake.db"
    async with an_intake(
        url, broker, keys_file, tmp_path, rate_limit_burst=3, rate_limit_per_second=0.2
    ) as intake:
        headers = intake.key("intake")
        codes = [
            (await intake.client.post("/v1/leads", json=a_lead(), headers=headers)).status_code
            for _ in range(4)
        ]
        assert codes == [202, 202, 202, 429]
        refused = await intake.client.post("/v1/leads", json=a_lead(), headers=headers)
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1
        assert refused.json()["type"] == "https://leadrelay.dev/problems/rate-limited"
        other = await intake.client.post("/v1/leads", json=a_lead(), headers=intake.admin)
        assert other.status_code == 202  # the limit is per key
        assert (await intake.stored())["leads"] == 4


async def test_every_refusal_is_counted_by_channel_and_reason(sqlite_intake: Intake) -> None:
    intake = sqlite_intake
    reasons = ("invalid", "malformed", "unsupported_media_type", "unauthorized")
    before = {r: metric("leadrelay_leads_rejected_total", channel="api", reason=r) for r in reasons}
    await intake.client.post("/v1/leads", json={"email": "nope"}, headers=intake.admin)
    await intake.client.post(
        "/v1/leads", content=b"{", headers={**intake.admin, "content-type": "application/json"}
    )
    await intake.client.post(
        "/v1/leads", content=b"{}", headers={**intake.admin, "content-type": "text/plain"}
    )
    await intake.client.post("/v1/leads", json=a_lead())
    for reason in reasons:
        after = metric("leadrelay_leads_rejected_total", channel="api", reason=reason)
        assert after == before[reason] + 1, reason


async def test_invalid_fields_are_all_named_by_json_pointer(sqlite_intake: Intake) -> None:
    answer = await sqlite_intake.client.post(
        "/v1/leads",
        json={
            "email": "not-an-email",
            "phone": "12",
            "touches": [{"type": "webinar", "at": "2026-01-20T10:00:00"}],
            "emial": "typo",
        },
        headers=sqlite_intake.admin,
    )
    assert answer.status_code == 422
    problem = answer.json()
    assert problem["type"] == "https://leadrelay.dev/problems/invalid-input"
    pointers = {e["pointer"]: e["message"] for e in problem["errors"]}
    assert set(pointers) == {"/email", "/phone", "/touches/0/at", "/emial"}
    assert pointers["/emial"] == "unknown field"
    assert "time zone" in pointers["/touches/0/at"]


async def test_the_same_person_posted_many_times_at_once_is_one_lead(intake: Intake) -> None:
    email = a_lead()["email"]

    async def post(i: int) -> dict[str, Any]:
        body = a_lead(
            email=email, touches=[{"type": "page_view", "at": f"2026-11-24T10:{i:02d}:00Z"}]
        )
        answer = await intake.client.post("/v1/leads", json=body, headers=intake.admin)
        assert answer.status_code == 202, answer.text
        return dict(answer.json())

    answers = await asyncio.gather(*(post(i) for i in range(12)))
    assert sorted(a["status"] for a in answers) == ["accepted"] + ["duplicate"] * 11
    assert len({a["lead_id"] for a in answers}) == 1
    assert (await intake.stored())["leads"] == 1


async def test_a_group_that_loses_a_race_is_written_again_not_refused(
    intake: Intake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL aborting a group commit for a deadlock is no reason to answer 503: the
    group is written again (the server itself raises deadlock_detected, twice)."""
    if not intake.db_url.startswith("postgresql"):
        pytest.skip("deadlock_detected is PostgreSQL's")
    real = service.accept_leads
    lost: list[int] = []

    async def losing_twice(session: AsyncSession, *args: Any, **kwargs: Any) -> Any:
        if len(lost) < 2:
            lost.append(1)
            await session.execute(
                text("DO $$ BEGIN RAISE EXCEPTION 'deadlock' USING ERRCODE = '40P01'; END $$")
            )
        return await real(session, *args, **kwargs)

    monkeypatch.setattr(service, "accept_leads", losing_twice)
    answer = await intake.client.post("/v1/leads", json=a_lead(), headers=intake.admin)
    assert answer.status_code == 202, answer.text
    assert len(lost) == 2
    assert (await intake.stored())["leads"] == 1
