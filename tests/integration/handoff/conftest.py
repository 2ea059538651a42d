"""Handoff on its own against real Tansu and a real database: builders for `lead.scored`
events and reps seed files, an app factory on a FixedClock, and a way to feed it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from services.handoff.app import create_app
from services.handoff.assignment import receive_scored
from services.handoff.scanner import ScanResult
from services.handoff.settings import HandoffSettings
from shared.auth import KeyStore
from shared.clock import Clock, FixedClock
from shared.db import transaction
from shared.events import (
    Decision,
    FiredRule,
    LeadData,
    LeadScored,
    LeadScoredData,
    RouteHint,
    SlaTerms,
    Touch,
)
from shared.kafka import ensure_topics
from shared.tansu import free_port, start_tansu
from tests.infra import on_the_wire, running, service_env

HOUR = 3600
DAY = 24 * HOUR

HOT = SlaTerms(
    tier="hot",
    first_contact_seconds=300,
    business_hours=True,
    warn_at_fraction=0.8,
    attempts_min=3,
    attempts_window_seconds=2 * DAY,
    on_breach=("reassign", "escalate", "recycle"),
)
WARM = SlaTerms(
    tier="warm",
    first_contact_seconds=4 * HOUR,
    business_hours=True,
    warn_at_fraction=0.8,
    attempts_min=2,
    attempts_window_seconds=5 * DAY,
    on_breach=("reassign", "recycle"),
)


def a_rep(rep_id: str, team: str = "na", **overrides: Any) -> dict[str, Any]:
    """A rep for the seed file; New York hours unless told otherwise."""
    rep: dict[str, Any] = {
        "rep_id": rep_id,
        "name": rep_id.replace("-", " ").title(),
        "team": team,
        "weight": 1,
        "capacity": 1000,
        "time_zone": "America/New_York",
        "working_hours": ["09:00", "17:00"],
        "country": "US",
        "subdivision": "US-NY",
    }
    rep.update(overrides)
    return rep


def reps_file(
    tmp_path: Path, reps: Sequence[dict[str, Any]], managers: dict[str, str] | None = None
) -> Path:
    path = tmp_path / f"reps-{uuid.uuid4().hex[:6]}.yaml"
    teams = [{"team": t, "manager": m} for t, m in (managers or {}).items()]
    path.write_text(yaml.safe_dump({"teams": teams, "reps": list(reps)}))
    return path


def a_scored(
    *,
    lead_id: str | None = None,
    email: str | None = None,
    team: str | None = "na",
    sla: SlaTerms | None = HOT,
    outcome: str = "qualified",
    account_match: bool = True,
    received_at: datetime | None = None,
    touches: Sequence[Touch] | None = None,
) -> LeadScored:
    """A `lead.scored` event as scoring publishes it: a qualified hot lead by default."""
    lead_id = lead_id or str(uuid.uuid4())
    received = received_at or datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    lead = LeadData(
        lead_id=lead_id,
        email=email or f"jane.{uuid.uuid4().hex[:8]}@acme-{uuid.uuid4().hex[:6]}.io",
        first_name="Jane",
        last_name="Doe",
        company="Acme",
        job_title="VP Marketing",
        country="US",
        source="web",
        campaign_id="fall-webinar",
        touches=tuple(
            touches
            if touches is not None
            else (
                Touch(type="webinar", at=received - timedelta(days=3), detail="pricing deep dive"),
                Touch(type="form_submit", at=received, detail="demo request"),
                Touch(type="page_view", at=received - timedelta(days=5), detail="/pricing"),
            )
        ),
        received_at=received,
    )
    decision = Decision(
        lead_id=lead_id,
        outcome=outcome,  # type: ignore[arg-type]
        score=82,
        fit_score=50,
        engagement_score=32,
        tier=sla.tier if sla and outcome == "qualified" else None,
        fired=(
            FiredRule(rule="vp_or_above", group="fit", points=30),
            FiredRule(rule="company_500_plus", group="fit", points=20),
            FiredRule(rule="demo_request", group="engagement", points=32),
        ),
        contract_version="2026.11.1",
        decided_at=received + timedelta(seconds=1),
    )
    return LeadScored(
        source="/leadrelay/scoring",
        subject=lead_id,
        data=LeadScoredData(
            decision=decision,
            lead=lead,
            sla=sla if outcome == "qualified" else None,
            route=RouteHint(team=team, rule="test_rule", account_match=account_match),
        ),
    )


def handoff_settings(
    db_url: str, broker: str, keys_file: Path, reps: Path, **extra: Any
) -> HandoffSettings:
    values: dict[str, Any] = {
        "reps_file": str(reps),
        "scan_seconds": 3600,  # tests run passes with scan_once on their own clock
        "webhook_poll_seconds": 0.05,
        **extra,
    }
    return HandoffSettings(**service_env(db_url, broker, keys_file, **values))


def handoff_app(
    db_url: str, broker: str, keys_file: Path, reps: Path, clock: Clock, **extra: Any
) -> FastAPI:
    webhook = {k: extra.pop(k) for k in ("webhook_client", "webhook_clock") if k in extra}
    return create_app(
        handoff_settings(db_url, broker, keys_file, reps, **extra), clock=clock, **webhook
    )


async def send_scored(broker: str, *events: LeadScored) -> None:
    """Publish `lead.scored` events the way scoring's relay does: keyed by lead id, acks=all."""
    await ensure_topics(HandoffSettings(kafka_bootstrap_servers=broker))
    producer = AIOKafkaProducer(bootstrap_servers=broker, acks="all")
    await producer.start()
    try:
        for topic, key, value in on_the_wire(*events):
            await producer.send_and_wait(topic, value, key=key.encode())
    finally:
        await producer.stop()


