"""What scoring's integration tests share: a running scoring app, keys by scope, a producer
that sends leads the way intake does, and lead builders."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from services.scoring.app import create_app
from services.scoring.settings import ScoringSettings
from shared.auth import KeyStore
from shared.clock import FixedClock
from shared.events import Event, LeadData, LeadReceived, LeadUpdated, Touch
from shared.kafka import ensure_topics
from shared.tansu import free_port, start_tansu
from tests.infra import PG_HOST, PG_PORT, PG_USER, eventually, on_the_wire, running, service_env

NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
INTAKE = "/leadrelay/intake"
DEFAULT = (Path(__file__).resolve().parents[3] / "contracts" / "default.yaml").read_text()


def default_as(version: str, *replace: tuple[str, str]) -> str:
    """The shipped default contract under another version, with (old, new) text replaced."""
    text = DEFAULT.replace('version: "2026.1"', f'version: "{version}"')
    for old, new in replace:
        assert old in text, old
        text = text.replace(old, new)
    return text


def lead_data(**overrides: Any) -> LeadData:
    """Jane, a VP at a 500-person US company who submitted a form an hour ago: qualified
    (hot) under the default contract."""
    values: dict[str, Any] = {
        "lead_id": str(uuid.uuid4()),
        "email": f"jane.{uuid.uuid4().hex[:8]}@acme.io",
        "first_name": "Jane",
        "last_name": "Doe",
        "company": "Acme",
        "job_title": "VP Marketing",
        "country": "US",
        "source": "web",
        "attributes": {"employees": 500},
        "touches": (Touch(type="form_submit", at=datetime(2026, 11, 24, 14, 0, tzinfo=UTC)),),
        "received_at": NOW,
    }
    values.update(overrides)
    return LeadData(**values)


def received(lead: LeadData) -> LeadReceived:
    return LeadReceived(source=INTAKE, subject=lead.lead_id, data=lead)


def updated(lead: LeadData, **changes: Any) -> LeadUpdated:
    """What intake publishes when a duplicate merges: the same id, the next revision."""
    merged = lead.model_copy(update={"revision": lead.revision + 1, **changes})
    return LeadUpdated(source=INTAKE, subject=lead.lead_id, data=merged)


@dataclass
class Scoring:
    """A running scoring service: its HTTP client, admin and sales headers, the broker."""

    http: httpx.AsyncClient
    admin: dict[str, str]
    sales: dict[str, str]
    broker: str
    clock: FixedClock
    keys_file: Path

    async def send(self, *events: Event) -> None:
        """Publish on leads.received, keyed by lead id, as intake's relay does."""
        producer = AIOKafkaProducer(bootstrap_servers=self.broker, acks="all")
        await producer.start()
        try:
            for topic, key, value in on_the_wire(*events):
                await producer.send_and_wait(topic, value, key=key.encode())
        finally:
            await producer.stop()

    async def score(self, lead_id: str, *, version: str | None = None) -> dict[str, Any]:
        """The lead's decision once scoring has made it (by `version`, when given)."""

        async def decided() -> dict[str, Any] | None:
            r = await self.http.get(f"/v1/leads/{lead_id}/score", headers=self.sales)
            if r.status_code != 200:
                return None
            body: dict[str, Any] = r.json()
            return body if version is None or body["contract_version"] == version else None

        result: dict[str, Any] = await eventually(decided, timeout=20)
        return result

    async def propose(self, document: str) -> httpx.Response:
        return await self.http.post(
            "/v1/contracts",
            content=document.encode(),
            headers={**self.admin, "Content-Type": "application/yaml"},
        )

    async def adopt(self, document: str, version: str) -> None:
        """Propose and activate a contract, asserting both succeed."""
        proposed = await self.propose(document)
        assert proposed.status_code == 201, proposed.text
        activated = await self.http.post(f"/v1/contracts/{version}/activate", headers=self.admin)
        assert activated.status_code == 200, activated.text


ScoringFactory = Callable[..., Any]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def module_db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, pg_available: bool
) -> AsyncIterator[str]:
    """A scoring database shared by one module's tests, on both backends: for tests that
    only talk HTTP, so they pay for one service start (and its consumer's join) per module."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('scoring')}/scoring.db"
        return
    if not pg_available:
        pytest.skip(f"PostgreSQL at {PG_HOST}:{PG_PORT} is unreachable (set CI=true to fail)")
    name = f"leadrelay_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    try:
        yield f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        admin = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres")
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(scope="module")
async def module_scoring(
    module_db_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Scoring]:
    """One scoring service (and broker) for a module's HTTP-only tests; versions must be
    unique per test, and a test that activates one restores 2026.1 when done."""
    tmp = tmp_path_factory.mktemp("scoring-service")
    port = free_port()
    broker = start_tansu(port, log=tmp / "tansu.log")
    keys = KeyStore(tmp / "keys.json")
    admin = {"Authorization": f"Bearer {keys.create('test admin', ['admin'])}"}
    sales = {"Authorization": f"Bearer {keys.create('crm', ['sales'])}"}
    settings = ScoringSettings(**service_env(module_db_url, f"127.0.0.1:{port}", tmp / "keys.json"))
    clock = FixedClock(NOW)
    try:
        async with running(create_app(settings, clock=clock)) as http:
            yield Scoring(http, admin, sales, f"127.0.0.1:{port}", clock, tmp / "keys.json")
    finally:
        broker.kill()
        broker.wait()


@pytest.fixture
def sales_auth(keys_file: Path) -> dict[str, str]:
    return {"Authorization": f"Bearer {KeyStore(keys_file).create('crm', ['sales'])}"}


@pytest.fixture
async def scoring(
    db_urls: dict[str, str],
    broker: str,
    keys_file: Path,
    auth: dict[str, str],
    sales_auth: dict[str, str],
) -> AsyncIterator[Scoring]:
    """Scoring on both backends, with a clock pinned to NOW and a small simulation page."""
    settings = ScoringSettings(
        **service_env(db_urls["scoring"], broker, keys_file, simulation_page_size=7)
    )
    await ensure_topics(settings)
    clock = FixedClock(NOW)
    async with running(create_app(settings, clock=clock)) as http:
        yield Scoring(http, auth, sales_auth, broker, clock, keys_file)
