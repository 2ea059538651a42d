"""Reps and teams: PUT /v1/reps and /v1/teams, and the YAML seed loaded on start.

A change that may let a rep take leads (back from leave, more capacity, a new rep) drains
the team's queue in the same transaction. A change to the rep's standing in the rotation
(team, weight, availability) marks them out of it, so the next assignment reseeds their
count with routing.fair_start_count instead of owing them, or denying them, a backlog.
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.handoff import store
from services.handoff.assignment import drain_queue
from services.handoff.errors import RepNotFound, TeamNotFound, UnknownManager
from services.handoff.schemas import RepIn, RepOut, TeamIn, TeamOut
from services.handoff.service import Handoff, available

ROTATION_FIELDS = ("team", "weight", "available", "out_of_office_until")


async def put_rep(
    session: AsyncSession, rep_id: str, rep: RepIn, *, handoff: Handoff, drain: bool = True
) -> tuple[RepOut, bool]:
    """Create or replace a rep; (the rep, whether it is new)."""
    now = handoff.now()
    before = await store.get_rep(session, rep_id)
    await store.ensure_team(session, rep.team)
    values = rep.model_dump()
    values["working_hours"] = list(rep.working_hours)
    values["updated_at"] = now
    created = await store.upsert_rep(session, rep_id, values)
    if before is not None and any(before[f] != values[f] for f in ROTATION_FIELDS):
        await store.leave_rotations(session, rep_id)
    if drain:
        await drain_queue(session, rep.team, handoff=handoff)
    return await get_rep(session, rep_id, handoff=handoff), created


async def get_rep(session: AsyncSession, rep_id: str, *, handoff: Handoff) -> RepOut:
    row = await store.get_rep(session, rep_id)
    if row is None:
        raise RepNotFound(rep_id)
    counts = await store.open_lead_counts(session, [rep_id])
    return _rep_out(row, counts.get(rep_id, 0), handoff)


async def list_reps(session: AsyncSession, *, team: str | None, handoff: Handoff) -> list[RepOut]:
    rows = await store.all_reps(session, team)
    counts = await store.open_lead_counts(session, [r["rep_id"] for r in rows])
    return [_rep_out(r, counts.get(r["rep_id"], 0), handoff) for r in rows]


def _rep_out(row: dict[str, Any], open_leads: int, handoff: Handoff) -> RepOut:
    return RepOut.model_validate(
        {
            **{k: v for k, v in row.items() if k in RepOut.model_fields},
            "working_hours": tuple(row["working_hours"]),
            "open_leads": open_leads,
            "available_now": available(row, handoff.now()),
        }
    )


async def put_team(session: AsyncSession, team: str, body: TeamIn) -> TeamOut:
    """Name the team's manager, who takes its escalations; the manager must be a known rep."""
    if await store.get_rep(session, body.manager) is None:
        raise UnknownManager(body.manager)
    await store.upsert_team(session, team, body.manager)
    return await get_team(session, team)


async def get_team(session: AsyncSession, team: str) -> TeamOut:
    row = await store.get_team(session, team)
    if row is None:
        raise TeamNotFound(team)
    members = await store.all_reps(session, team)
    queued = await store.queued_counts(session)
    return TeamOut(
        team=team,
        manager=row["manager_rep_id"],
        reps=[r["rep_id"] for r in members],
        queued_leads=queued.get(team, 0),
    )


async def list_teams(session: AsyncSession) -> list[TeamOut]:
    return [await get_team(session, t["team"]) for t in await store.list_teams(session)]


class SeedError(ValueError):
    """The reps seed file is wrong; the message names the entry and the field."""


async def seed_reps(session: AsyncSession, document: str, *, handoff: Handoff) -> int:
    """Load the reps seed: reps not yet known (PUT changes win), then teams and managers."""
    await store.lock_for_seeding(session)
    doc = yaml.safe_load(document) or {}
    if not isinstance(doc, dict):
        raise SeedError("the reps seed must be a mapping with `reps` and `teams`")
    count = 0
    for i, raw in enumerate(doc.get("reps") or []):
        raw = dict(raw)
        rep_id = str(raw.pop("rep_id", "") or "")
        if not rep_id:
            raise SeedError(f"reps[{i}]: rep_id is required")
        if await store.get_rep(session, rep_id) is not None:
            continue  # changed at run time with PUT /v1/reps: the seed does not undo that
        try:
            rep = RepIn.model_validate(raw)
        except ValidationError as exc:
            raise SeedError(f"reps[{i}] ({rep_id}): {exc}") from exc
        await put_rep(session, rep_id, rep, handoff=handoff, drain=False)
        count += 1
    for i, team in enumerate(doc.get("teams") or []):
        name, manager = str(team.get("team", "")), team.get("manager")
        if not name:
            raise SeedError(f"teams[{i}]: team is required")
        if manager is not None and await store.get_rep(session, str(manager)) is None:
            raise SeedError(f"teams[{i}] ({name}): manager {manager} is not a rep in the seed")
        existing = await store.get_team(session, name)
        if existing is None or existing["manager_rep_id"] is None:
            await store.upsert_team(session, name, str(manager) if manager else None)
    return count