async def feed(app: FastAPI, *events: LeadScored) -> None:
    """Hand events to the consumer's use case directly, one transaction each (no broker)."""
    for event in events:
        async with transaction(app.state.runtime.sessionmaker) as session:
            await receive_scored(session, event, handoff=app.state.handoff)


# --- one app per test module ------------------------------------------------------------
# Starting and stopping an app costs seconds (its consumer joins a group), so the tests of a
# module share one handoff on one broker. They stay independent by giving every test its own
# team and reps (`Harness.team`) and by setting the shared clock at their start.


@dataclass
class Harness:
    app: FastAPI
    client: httpx.AsyncClient
    clock: FixedClock
    auth: dict[str, str]
    broker: str

    def team(self, prefix: str = "t") -> str:
        return f"{prefix}-{uuid.uuid4().hex[:8]}"

    async def put_rep(self, rep_id: str, team: str, **overrides: Any) -> dict[str, Any]:
        body = {k: v for k, v in a_rep(rep_id, team, **overrides).items() if k != "rep_id"}
        answer = await self.client.put(f"/v1/reps/{rep_id}", json=body, headers=self.auth)
        assert answer.status_code in (200, 201), answer.text
        result: dict[str, Any] = answer.json()
        return result

    async def lead(self, lead_id: str) -> dict[str, Any]:
        answer = await self.client.get(f"/v1/leads/{lead_id}", headers=self.auth)
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    async def feed(self, *events: LeadScored) -> None:
        await feed(self.app, *events)

    async def scan(self) -> ScanResult:
        result: ScanResult = await self.app.state.scanner.scan_once()
        return result

    async def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return await self.client.post(path, json=body, headers=self.auth)


@pytest.fixture(scope="module")
def module_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    proc = start_tansu(port, log=tmp_path_factory.mktemp("tansu") / "tansu.log")
    try:
        yield f"127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait()


@asynccontextmanager
async def a_harness(broker: str, tmp: Path, **extra: Any) -> AsyncIterator[Harness]:
    """A handoff on SQLite with no seeded reps, on a FixedClock at Tuesday 10:00 in New York."""
    keys = tmp / "keys.json"
    key = KeyStore(keys).create("test admin", ["admin"])
    clock = FixedClock(datetime(2026, 11, 24, 15, 0, tzinfo=UTC))
    app = handoff_app(
        f"sqlite+aiosqlite:///{tmp}/handoff.db", broker, keys, tmp / "none.yaml", clock, **extra
    )
    async with running(app) as client:
        yield Harness(app, client, clock, {"Authorization": f"Bearer {key}"}, broker)


@pytest.fixture(scope="module")
async def harness(
    module_broker: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Harness]:
    """One handoff shared by a module's tests."""
    async with a_harness(module_broker, tmp_path_factory.mktemp("handoff")) as harness:
        yield harness
