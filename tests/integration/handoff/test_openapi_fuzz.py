"""schemathesis over handoff's own OpenAPI document (leads, reps, teams, webhooks, reports,
campaigns), against the real app on PostgreSQL and a real broker, seeded with reps and
teams, an assigned lead, an accepted and worked one, a nurture lead, a webhook subscription
with a dead delivery and a campaign's cost, so reports and sales reports run on real rows.
No input it can generate, valid or not, gets a server error or an answer the document does
not describe; without a key, every keyed route answers 401."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import hypothesis.strategies as st
import pytest
from fastapi import FastAPI
from schemathesis.python.asgi import shutdown_lifespans

from shared.auth import KeyStore
from shared.clock import FixedClock
from tests.infra import eventually
from tests.integration.handoff.conftest import (
    a_rep,
    a_scored,
    handoff_app,
    reps_file,
    send_scored,
)
from tests.integration.openapi_fuzzing import (
    IGNORE_APP_THREAD_RANDOM,
    fuzz,
    fuzz_without_a_key,
    load_schema,
    seed_on_start,
)

pytestmark = [pytest.mark.postgres, IGNORE_APP_THREAD_RANDOM]

EXAMPLES = 30
NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # Tuesday 10:00 in New York
TEAM = "fuzz"
REPS = ["ana", "bo", "cy"]
CAMPAIGN = "c-fuzz"
ASSIGNED = a_scored(team=TEAM, received_at=NOW - timedelta(hours=1))
WORKED = a_scored(team=TEAM, received_at=NOW - timedelta(hours=2))
NURTURE = a_scored(team=TEAM, outcome="nurture", received_at=NOW - timedelta(hours=3))
# One assigned lead per report sales can make, so one report (a reject) does not end the
# lead the others are fuzzed on.
FOR_REPORT = {
    report: a_scored(team=TEAM, received_at=NOW - timedelta(hours=1))
    for report in ("accept", "reject", "attempts", "outcome")
}
SCORED = (ASSIGNED, WORKED, NURTURE, *FOR_REPORT.values())
LEAD_IDS = [e.data.decision.lead_id for e in SCORED]


SEEDED: dict[str, list[Any]] = {}
"""Ids only the running app knows (a subscription's, its deliveries'), found on start."""
HOLDERS: dict[str, str] = {}
"""The rep round robin gave each of FOR_REPORT's leads, found on start."""


async def _seed(app: FastAPI, http: httpx.AsyncClient) -> None:
    admin = {"Authorization": f"Bearer {app.state.keys.create('seed', ['admin'])}"}
    answer = await http.put(f"/v1/teams/{TEAM}", json={"manager": REPS[0]}, headers=admin)
    assert answer.status_code == 200, answer.text
    answer = await http.post(
        "/v1/subscriptions",
        json={"url": "https://crm.example.com/hooks/leadrelay", "event_types": ["*"]},
        headers=admin,
    )
    assert answer.status_code == 201, answer.text
    subscription = answer.json()["id"]
    await send_scored(app.state.runtime.settings.kafka_bootstrap_servers, *SCORED)

    async def all_handed_over() -> bool:
        for lead_id in LEAD_IDS:
            answer = await http.get(f"/v1/leads/{lead_id}", headers=admin)
            if answer.status_code != 200 or answer.json()["status"] not in ("assigned", "nurture"):
                return False
        return True

    await eventually(all_handed_over, timeout=30, interval=0.1)
    lead = f"/v1/leads/{WORKED.data.decision.lead_id}"
    rep = (await http.get(lead, headers=admin)).json()["rep_id"]
    at = NOW.isoformat()  # the clock's now: when the leads were assigned
    for path, body in (
        ("accept", {"rep_id": rep}),
        (
            "attempts",
            {
                "attempt_id": "a1",
                "rep_id": rep,
                "channel": "call",
                "outcome": "connected",
                "at": at,
            },
        ),
        ("outcome", {"rep_id": rep, "stage": "opportunity", "amount": 12000, "currency": "USD"}),
    ):
        answer = await http.post(f"{lead}/{path}", json=body, headers=admin)
        assert answer.status_code in (200, 201), answer.text
    campaign = {"name": "Fuzz webinar", "cost": 5000, "currency": "USD", "period": "2026-11"}
    answer = await http.put(f"/v1/campaigns/{CAMPAIGN}", json=campaign, headers=admin)
    assert answer.status_code == 201, answer.text
    await app.state.webhook_sender.deliver_once()
    deliveries = await http.get(f"/v1/subscriptions/{subscription}/deliveries", headers=admin)
    assert deliveries.status_code == 200, deliveries.text
    assert deliveries.json(), "no delivery to retry"
    for report, event in FOR_REPORT.items():
        answer = await http.get(f"/v1/leads/{event.data.decision.lead_id}", headers=admin)
        HOLDERS[report] = answer.json()["rep_id"]
    SEEDED["subscription_id"] = [subscription]
    SEEDED["delivery_id"] = [d["id"] for d in deliveries.json()]


