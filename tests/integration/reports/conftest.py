"""A month of leads played through handoff's public ways in (`lead.scored` on a real Tansu,
then HTTP reports from sales), on SQLite and on PostgreSQL, and the answers the reports owe
for it, computed here from what was sent, never read back from the database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import yaml

from services.handoff.app import create_app
from services.handoff.settings import HandoffSettings
from shared.auth import KeyStore
from shared.clock import FixedClock
from shared.events import (
    Decision,
    LeadData,
    LeadScored,
    LeadScoredData,
    RouteHint,
    SlaTerms,
    Touch,
)
from shared.kafka import ensure_topics
from shared.tansu import free_port, start_tansu
from tests.infra import (
    IN_CI,
    PG_HOST,
    PG_PORT,
    PG_USER,
    eventually,
    on_the_wire,
    running,
    service_env,
)

MIN = 60
HOUR = 3600
DAY = 86400

# Handoff's clock: the apac lead is routed first (and breached), the others at T1; the
# reports are asked for at NOW.
T0 = datetime(2026, 11, 10, 6, 0, tzinfo=UTC)
T1 = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
REJECT_EARLY = T1 + timedelta(minutes=30)
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

TERMS = SlaTerms(
    tier="hot",
    first_contact_seconds=HOUR,
    business_hours=False,
    warn_at_fraction=0.8,
    attempts_min=2,
    attempts_window_seconds=2 * DAY,
    on_breach=("reassign", "recycle"),
)
QUOTA = {"qualified_per_month": 20, "pipeline_share": 0.5, "revenue_share": 0.4}
CONTRACT_VERSION = "reports-test-1"
TEAM_REP = {"na": "na-ann", "emea": "em-eva"}
APAC_REPS = ("ap-ken", "ap-lia")


@dataclass
class Spec:
    """One lead as sent, and what sales did with it (times are offsets from assignment)."""

    key: str
    source: str
    campaign: str | None
    team: str | None
    outcome: str  # scoring's decision
    received: datetime
    accept: bool = False
    reject: str | None = None
    reject_early: bool = False  # rejected at REJECT_EARLY, else at NOW
    attempts: tuple[int, ...] = ()  # seconds after the assignment
    opportunity: float | None = None
    currency: str = "USD"
    final: str | None = None  # won / lost
    won_amount: float | None = None  # won without an opportunity first
    lead_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def qualified(self) -> bool:
        return self.outcome == "qualified"

    @property
    def side(self) -> str:
        return "sales" if self.source == "sales" else "marketing"


def nov(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


def oct_(day: int) -> datetime:
    return datetime(2026, 10, day, 12, tzinfo=UTC)


def the_month() -> list[Spec]:
    """November's leads (and two October ones that a November report must leave out)."""
    return [
        Spec(
            "web-won",
            "web",
            None,
            "na",
            "qualified",
            nov(2),
            accept=True,
            attempts=(5 * MIN, 90 * MIN),
            opportunity=10_000,
            final="won",
        ),
        Spec(
            "webinar-lost-eur",
            "campaign",
            "c-webinar",
            "na",
            "qualified",
            nov(3),
            accept=True,
            attempts=(20 * MIN, 3 * HOUR),
            opportunity=5_000,
            currency="EUR",
            final="lost",
        ),
        Spec(
            "webinar-late",
            "campaign",
            "c-webinar",
            "emea",
            "qualified",
            nov(3),
            attempts=(2 * HOUR,),
        ),
        Spec(
            "webinar-rejected",
            "campaign",
            "c-webinar",
            "emea",
            "qualified",
            nov(4),
            reject="not_a_fit",
            reject_early=True,
        ),
        Spec(
            "search-open-opp",
            "campaign",
            "c-search",
            "na",
            "qualified",
            nov(5),
            accept=True,
            attempts=(10 * MIN, 30 * MIN, DAY),
            opportunity=8_000,
        ),
        Spec("search-never", "campaign", "c-search", "na", "qualified", nov(5), accept=True),
        Spec("search-nurture", "campaign", "c-search", None, "nurture", nov(6)),
        Spec("search-disq", "campaign", "c-search", None, "disqualified", nov(6)),
        Spec(
            "expo-won",
            "event",
            "c-expo",
            "emea",
            "qualified",
            nov(7),
            accept=True,
            attempts=(45 * MIN, 50 * MIN),
            final="won",
            won_amount=20_000,
        ),
        Spec(
            "expo-rejected",
            "event",
            "c-expo",
            "emea",
            "qualified",
            nov(7),
            reject="bad_contact_data",
            reject_early=True,
        ),
        Spec(
            "sales-won",
            "sales",
            None,
            "na",
            "qualified",
            nov(8),
            accept=True,
            attempts=(1 * MIN, 2 * MIN),
            opportunity=30_000,
            final="won",
        ),
        Spec(
            "sales-lost",
            "sales",
            None,
            "na",
            "qualified",
            nov(8),
            attempts=(15 * MIN, 16 * MIN),
            opportunity=12_000,
            final="lost",
        ),
        Spec("sales-nurture", "sales", None, None, "nurture", nov(9)),
        Spec(
            "partner-rejected-late",
            "partner",
            None,
            "emea",
            "qualified",
            nov(9),
            reject="existing_customer",
        ),
        Spec("web-nurture", "web", None, None, "nurture", nov(9)),
        Spec("web-disq", "web", None, None, "disqualified", nov(9)),
        Spec(
            "oct-won",
            "campaign",
            "c-webinar",
            "na",
            "qualified",
            oct_(15),
            accept=True,
            attempts=(5 * MIN, 6 * MIN),
            final="won",
            won_amount=7_000,
        ),
        Spec("oct-nurture", "web", None, None, "nurture", oct_(20)),
    ]


