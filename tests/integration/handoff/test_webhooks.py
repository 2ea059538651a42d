"""Signed webhooks to a real local receiver: verified by an independent Standard Webhooks
implementation, retried with backoff, dead-lettered, visible through the API, and never in
the way of the handoff itself."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import uvicorn
from prometheus_client import REGISTRY
from standardwebhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.handoff.webhooks import verify
from shared.clock import FixedClock
from shared.tansu import free_port
from tests.infra import eventually, read_topic
from tests.integration.handoff.conftest import Harness, a_harness, a_scored


@dataclass
class Receiver:
    """A real HTTP endpoint: /ok/<name> answers 204, /fail 500, /gone 410, /slow waits."""

    base: str
    received: list[dict[str, Any]] = field(default_factory=list)

    def url(self, mode: str, name: str) -> str:
        return f"{self.base}/{mode}/{name}"

    def got(self, name: str) -> list[dict[str, Any]]:
        return [r for r in self.received if r["name"] == name]


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[Receiver]:
    port = free_port()
    receiver = Receiver(f"http://127.0.0.1:{port}")

    async def endpoint(request: Request) -> Response:
        body = await request.body()
        mode, name = request.path_params["mode"], request.path_params["name"]
        receiver.received.append({"name": name, "headers": dict(request.headers), "body": body})
        if mode == "slow":
            await asyncio.sleep(3)
        return Response(status_code={"ok": 204, "fail": 500, "gone": 410, "slow": 200}[mode])

    app = Starlette(routes=[Route("/{mode}/{name}", endpoint, methods=["POST"])])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    await eventually(_started(server), timeout=5, interval=0.01)
    yield receiver
    server.should_exit = True
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _started(server: uvicorn.Server) -> Any:
    async def check() -> bool:
        return bool(server.started)

    return check


@pytest.fixture(scope="module")
def webhook_clock() -> FixedClock:
    return FixedClock(datetime.now(UTC))


@pytest.fixture(scope="module")
async def hooks(
    module_broker: str, tmp_path_factory: pytest.TempPathFactory, webhook_clock: FixedClock
) -> AsyncIterator[Harness]:
    async with a_harness(
        module_broker,
        tmp_path_factory.mktemp("webhooks"),
        webhook_clock=webhook_clock,
        webhook_max_attempts=3,
        webhook_backoff_seconds=60,
        webhook_timeout_seconds=1.0,
    ) as harness:
        yield harness


@pytest.fixture(autouse=True)
def _real_time(webhook_clock: FixedClock) -> None:
    """Signatures carry the sender's time; receivers compare it with their wall clock."""
    webhook_clock.set(datetime.now(UTC))


async def subscribe(hooks: Harness, url: str, *types: str) -> dict[str, Any]:
    answer = await hooks.post("/v1/subscriptions", {"url": url, "event_types": list(types)})
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def deliveries(hooks: Harness, sub: dict[str, Any]) -> list[dict[str, Any]]:
    answer = await hooks.client.get(f"/v1/subscriptions/{sub['id']}/deliveries", headers=hooks.auth)
    assert answer.status_code == 200, answer.text
    result: list[dict[str, Any]] = answer.json()
    return result


async def a_lead_for(hooks: Harness) -> tuple[str, str]:
    team = hooks.team("wh")
    await hooks.put_rep(f"{team}-ana", team)
    event = a_scored(team=team)
    await hooks.feed(event)
    return event.data.lead.lead_id, f"{team}-ana"


