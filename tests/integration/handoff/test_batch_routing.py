"""A consumer batch routes its leads exactly as one-at-a-time routing would.

The same `lead.scored` events go to two fresh handoffs over Kafka (one partition, so both
read them in one order) after the same history: one consumes a batch of one event at a time,
the other its default batch. Their databases and what they published must match row for
row: assignments and their reasons, SLA timers, every timeline entry, the rotation counts
and each lead.assigned. The batch holds what makes batching hard: several leads for one
team, leads of one company (the first one's rep owns the account for the next), account
owners known from before the batch and from a lead in it, one from another team, a re-score
of a lead the batch assigned, leads scored twice in it, and more leads than the team has
room for.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.handoff import assignment, reps
from services.handoff.service import Handoff
from services.handoff.settings import HandoffSettings
from services.handoff.tables import assignments, leads, plumbing, rotation, sla_timers, timeline
from shared.clock import FixedClock
from shared.db import transaction
from shared.events import TOPIC_HANDOFF, Event, LeadScored
from shared.kafka import ensure_topics
from shared.runtime import Runtime
from shared.tansu import free_port, start_tansu
from tests.infra import PG_HOST, PG_PORT, PG_USER, eventually, running
from tests.integration.handoff.conftest import (
    HOT,
    a_rep,
    a_scored,
    handoff_app,
    handoff_settings,
    reps_file,
    send_scored,
)

TUESDAY_10_NY = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
async def two_databases(
    request: pytest.FixtureRequest, tmp_path: Path, pg_available: bool
) -> AsyncIterator[tuple[str, str]]:
    """Two empty handoff databases on one backend (fresh PostgreSQL ones, dropped after)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/one.db", f"sqlite+aiosqlite:///{tmp_path}/all.db"
        return
    if not pg_available:
        pytest.skip(f"PostgreSQL at {PG_HOST}:{PG_PORT} is unreachable (set CI=true to fail)")
    names = [f"leadrelay_test_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    admin = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres")
    try:
        for name in names:
            await admin.execute(f'CREATE DATABASE "{name}"')
        one, two = (f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{n}" for n in names)
        yield one, two
    finally:
        for name in names:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def the_events() -> tuple[list[LeadScored], list[LeadScored], dict[str, str]]:
    """(what happened before, the batch, the leads to check by name)."""
    gina = a_scored(email="gina@globex.com", team="emea")
    ian = a_scored(email="ian@initech.com", team="na", outcome="nurture", sla=None)
    waiting = a_scored(team="nobody-here")  # no reps: queued
    hal = a_scored(email="hal@hooli.com", team="na")
    before = [gina, ian, hal, waiting]
    ann, bob, gus = (a_scored(email=f"{n}@{d}", team="na") for n, d in NAMES)
    twice = a_scored(team="na", outcome="nurture", sla=None)
    overflow = [a_scored(team="na") for _ in range(3)]
    batch = [
        ann,
        bob,  # the account owner: ann's rep
        a_scored(email="hank@hooli.com", team="na"),  # hal's rep owns hooli
        again(gina),  # in the batch, so gina's rep is known from her row for gus:
        gus,  # gina's rep owns globex, from team emea
        again(ann),  # a re-score of a lead the batch assigned
        again(ian, outcome="qualified", sla=HOT),  # out of nurture: routed
        again(waiting, outcome="disqualified", sla=None),  # leaves the queue
        twice,
        again(twice, outcome="qualified", sla=HOT),  # nurture, then qualified, in one batch
        a_scored(email="cat@acme.com", team="na", account_match=False),
        a_scored(email="dan@gmail.com", team="na"),  # a mailbox provider is no account
        *overflow,  # more than na has room for
        again(overflow[-1], outcome="disqualified", sla=None),  # queued, then leaves
    ]
    names = {
        "ann": ann.data.lead.lead_id,
        "bob": bob.data.lead.lead_id,
        "gus": gus.data.lead.lead_id,
        "hal": hal.data.lead.lead_id,
        "ian": ian.data.lead.lead_id,
        "waiting": waiting.data.lead.lead_id,
        "twice": twice.data.lead.lead_id,
        "queued": overflow[0].data.lead.lead_id,
        "dequeued": overflow[-1].data.lead.lead_id,
    }
    return before, batch, names


NAMES = (("ann", "acme.com"), ("bob", "acme.com"), ("gus", "globex.com"))


def again(event: LeadScored, **changes: Any) -> LeadScored:
    """The same lead scored once more (a new event)."""
    lead = event.data.lead
    return a_scored(
        lead_id=lead.lead_id,
        email=lead.email,
        team=event.data.route.team,
        received_at=lead.received_at,
        **{"outcome": event.data.decision.outcome, "sla": event.data.sla, **changes},
    )


async def route(
    db_url: str, tmp_path: Path, before: list[LeadScored], batch: list[LeadScored], **extra: Any
) -> dict[str, Any]:
    """A fresh handoff on its own broker: `before` stored one event per transaction, then
    `batch` consumed from a topic that already holds all of it when the consumer starts.
    What it stored and published at the end."""
    seed = reps_file(
        tmp_path,
        [
            a_rep("na-a", "na", capacity=2),
            a_rep("na-b", "na", capacity=3, weight=2),
            a_rep("na-c", "na", capacity=1),
            a_rep("na-away", "na", available=False),
            a_rep("emea-a", "emea", time_zone="Europe/Paris", country="FR", subdivision=None),
        ],
    )
    keys = tmp_path / f"keys-{uuid.uuid4().hex[:6]}.json"
    port = free_port()
    broker = start_tansu(port, log=tmp_path / f"tansu-{port}.log")
    bootstrap = f"127.0.0.1:{port}"
    clock = FixedClock(TUESDAY_10_NY)
    extra["kafka_partitions"] = 1  # one partition: every handoff reads one order
    try:
        settings = handoff_settings(db_url, bootstrap, keys, seed, **extra)
        await ensure_topics(settings)
        await _given(settings, clock, before)
        await send_scored(bootstrap, *batch)
        app = handoff_app(db_url, bootstrap, keys, seed, clock, **extra)
        async with running(app):
            await _consumed(app, len(batch))
            return await _snapshot(app.state.runtime.sessionmaker)
    finally:
        broker.kill()
        broker.wait()


async def _given(settings: HandoffSettings, clock: FixedClock, events: list[LeadScored]) -> None:
    """The history: the reps seed and `events`, one transaction each, before handoff runs."""
    runtime = Runtime.build(settings, plumbing)
    handoff = Handoff(clock=clock, default_team=settings.default_team)
    try:
        await runtime.migrate()
        async with transaction(runtime.sessionmaker) as session:
            await reps.seed_reps(session, Path(settings.reps_file).read_text(), handoff=handoff)
        for event in events:
            async with transaction(runtime.sessionmaker) as session:
                await assignment.receive_scored(session, event, handoff=handoff)
    finally:
        await runtime.stop()


async def _consumed(app: FastAPI, count: int) -> None:
    consumer = app.state.runtime.consumers[0]

    async def done() -> bool:
        return bool(consumer.processed >= count)

    await eventually(done, timeout=30)


async def test_a_batch_routes_exactly_as_one_event_at_a_time(
    two_databases: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes: list[int] = []
    batch_of = assignment.receive_scored_batch

    async def counted(session: AsyncSession, events: Sequence[Event], **kw: Any) -> None:
        sizes.append(len(events))
        await batch_of(session, events, **kw)

    monkeypatch.setattr(assignment, "receive_scored_batch", counted)  # a spy: counts, calls
    before, batch, lead = the_events()
    one_db, all_db = two_databases
    one_at_a_time = await route(one_db, tmp_path, before, batch, consumer_batch_size=1)
    assert sizes.count(1) == len(before) + len(batch)
    sizes.clear()
    batched = await route(all_db, tmp_path, before, batch)
    assert sizes == [1] * len(before) + [len(batch)]  # the whole batch in one transaction

    assert batched == one_at_a_time
    # ... and the batch held what it was meant to.
    held = {a["lead_id"]: (a["reason"], a["rep_id"]) for a in batched["assignments"]}
    assert held[lead["bob"]] == ("account_owner", held[lead["ann"]][1])
    assert held[lead["gus"]] == ("account_owner", "emea-a")
    assert held[batch[2].subject] == ("account_owner", held[lead["hal"]][1])
    status = {lead_id: row["status"] for lead_id, row in batched["leads"].items()}
    assert status[lead["ian"]] == status[lead["twice"]] == "assigned"
    assert status[lead["waiting"]] == status[lead["dequeued"]] == "disqualified"
    assert status[lead["queued"]] == "queued"
    assert (
        sum(s == "assigned" and batched["leads"][i]["team"] == "na" for i, s in status.items()) == 6
    )
    kinds = [e["kind"] for e in batched["timeline"][lead["ann"]]]
    assert kinds == ["received", "scored", "scored", "assigned"]  # by time: both scores first


def _without_ciphertext(doc: Any) -> Any:
    """Sealed personal fields differ run to run (a fresh nonce each seal) by design."""
    if isinstance(doc, dict):
        return {k: _without_ciphertext(v) for k, v in doc.items() if k != "personal"}
    if isinstance(doc, list):
        return [_without_ciphertext(v) for v in doc]
    return doc


async def _snapshot(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
    """What routing stored and published, without ids and event times that differ anyway."""
    async with sessionmaker() as session:
        lead_rows = {r.lead_id: dict(r._mapping) for r in await session.execute(select(leads))}
        rows = await session.execute(
            select(assignments).order_by(assignments.c.lead_id, assignments.c.assigned_at)
        )
        held = [dict(r._mapping) for r in rows]
        lead_of = {a.pop("id"): a["lead_id"] for a in held}
        timers = sorted(
            (lead_of[r.assignment_id], r.kind, r.due_at, r.fired_at, r.cancelled_at, r.action)
            for r in await session.execute(select(sla_timers))
        )
        steps: dict[str, list[dict[str, Any]]] = {}
        for r in await session.execute(
            select(timeline).order_by(timeline.c.lead_id, timeline.c.at, timeline.c.id)
        ):
            entry = dict(r._mapping)
            entry.pop("id")
            steps.setdefault(entry.pop("lead_id"), []).append(entry)
        counts = sorted(tuple(r) for r in await session.execute(select(rotation)))
        outbox = plumbing.outbox.table
        published = []
        for r in await session.execute(
            select(outbox.c.key, outbox.c.payload)
            .where(outbox.c.topic == TOPIC_HANDOFF)
            .order_by(outbox.c.id)
        ):
            event = json.loads(r.payload)
            del event["id"], event["time"]
            published.append((r.key, _without_ciphertext(event)))
    return {
        "leads": _without_ciphertext(lead_rows),
        "assignments": held,
        "timers": timers,
        "timeline": steps,
        "rotation": counts,
        "published": published,
    }