def _refuse(request: httpx.Request) -> httpx.Response:
    return httpx.Response(503)  # the CRM is down: deliveries fail and go dead at once


@pytest.fixture
def handoff(pg_url: str, broker: str, keys_file: Path, tmp_path: Path) -> Iterator[FastAPI]:
    """Handoff on PostgreSQL and a real broker, with its reps seed file; webhooks go to a
    CRM that is down."""
    reps = reps_file(tmp_path, [a_rep(rep, TEAM) for rep in REPS])
    app = handoff_app(
        pg_url,
        broker,
        keys_file,
        reps,
        FixedClock(NOW),
        webhook_client=httpx.AsyncClient(transport=httpx.MockTransport(_refuse)),
        webhook_max_attempts=1,
        webhook_poll_seconds=3600,
    )
    try:
        yield app
    finally:
        shutdown_lifespans()  # the app's lifespan runs in schemathesis' own event loop


@pytest.fixture
def admin(keys_file: Path) -> dict[str, str]:
    return {"Authorization": f"Bearer {KeyStore(keys_file).create('fuzz', ['admin'])}"}


def _bodies() -> dict[str, st.SearchStrategy[tuple[str, Any]]]:
    """Realistic bodies: what sales reports back, half the time by the rep holding the lead
    each report is fuzzed on (and mostly at times the clock allows), reps, teams and
    campaign costs."""

    def by(report: str) -> st.SearchStrategy[str]:
        return st.one_of(st.just(HOLDERS[report]), st.sampled_from(REPS))

    at = st.one_of(st.integers(0, 4), st.integers(-60, 10)).map(
        lambda m: (NOW + timedelta(minutes=m)).isoformat()
    )
    attempt = st.fixed_dictionaries(
        {
            "attempt_id": st.sampled_from(["a1", "a2", "a3"]),
            "rep_id": by("attempts"),
            "channel": st.sampled_from(["call", "email"]),
            "outcome": st.sampled_from(["no_answer", "connected"]),
            "at": at,
        }
    )
    rep = by("outcome")
    outcome = st.one_of(
        st.fixed_dictionaries(
            {
                "rep_id": rep,
                "stage": st.sampled_from(["opportunity", "won"]),
                "amount": st.floats(1, 1e6),
                "currency": st.just("USD"),
            }
        ),
        st.fixed_dictionaries(
            {"rep_id": rep, "stage": st.just("lost"), "reason": st.sampled_from(["price", "other"])}
        ),
        st.fixed_dictionaries(
            {"rep_id": rep, "stage": st.sampled_from(["opportunity", "won", "lost"])},
            optional={
                "amount": st.floats(1, 1e6),
                "currency": st.just("USD"),
                "reason": st.sampled_from(["price", "other"]),
                "at": at,
            },
        ),
    )
    json = "application/json"
    return {
        "POST /v1/leads/{lead_id}/accept": st.tuples(
            st.just(json), st.fixed_dictionaries({"rep_id": by("accept")})
        ),
        "POST /v1/leads/{lead_id}/reject": st.tuples(
            st.just(json),
            st.fixed_dictionaries(
                {"rep_id": by("reject"), "reason": st.sampled_from(["not_a_fit", "other"])},
                optional={"note": st.just("wrong size")},
            ),
        ),
        "POST /v1/leads/{lead_id}/attempts": st.tuples(st.just(json), attempt),
        "POST /v1/leads/{lead_id}/outcome": st.tuples(st.just(json), outcome),
        "PUT /v1/reps/{rep_id}": st.tuples(
            st.just(json),
            st.builds(
                lambda team, weight, capacity, available: (
                    {k: v for k, v in a_rep("x", team).items() if k != "rep_id"}
                    | {"weight": weight, "capacity": capacity, "available": available}
                ),
                st.sampled_from([TEAM, "other-team"]),
                st.integers(0, 3),
                st.integers(0, 5),
                st.booleans(),
            ),
        ),
        "PUT /v1/teams/{team}": st.tuples(
            st.just(json), st.fixed_dictionaries({"manager": st.sampled_from([*REPS, "x"])})
        ),
        "PUT /v1/campaigns/{campaign_id}": st.tuples(
            st.just(json),
            st.fixed_dictionaries(
                {
                    "name": st.just("Fuzz webinar"),
                    "cost": st.sampled_from([0, 1, 5000.5, 1e12]),
                    "period": st.sampled_from(
                        [
                            "2026-11",
                            "2026-10-16/2026-11-30",
                            "0000-01",
                            "9999-12",
                            "0001-01",
                            "9999-12-31/9999-12-31",
                            "2026-12-01/2026-11-01",
                            "2026-02-30",
                            "2026-11-01/2030-11-01",
                            "2026-13",
                            "20261-1",
                        ]
                    ),
                },
                optional={"currency": st.sampled_from(["USD", "EUR", "usd"])},
            ),
        ),
    }