async def test_deliveries_verify_with_the_standardwebhooks_library_and_our_own_verifier(
    hooks: Harness, receiver: Receiver
) -> None:
    sub = await subscribe(hooks, receiver.url("ok", "signed"), "lead.assigned", "lead.accepted")
    assert sub["secret"].startswith("whsec_")
    shown = await hooks.client.get(f"/v1/subscriptions/{sub['id']}", headers=hooks.auth)
    assert "secret" not in shown.json()
    lead_id, rep = await a_lead_for(hooks)
    await hooks.post(f"/v1/leads/{lead_id}/accept", {"rep_id": rep})
    await hooks.post(
        f"/v1/leads/{lead_id}/attempts",
        {
            "attempt_id": "c1",
            "rep_id": rep,
            "channel": "call",
            "outcome": "connected",
            "at": "2026-11-24T15:00:00Z",
        },
    )  # lead.attempt: not subscribed, never delivered

    got = await eventually(lambda: _at_least(receiver.got("signed"), 2))
    independent = Webhook(sub["secret"])
    payloads = [independent.verify(r["body"], r["headers"]) for r in got]
    assert [p["type"] for p in payloads] == ["lead.assigned", "lead.accepted"]
    assert {p["data"]["lead_id"] for p in payloads} == {lead_id}
    assert payloads[0]["data"]["rep_id"] == rep
    assert payloads[0]["data"]["sla"]["first_contact_due_at"]
    assert verify(sub["secret"], got[0]["headers"], got[0]["body"]) == payloads[0]
    with pytest.raises(Exception, match=r"[Ss]ignature"):
        independent.verify(got[0]["body"] + b" ", got[0]["headers"])

    assigned = [
        r["value"]
        for r in await read_topic(
            hooks.broker, "leads.handoff", until=lambda rs: any(r["key"] == lead_id for r in rs)
        )
        if r["key"] == lead_id
    ]
    assert got[0]["headers"]["webhook-id"] == assigned[0]["id"]  # the CloudEvent's id

    async def recorded() -> list[dict[str, Any]] | None:
        listed = await deliveries(hooks, sub)
        return listed if all(d["status"] != "pending" for d in listed) else None

    listed = await eventually(recorded)
    assert [(d["event_type"], d["status"], d["attempts"]) for d in listed] == [
        ("lead.accepted", "delivered", 1),
        ("lead.assigned", "delivered", 1),
    ]
    assert listed[0]["attempt_log"][0]["status_code"] == 204


async def _at_least(items: list[Any], n: int) -> list[Any] | None:
    return items if len(items) >= n else None


async def test_a_failing_receiver_is_retried_with_backoff_then_dead_lettered(
    hooks: Harness, receiver: Receiver, webhook_clock: FixedClock
) -> None:
    sub = await subscribe(hooks, receiver.url("fail", "flaky"), "lead.assigned")
    dead_before = (
        REGISTRY.get_sample_value("leadrelay_webhook_deliveries_total", {"result": "dead"}) or 0
    )

    async def attempts(n: int) -> dict[str, Any] | None:
        (d,) = await deliveries(hooks, sub)
        return d if d["attempts"] >= n else None

    await a_lead_for(hooks)
    first = await eventually(lambda: attempts(1))
    delay = _parse(first["next_attempt_at"]) - _parse(first["attempt_log"][0]["at"])
    assert timedelta(seconds=30) <= delay <= timedelta(seconds=60)  # step 60s, equal jitter
    webhook_clock.advance(timedelta(seconds=30))
    await asyncio.sleep(0.3)
    assert (await attempts(1))["attempts"] == 1  # not before its time

    webhook_clock.advance(timedelta(seconds=31))
    second = await eventually(lambda: attempts(2))
    delay = _parse(second["next_attempt_at"]) - _parse(second["attempt_log"][1]["at"])
    assert timedelta(seconds=60) <= delay <= timedelta(seconds=120)

    webhook_clock.advance(timedelta(seconds=121))
    dead = await eventually(lambda: attempts(3))
    assert dead["status"] == "dead"
    assert dead["next_attempt_at"] is None
    assert [a["status_code"] for a in dead["attempt_log"]] == [500, 500, 500]
    assert len(receiver.got("flaky")) == 3
    assert len({r["headers"]["webhook-id"] for r in receiver.got("flaky")}) == 1
    dead_after = REGISTRY.get_sample_value("leadrelay_webhook_deliveries_total", {"result": "dead"})
    assert dead_after == dead_before + 1

    retried = await hooks.post(f"/v1/subscriptions/{sub['id']}/deliveries/{dead['id']}/retry", {})
    assert retried.status_code == 200
    assert retried.json()["status"] == "pending"
    again = await eventually(lambda: attempts(4))
    assert again["status"] == "dead"
    dead_only = await hooks.client.get(
        f"/v1/subscriptions/{sub['id']}/deliveries?status=dead", headers=hooks.auth
    )
    assert [d["id"] for d in dead_only.json()] == [dead["id"]]


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_a_receiver_saying_gone_is_dead_lettered_at_once(
    hooks: Harness, receiver: Receiver
) -> None:
    sub = await subscribe(hooks, receiver.url("gone", "gone"), "*")
    await a_lead_for(hooks)

    async def dead() -> list[dict[str, Any]] | None:
        listed = await deliveries(hooks, sub)
        return listed if listed and listed[0]["status"] == "dead" else None

    (delivery,) = await eventually(dead)
    assert delivery["attempts"] == 1
    assert delivery["last_status_code"] == 410


