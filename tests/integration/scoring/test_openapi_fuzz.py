"""schemathesis over scoring's own OpenAPI document, against the real app on PostgreSQL and
a real broker: an active contract, a draft, and leads already scored, so simulations and
score lookups run on real rows. No input it can generate, valid or not, gets a server error
or an answer the document does not describe; without a key, every keyed route answers 401."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import hypothesis.strategies as st
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from schemathesis.python.asgi import shutdown_lifespans

from services.scoring.app import create_app
from services.scoring.settings import ScoringSettings
from shared.auth import KeyStore
from shared.clock import FixedClock
from tests.infra import eventually, on_the_wire, service_env
from tests.integration.openapi_fuzzing import (
    IGNORE_APP_THREAD_RANDOM,
    fuzz,
    fuzz_without_a_key,
    load_schema,
    seed_on_start,
)
from tests.integration.scoring.conftest import NOW, default_as, lead_data, received

pytestmark = [pytest.mark.postgres, IGNORE_APP_THREAD_RANDOM]

EXAMPLES = 40
DRAFT = "2026.9"


LEADS = [
    lead_data(),  # qualified, hot
    lead_data(job_title="Marketing Intern"),  # disqualified: student
    lead_data(email="someone@gmail.com"),  # disqualified: free mail
    lead_data(attributes={"employees": 5}, touches=()),  # nurture at best
    lead_data(country="DE", phone="+49 30 1234567", company=None),  # missing company
]


async def _seed(app: FastAPI, http: httpx.AsyncClient) -> None:
    """The shipped contract is active (on start); a draft is proposed; the leads arrive on
    leads.received as intake publishes them, and the consumer scores every one."""
    admin = {"Authorization": f"Bearer {app.state.keys.create('seed', ['admin'])}"}
    draft = default_as(DRAFT, ("name: B2B SaaS default", 'name: "Fuzz draft"'))
    proposed = await http.post(
        "/v1/contracts",
        content=draft.encode(),
        headers={**admin, "Content-Type": "application/yaml"},
    )
    assert proposed.status_code == 201, proposed.text
    producer = AIOKafkaProducer(
        bootstrap_servers=app.state.runtime.settings.kafka_bootstrap_servers, acks="all"
    )
    await producer.start()
    try:
        for topic, key, value in on_the_wire(*(received(lead) for lead in LEADS)):
            await producer.send_and_wait(topic, value, key=key.encode())
    finally:
        await producer.stop()

    async def all_scored() -> bool:
        for lead in LEADS:
            answer = await http.get(f"/v1/leads/{lead.lead_id}/score", headers=admin)
            if answer.status_code != 200:
                return False
        return True

    await eventually(all_scored, timeout=30, interval=0.1)


@pytest.fixture
def scoring_app(pg_url: str, broker: str, keys_file: Path) -> Iterator[FastAPI]:
    """Scoring on PostgreSQL and a real broker, on a clock pinned to the leads' day."""
    settings = ScoringSettings(**service_env(pg_url, broker, keys_file, simulation_page_size=3))
    try:
        yield create_app(settings, clock=FixedClock(NOW))
    finally:
        shutdown_lifespans()  # the app's lifespan runs in schemathesis' own event loop


@pytest.fixture
def admin(keys_file: Path) -> dict[str, str]:
    return {"Authorization": f"Bearer {KeyStore(keys_file).create('fuzz', ['admin'])}"}


def _contracts() -> st.SearchStrategy[tuple[str, Any]]:
    """Whole contracts, as YAML or as JSON {"document": ...}: new versions (201), versions
    already stored (409), and for a simulation, drafts to score the stored leads with."""
    versions = st.sampled_from(["2026.1", DRAFT, "2026.20", "2026.21", "2026.22"])
    yaml_text = versions.map(
        lambda v: default_as(
            v, ("qualified: 65", "qualified: 55"), ("min_score: 65", "min_score: 55")
        )
    )
    return st.one_of(
        st.tuples(st.sampled_from(["application/yaml", "text/yaml"]), yaml_text),
        st.tuples(st.just("application/json"), yaml_text.map(lambda d: {"document": d})),
        st.tuples(  # a JSON envelope that is wrong: refused as a contract, line and path
            st.just("application/json"),
            st.sampled_from([{"document": 5}, {"document": None}, {"document": "x", "y": 1}]),
        ),
    )


def test_no_generated_request_gets_a_server_error_or_an_undocumented_answer(
    scoring_app: FastAPI, admin: dict[str, str]
) -> None:
    answered = fuzz(
        load_schema(seed_on_start(scoring_app, _seed)),
        admin,
        examples=EXAMPLES,
        pins={"version": ["2026.1", DRAFT], "lead_id": [lead.lead_id for lead in LEADS]},
        bodies={
            "POST /v1/contracts": _contracts(),
            "POST /v1/contracts/simulate": _contracts(),
        },
        min_operations=10,
    )
    # The seeded rows were reached, not only "not found".
    for label in (
        "GET /v1/leads/{lead_id}/score",
        "GET /v1/contracts/{version}",
        "POST /v1/contracts/{version}/simulate",
        "POST /v1/contracts",
        "POST /v1/contracts/simulate",
    ):
        assert set(answered[label]) & {200, 201}, (label, answered[label])


def test_without_a_key_every_route_answers_401(scoring_app: FastAPI) -> None:
    fuzz_without_a_key(load_schema(scoring_app), examples=8)