def test_no_generated_request_gets_a_server_error_or_an_undocumented_answer(
    handoff: FastAPI, admin: dict[str, str]
) -> None:
    schema = load_schema(seed_on_start(handoff, _seed))
    answered = fuzz(
        schema,
        admin,
        examples=EXAMPLES,
        pins={
            "lead_id": LEAD_IDS,
            "rep_id": REPS,
            "team": [TEAM],
            "subscription_id": SEEDED["subscription_id"],
            "delivery_id": SEEDED["delivery_id"],
            "campaign_id": [CAMPAIGN],
        },
        pins_by_operation={
            f"POST /v1/leads/{{lead_id}}/{report}": {"lead_id": [event.data.decision.lead_id]}
            for report, event in FOR_REPORT.items()
        },
        bodies=_bodies(),
        min_operations=25,
    )
    # The seeded rows were reached, not only "not found".
    for label in (
        "GET /v1/leads/{lead_id}",
        "GET /v1/reps/{rep_id}",
        "GET /v1/teams/{team}",
        "GET /v1/subscriptions/{subscription_id}/deliveries",
        "POST /v1/subscriptions/{subscription_id}/deliveries/{delivery_id}/retry",
        "GET /v1/campaigns/{campaign_id}",
        "GET /v1/reports/funnel",
        "PUT /v1/campaigns/{campaign_id}",
    ):
        assert set(answered[label]) & {200, 201}, (label, answered[label])
    # A report on a seeded lead by the rep holding it: recorded, or refused for the state
    # the lead is in by then (409) — either way past the lookups.
    for report in FOR_REPORT:
        label = f"POST /v1/leads/{{lead_id}}/{report}"
        assert set(answered[label]) & {200, 201, 409}, (label, answered[label])


def test_without_a_key_every_route_answers_401(handoff: FastAPI) -> None:
    fuzz_without_a_key(load_schema(handoff), examples=8)