async def test_a_slow_receiver_never_holds_up_the_handoff(
    hooks: Harness, receiver: Receiver
) -> None:
    sub = await subscribe(hooks, receiver.url("slow", "slow"), "lead.assigned")
    team = hooks.team("slow")
    await hooks.put_rep(f"{team}-ana", team)
    events = [a_scored(team=team) for _ in range(3)]
    started = time.perf_counter()
    for event in events:
        await hooks.feed(event)
    took = time.perf_counter() - started
    # Waiting for the receiver would cost at least the 1 s timeout per lead.
    assert took < 2.5
    lead_ids = [e.data.lead.lead_id for e in events]
    assert [(await hooks.lead(i))["status"] for i in lead_ids] == ["assigned"] * 3

    async def timed_out() -> list[dict[str, Any]] | None:
        listed = await deliveries(hooks, sub)
        done = [d for d in listed if d["attempts"] >= 1]
        return done if len(done) == 3 else None

    for delivery in await eventually(timed_out):
        assert delivery["status"] == "pending"  # to be retried
        assert "Timeout" in delivery["attempt_log"][0]["error"]
        assert delivery["attempt_log"][0]["duration_ms"] < 2500


async def test_subscriptions_are_validated_and_admin_only(hooks: Harness) -> None:
    bad_type = await hooks.post(
        "/v1/subscriptions", {"url": "https://crm.example/hook", "event_types": ["lead.eaten"]}
    )
    assert bad_type.status_code == 422
    assert bad_type.json()["errors"][0]["pointer"] == "/event_types/0"
    bad_url = await hooks.post(
        "/v1/subscriptions", {"url": "ftp://crm.example", "event_types": ["*"]}
    )
    assert bad_url.status_code == 422
    assert bad_url.json()["errors"][0]["pointer"] == "/url"
    missing = await hooks.client.get("/v1/subscriptions/sub_nope/deliveries", headers=hooks.auth)
    assert missing.status_code == 404

    from shared.auth import KeyStore

    sales = KeyStore(hooks.app.state.keys.path).create("crm", ["sales"])
    forbidden = await hooks.client.post(
        "/v1/subscriptions",
        json={"url": "https://crm.example/hook", "event_types": ["*"]},
        headers={"Authorization": f"Bearer {sales}"},
    )
    assert forbidden.status_code == 403


async def test_a_deleted_subscription_gets_nothing_more(hooks: Harness, receiver: Receiver) -> None:
    sub = await subscribe(hooks, receiver.url("ok", "deleted"), "*")
    answer = await hooks.client.delete(f"/v1/subscriptions/{sub['id']}", headers=hooks.auth)
    assert answer.status_code == 204
    await a_lead_for(hooks)
    listed = await hooks.client.get("/v1/subscriptions", headers=hooks.auth)
    assert sub["id"] not in {s["id"] for s in listed.json()}
    assert await deliveries(hooks, sub) == []
