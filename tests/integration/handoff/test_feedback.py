"""What sales reports back over HTTP: checked against the lead, stored, put on the timeline
and published for marketing on leads.feedback."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import REGISTRY

from tests.infra import read_topic
from tests.integration.handoff.conftest import Harness, a_scored

ASSIGNED_AT = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


async def a_held_lead(harness: Harness, reps: tuple[str, ...] = ("ana",)) -> tuple[str, str, str]:
    """(lead id, the rep holding it, the team) on a fresh team."""
    team = harness.team("fb")
    for rep in reps:
        await harness.put_rep(f"{team}-{rep}", team)
    harness.clock.set(ASSIGNED_AT)
    event = a_scored(team=team)
    await harness.feed(event)
    lead_id = event.data.lead.lead_id
    return lead_id, (await harness.lead(lead_id))["rep_id"], team


def attempt(rep_id: str, attempt_id: str = "call-1", **overrides: Any) -> dict[str, Any]:
    body = {
        "attempt_id": attempt_id,
        "rep_id": rep_id,
        "channel": "call",
        "outcome": "voicemail",
        "at": "2026-11-24T10:03:00-05:00",
    }
    body.update(overrides)
    return body


def field_errors(answer: Any) -> dict[str, str]:
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    return {e["pointer"]: e["message"] for e in answer.json()["errors"]}


async def test_accept_is_recorded_once_and_only_by_the_rep_holding_the_lead(
    harness: Harness,
) -> None:
    lead_id, rep, team = await a_held_lead(harness, ("ana", "ben"))
    other = f"{team}-ben" if rep.endswith("ana") else f"{team}-ana"
    first = await harness.post(f"/v1/leads/{lead_id}/accept", {"rep_id": rep})
    again = await harness.post(f"/v1/leads/{lead_id}/accept", {"rep_id": rep})
    stranger = await harness.post(f"/v1/leads/{lead_id}/accept", {"rep_id": other})
    assert first.status_code == 200
    assert first.json()["status"] == "accepted"
    assert again.json()["replayed"] is True
    assert stranger.status_code == 409
    assert stranger.json()["current_rep_id"] == rep
    view = await harness.lead(lead_id)
    assert [e["kind"] for e in view["timeline"]].count("accepted") == 1
    assert view["assignments"][0]["accepted_at"] == "2026-11-24T15:00:00Z"


async def test_a_rejected_lead_goes_back_to_marketing_with_its_reason(harness: Harness) -> None:
    lead_id, rep, _ = await a_held_lead(harness)
    unknown = await harness.post(
        f"/v1/leads/{lead_id}/reject", {"rep_id": rep, "reason": "too_lazy"}
    )
    assert "/reason" in field_errors(unknown)
    no_note = await harness.post(f"/v1/leads/{lead_id}/reject", {"rep_id": rep, "reason": "other"})
    assert "/note" in field_errors(no_note)
    body = {"rep_id": rep, "reason": "existing_customer", "note": "renewal in Q1"}
    answer = await harness.post(f"/v1/leads/{lead_id}/reject", body)
    replay = await harness.post(f"/v1/leads/{lead_id}/reject", body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "rejected"
    assert replay.json()["replayed"] is True
    view = await harness.lead(lead_id)
    assert view["rep_id"] is None
    assert view["sla"]["pending"] == []
    assert view["assignments"][0]["reject_reason"] == "existing_customer"
    late = await harness.post(f"/v1/leads/{lead_id}/attempts", attempt(rep))
    assert late.status_code == 409
    assert late.json()["current_rep_id"] is None


async def test_an_attempt_is_idempotent_by_its_id_and_checked_against_the_assignment(
    harness: Harness,
) -> None:
    lead_id, rep, _ = await a_held_lead(harness)
    url = f"/v1/leads/{lead_id}/attempts"
    before = await harness.post(url, attempt(rep, at="2026-11-24T09:59:00-05:00"))
    assert field_errors(before)["/at"] == (
        "the attempt at 2026-11-24T14:59:00+00:00 is before the assignment at "
        "2026-11-24T15:00:00+00:00"
    )
    naive = await harness.post(url, attempt(rep, at="2026-11-24T10:03:00"))
    assert "/at" in field_errors(naive)
    assert "/channel" in field_errors(await harness.post(url, attempt(rep, channel="fax")))
    assert "/outcome" in field_errors(await harness.post(url, attempt(rep, outcome="maybe")))
    future = await harness.post(url, attempt(rep, at="2026-11-25T10:03:00-05:00"))
    assert "in the future" in field_errors(future)["/at"]

    first = await harness.post(url, attempt(rep))
    replay = await harness.post(url, attempt(rep))
    reused = await harness.post(url, attempt(rep, outcome="connected"))
    assert (first.status_code, replay.status_code, reused.status_code) == (201, 200, 409)
    assert replay.json()["replayed"] is True
    second = await harness.post(
        url, attempt(rep, "email-1", channel="email", at="2026-11-24T15:01:00Z")
    )
    assert second.json()["attempts"] == 2
    assert second.json()["first_attempt_at"] == "2026-11-24T15:01:00Z"
    view = await harness.lead(lead_id)
    assert view["attempts"] == 2
    attempts = [e for e in view["timeline"] if e["kind"] == "attempt"]
    assert [(a["detail"]["attempt_id"], a["at"]) for a in attempts] == [
        ("email-1", "2026-11-24T15:01:00Z"),
        ("call-1", "2026-11-24T15:03:00Z"),
    ]
    sample = {"channel": "call", "outcome": "voicemail"}
    assert (REGISTRY.get_sample_value("leadrelay_contact_attempts_total", sample) or 0) >= 1


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/leads/nope/accept", {"rep_id": "x"}),
        ("/v1/leads/nope/attempts", attempt("x")),
        ("/v1/leads/nope/outcome", {"rep_id": "x", "stage": "lost", "reason": "price"}),
    ],
)
async def test_an_unknown_lead_is_a_404_problem(harness: Harness, path: str, body: Any) -> None:
    answer = await harness.post(path, body)
    assert answer.status_code == 404
    assert answer.json()["type"] == "https://leadrelay.dev/problems/lead-not-found"


async def test_an_unknown_rep_is_a_404_problem(harness: Harness) -> None:
    lead_id, _, _ = await a_held_lead(harness)
    answer = await harness.post(f"/v1/leads/{lead_id}/attempts", attempt("nobody-here"))
    assert answer.status_code == 404
    assert answer.json()["rep_id"] == "nobody-here"
    missing = await harness.client.get("/v1/leads/nope", headers=harness.auth)
    assert missing.status_code == 404


async def test_an_opportunity_then_a_win_closes_the_lead_and_stops_its_clocks(
    harness: Harness,
) -> None:
    lead_id, rep, _ = await a_held_lead(harness)
    url = f"/v1/leads/{lead_id}/outcome"
    negative = await harness.post(
        url, {"rep_id": rep, "stage": "opportunity", "amount": -5, "currency": "EUR"}
    )
    assert "/amount" in field_errors(negative)
    no_currency = await harness.post(url, {"rep_id": rep, "stage": "opportunity", "amount": 10})
    assert "/currency" in field_errors(no_currency)
    no_reason = await harness.post(url, {"rep_id": rep, "stage": "lost"})
    assert "/reason" in field_errors(no_reason)
    bad_reason = await harness.post(url, {"rep_id": rep, "stage": "lost", "reason": "aliens"})
    assert "/reason" in field_errors(bad_reason)
    early = await harness.post(
        url,
        {
            "rep_id": rep,
            "stage": "opportunity",
            "amount": 10,
            "currency": "EUR",
            "at": "2026-11-23T10:00:00Z",
        },
    )
    assert "/at" in field_errors(early)

    opportunity = {"rep_id": rep, "stage": "opportunity", "amount": 48000.0, "currency": "EUR"}
    assert (await harness.post(url, opportunity)).json()["status"] == "opportunity"
    won = await harness.post(url, {"rep_id": rep, "stage": "won"})
    assert won.json()["status"] == "won"
    assert (await harness.post(url, {"rep_id": rep, "stage": "won"})).json()["replayed"] is True
    lost = await harness.post(url, {"rep_id": rep, "stage": "lost", "reason": "price"})
    assert lost.status_code == 409
    view = await harness.lead(lead_id)
    assert view["status"] == "won"
    assert view["sla"]["pending"] == []
    assert view["sales_outcome"]["amount"] == 48000.0
    assert view["sales_outcome"]["opportunity_amount"] == 48000.0
    assert view["sales_outcome"]["currency"] == "EUR"
    assert view["closed_at"] == "2026-11-24T15:00:00Z"


async def test_every_report_reaches_marketing_on_leads_feedback_in_order(harness: Harness) -> None:
    lead_id, rep, team = await a_held_lead(harness)
    await harness.post(f"/v1/leads/{lead_id}/accept", {"rep_id": rep})
    await harness.post(f"/v1/leads/{lead_id}/attempts", attempt(rep, outcome="connected"))
    await harness.post(f"/v1/leads/{lead_id}/attempts", attempt(rep))  # a replay: no event
    await harness.post(
        f"/v1/leads/{lead_id}/outcome",
        {"rep_id": rep, "stage": "opportunity", "amount": 12000, "currency": "USD"},
    )

    def mine(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [r["value"] for r in records if r["key"] == lead_id]

    events = mine(
        await read_topic(harness.broker, "leads.feedback", until=lambda rs: len(mine(rs)) >= 3)
    )
    assert {e["type"] for e in events} == {"com.leadrelay.lead.feedback.v1"}
    data = [e["data"] for e in events]
    assert [d["kind"] for d in data] == ["accepted", "attempt", "outcome"]
    assert {(d["rep_id"], d["team"], d["tier"], d["source"]) for d in data} == {
        (rep, team, "hot", "web")
    }
    assert data[1]["attempt"] == {
        "attempt_id": "call-1",
        "channel": "call",
        "outcome": "connected",
        "at": "2026-11-24T15:03:00Z",
        "number": 1,
        "time_to_first_contact_seconds": 180.0,
    }
    assert data[2]["outcome"] == {"stage": "opportunity", "amount": 12000.0, "currency": "USD"}


async def test_reporting_needs_the_sales_scope(harness: Harness) -> None:
    from shared.auth import KeyStore

    keys = KeyStore(harness.app.state.keys.path)
    intake_key = keys.create("web forms", ["intake"])
    answer = await harness.client.post(
        "/v1/leads/x/accept",
        json={"rep_id": "x"},
        headers={"Authorization": f"Bearer {intake_key}"},
    )
    assert answer.status_code == 403
