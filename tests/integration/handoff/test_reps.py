"""Reps and teams over HTTP, and a rep joining or returning to the rotation starting level."""

from __future__ import annotations

from collections import Counter

import pytest

from services.handoff.reps import SeedError, seed_reps
from shared.auth import KeyStore
from shared.db import transaction
from tests.integration.handoff.conftest import Harness, a_rep, a_scored


def rep_body(rep_id: str, team: str, **overrides: object) -> dict[str, object]:
    return {k: v for k, v in a_rep(rep_id, team, **overrides).items() if k != "rep_id"}


async def test_a_rep_is_created_replaced_and_read_back(harness: Harness) -> None:
    team = harness.team("reps")
    rep_id = f"{team}-zoe"
    body = rep_body(rep_id, team, territories=["US-NY", "US-NJ"], segments=["enterprise"])
    created = await harness.client.put(f"/v1/reps/{rep_id}", json=body, headers=harness.auth)
    replaced = await harness.client.put(
        f"/v1/reps/{rep_id}", json={**body, "capacity": 7}, headers=harness.auth
    )
    read = await harness.client.get(f"/v1/reps/{rep_id}", headers=harness.auth)
    listed = await harness.client.get(f"/v1/reps?team={team}", headers=harness.auth)
    assert (created.status_code, replaced.status_code, read.status_code) == (201, 200, 200)
    rep = read.json()
    assert rep["capacity"] == 7
    assert rep["territories"] == ["US-NY", "US-NJ"]
    assert rep["segments"] == ["enterprise"]
    assert rep["working_hours"] == ["09:00", "17:00"]
    assert rep["available_now"] is True
    assert [r["rep_id"] for r in listed.json()] == [rep_id]


async def test_bad_reps_are_refused_naming_the_field_and_unknown_ones_are_404(
    harness: Harness,
) -> None:
    team = harness.team("bad")
    cases = {
        "/time_zone": {"time_zone": "Mars/Olympus"},
        "/working_hours": {"working_hours": ["17:00", "09:00"]},
        "/working_days": {"working_days": [7]},
        "/subdivision": {"subdivision": "england"},
        "/capacity": {"capacity": -1},
    }
    for pointer, change in cases.items():
        answer = await harness.client.put(
            f"/v1/reps/{team}-x", json={**rep_body("x", team), **change}, headers=harness.auth
        )
        assert answer.status_code == 422, (pointer, answer.text)
        assert pointer in {e["pointer"] for e in answer.json()["errors"]}, answer.json()
    missing = await harness.client.get(f"/v1/reps/{team}-nobody", headers=harness.auth)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


async def test_a_team_manager_must_be_a_known_rep(harness: Harness) -> None:
    team = harness.team("mgr")
    await harness.put_rep(f"{team}-boss", team, weight=0)
    unknown = await harness.client.put(
        f"/v1/teams/{team}", json={"manager": "ghost"}, headers=harness.auth
    )
    known = await harness.client.put(
        f"/v1/teams/{team}", json={"manager": f"{team}-boss"}, headers=harness.auth
    )
    read = await harness.client.get(f"/v1/teams/{team}", headers=harness.auth)
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["pointer"] == "/manager"
    assert known.status_code == 200
    assert read.json() == {
        "team": team,
        "manager": f"{team}-boss",
        "reps": [f"{team}-boss"],
        "queued_leads": 0,
    }


async def test_changing_reps_needs_the_admin_scope(harness: Harness) -> None:
    sales = KeyStore(harness.app.state.keys.path).create("crm", ["sales"])
    headers = {"Authorization": f"Bearer {sales}"}
    team = harness.team("scope")
    answer = await harness.client.put(
        f"/v1/reps/{team}-x", json=rep_body("x", team), headers=headers
    )
    assert answer.status_code == 403
    assert (await harness.client.get("/v1/reps", headers=headers)).status_code == 200


async def route(harness: Harness, team: str, leads: int) -> list[str]:
    events = [a_scored(team=team) for _ in range(leads)]
    await harness.feed(*events)
    return [(await harness.lead(e.data.lead.lead_id))["rep_id"] for e in events]


async def test_a_rep_joining_or_returning_starts_level_instead_of_owed_a_backlog(
    harness: Harness,
) -> None:
    team = harness.team("fair")
    a, b, c = (f"{team}-{x}" for x in "abc")
    await harness.put_rep(a, team)
    await harness.put_rep(b, team)
    assert Counter(await route(harness, team, 10)) == {a: 5, b: 5}

    await harness.put_rep(c, team)  # new: seeded at 5, level with the others
    assert Counter(await route(harness, team, 3)) == {a: 1, b: 1, c: 1}

    await harness.put_rep(a, team, available=False)  # on leave for six leads
    assert Counter(await route(harness, team, 6)) == {b: 3, c: 3}
    await harness.put_rep(a, team, available=True)  # back: not owed the six
    assert Counter(await route(harness, team, 6)) == {a: 2, b: 2, c: 2}


async def test_the_seed_refuses_a_manager_who_is_not_a_rep_naming_the_entry(
    harness: Harness,
) -> None:
    team = harness.team("seed")
    document = f"""
teams:
  - team: {team}
    manager: ghost-{team}
reps:
  - rep_id: {team}-ana
    name: Ana
    team: {team}
"""
    with pytest.raises(SeedError, match=rf"teams\[0\] \({team}\): manager ghost-{team}"):
        async with transaction(harness.app.state.runtime.sessionmaker) as session:
            await seed_reps(session, document, handoff=harness.app.state.handoff)
    bad_rep = f"reps:\n  - rep_id: {team}-x\n    name: X\n    team: {team}\n    weight: -1\n"
    with pytest.raises(SeedError, match=rf"reps\[0\] \({team}-x\)"):
        async with transaction(harness.app.state.runtime.sessionmaker) as session:
            await seed_reps(session, bad_rep, handoff=harness.app.state.handoff)