# The apac lead: breached by its first rep, reassigned, then contacted by the second.
APAC = Spec("apac-reassigned", "web", None, "apac", "qualified", nov(3))
APAC_REASSIGNED_AT = T0 + timedelta(hours=2)
APAC_ATTEMPTS = (10 * MIN, 20 * MIN)  # after the reassignment

CAMPAIGNS = {
    "c-webinar": {
        "name": "Webinar: scoring 101",
        "cost": 6000,
        "currency": "USD",
        "period": "2026-11",
    },
    "c-search": {
        "name": "Paid search",
        "cost": 9000,
        "currency": "USD",
        "period": "2026-10-16/2026-11-30",
    },
    "c-expo": {"name": "Expo Berlin", "cost": 4000, "currency": "EUR", "period": "2026-11"},
    "c-idle": {"name": "Idle banner", "cost": 1000, "currency": "USD", "period": "2026-11"},
}


def scored(spec: Spec) -> LeadScored:
    qualified = spec.qualified
    lead = LeadData(
        lead_id=spec.lead_id,
        email=f"{spec.key}.{uuid.uuid4().hex[:6]}@example-{uuid.uuid4().hex[:6]}.io",
        company="Example",
        country="US",
        source=spec.source,
        campaign_id=spec.campaign,
        touches=(Touch(type="form_submit", at=spec.received),),
        received_at=spec.received,
    )
    decision = Decision(
        lead_id=spec.lead_id,
        outcome=spec.outcome,  # type: ignore[arg-type]
        score=80 if qualified else 30,
        tier="hot" if qualified else None,
        contract_version=CONTRACT_VERSION,
        decided_at=spec.received + timedelta(seconds=1),
    )
    return LeadScored(
        source="/leadrelay/scoring",
        subject=spec.lead_id,
        data=LeadScoredData(
            decision=decision,
            lead=lead,
            sla=TERMS if qualified else None,
            route=RouteHint(team=spec.team, rule=None, account_match=False),
        ),
    )


# --- the data set, played once per backend ---------------------------------------------


@dataclass
class Month:
    client: httpx.AsyncClient
    auth: dict[str, str]
    sales_auth: dict[str, str]
    intake_auth: dict[str, str]
    specs: list[Spec]
    apac: Spec
    apac_first_rep: str
    apac_second_rep: str

    async def get(self, path: str, **params: Any) -> dict[str, Any]:
        answer = await self.client.get(path, params=params, headers=self.sales_auth)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body


@pytest.fixture(scope="module")
def reports_broker(reports_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A broker per backend: the second app must not wait for the first one's consumer group."""
    port = free_port()
    proc = start_tansu(port, log=tmp_path_factory.mktemp("tansu") / "tansu.log")
    try:
        yield f"127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def reports_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A database for the module: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('reports')}/handoff.db"
        return
    try:
        admin = await asyncpg.connect(
            host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres", timeout=5
        )
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL at {PG_HOST}:{PG_PORT} is unreachable under CI=true: {exc}")
        pytest.skip(f"PostgreSQL at {PG_HOST}:{PG_PORT} is unreachable (set CI=true to fail)")
    name = f"leadrelay_reports_{uuid.uuid4().hex[:10]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    try:
        yield f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        admin = await asyncpg.connect(
            host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres", timeout=5
        )
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def _files(tmp: Path) -> tuple[Path, Path]:
    reps = [
        *({"rep_id": rep, "name": rep.title(), "team": team} for team, rep in TEAM_REP.items()),
        *({"rep_id": rep, "name": rep.title(), "team": "apac"} for rep in APAC_REPS),
    ]
    reps_path = tmp / "reps.yaml"
    reps_path.write_text(yaml.safe_dump({"reps": reps}))
    contract = tmp / "contract.yaml"
    contract.write_text(yaml.safe_dump({"version": CONTRACT_VERSION, "quota": QUOTA}))
    return reps_path, contract


async def _send(broker: str, *events: LeadScored) -> None:
    from aiokafka import AIOKafkaProducer

    await ensure_topics(HandoffSettings(kafka_bootstrap_servers=broker))
    producer = AIOKafkaProducer(bootstrap_servers=broker, acks="all")
    await producer.start()
    try:
        for topic, key, value in on_the_wire(*events):
            await producer.send_and_wait(topic, value, key=key.encode())
    finally:
        await producer.stop()


async def _arrived(client: httpx.AsyncClient, auth: dict[str, str], specs: list[Spec]) -> None:
    async def all_there() -> bool:
        for spec in specs:
            answer = await client.get(f"/v1/leads/{spec.lead_id}", headers=auth)
            if answer.status_code != 200:
                return False
            if spec.qualified and answer.json()["status"] != "assigned":
                return False
        return True

    await eventually(all_there, timeout=30, interval=0.1)


async def _post(client: httpx.AsyncClient, auth: dict[str, str], path: str, body: Any) -> None:
    answer = await client.post(path, json=body, headers=auth)
    assert answer.status_code in (200, 201), f"{path}: {answer.text}"


async def _work(c: httpx.AsyncClient, auth: dict[str, str], s: Spec) -> None:
    """One lead: accept, attempts, opportunity, won or lost, a late reject."""
    rep = TEAM_REP[str(s.team)]
    url = f"/v1/leads/{s.lead_id}"
    if s.accept:
        await _post(c, auth, f"{url}/accept", {"rep_id": rep})
    for i, offset in enumerate(s.attempts):
        at = (T1 + timedelta(seconds=offset)).isoformat()
        body = {
            "attempt_id": f"a{i}",
            "rep_id": rep,
            "channel": "call",
            "outcome": "connected",
            "at": at,
        }
        await _post(c, auth, f"{url}/attempts", body)
    if s.opportunity is not None:
        body = {
            "rep_id": rep,
            "stage": "opportunity",
            "amount": s.opportunity,
            "currency": s.currency,
            "at": (T1 + timedelta(days=1)).isoformat(),
        }
        await _post(c, auth, f"{url}/outcome", body)
    closed = (T1 + timedelta(days=2)).isoformat()
    if s.final == "won":
        body = {"rep_id": rep, "stage": "won", "at": closed}
        if s.won_amount is not None:
            body |= {"amount": s.won_amount, "currency": s.currency}
        await _post(c, auth, f"{url}/outcome", body)
    if s.final == "lost":
        body = {
            "rep_id": rep,
            "stage": "lost",
            "reason": "no_budget",
            "currency": s.currency,
            "at": closed,
        }
        await _post(c, auth, f"{url}/outcome", body)
    if s.reject and not s.reject_early:
        await _post(c, auth, f"{url}/reject", {"rep_id": rep, "reason": s.reject})


async def _play(month: Month, clock: FixedClock) -> None:
    """What sales did, through the public API, at the times the specs say."""
    c, auth = month.client, month.auth
    clock.set(REJECT_EARLY)
    for s in month.specs:
        if s.reject and s.reject_early:
            rep = TEAM_REP[str(s.team)]
            await _post(
                c, auth, f"/v1/leads/{s.lead_id}/reject", {"rep_id": rep, "reason": s.reject}
            )
    clock.set(NOW)
    for s in month.specs:
        if s.qualified:
            await _work(c, auth, s)
    for i, offset in enumerate(APAC_ATTEMPTS):
        at = (APAC_REASSIGNED_AT + timedelta(seconds=offset)).isoformat()
        body = {
            "attempt_id": f"ap{i}",
            "rep_id": month.apac_second_rep,
            "channel": "email",
            "outcome": "connected",
            "at": at,
        }
        await _post(c, auth, f"/v1/leads/{month.apac.lead_id}/attempts", body)
    for cid, body in CAMPAIGNS.items():
        answer = await c.put(f"/v1/campaigns/{cid}", json=body, headers=auth)
        assert answer.status_code == 201, answer.text


@pytest.fixture(scope="module")
async def month(
    reports_db: str, reports_broker: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Month]:
    tmp = tmp_path_factory.mktemp("month")
    reps_path, contract = _files(tmp)
    keys = KeyStore(tmp / "keys.json")
    admin = {"Authorization": f"Bearer {keys.create('admin', ['admin'])}"}
    sales = {"Authorization": f"Bearer {keys.create('dashboard', ['sales'])}"}
    intake = {"Authorization": f"Bearer {keys.create('forms', ['intake'])}"}
    clock = FixedClock(T0)
    settings = HandoffSettings(
        **service_env(
            reports_db,
            reports_broker,
            tmp / "keys.json",
            reps_file=str(reps_path),
            contract_file=str(contract),
            scan_seconds=3600,
        )
    )
    app = create_app(settings, clock=clock)
    async with running(app) as client:
        specs = the_month()
        apac = Spec(**{**APAC.__dict__, "lead_id": str(uuid.uuid4())})
        await _send(reports_broker, scored(apac))
        await _arrived(client, admin, [apac])
        first = (await client.get(f"/v1/leads/{apac.lead_id}", headers=admin)).json()["rep_id"]
        clock.set(APAC_REASSIGNED_AT)
        result = await app.state.scanner.scan_once()
        assert result.actions == ["reassigned"], result
        second = (await client.get(f"/v1/leads/{apac.lead_id}", headers=admin)).json()["rep_id"]
        assert {first, second} == set(APAC_REPS)
        clock.set(T1)
        await _send(reports_broker, *(scored(s) for s in specs))
        await _arrived(client, admin, specs)
        month = Month(client, admin, sales, intake, specs, apac, first, second)
        await _play(month, clock)
        yield month
