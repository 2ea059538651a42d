"""Scoring's store and use cases on both backends, without a broker: the contract cache two
replicas share a database through, what one event costs in statements, one active version."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.scoring import service, store, versions
from services.scoring.tables import contracts, plumbing
from shared import db, migrations
from shared.clock import FixedClock
from shared.events import Decision, LeadScored, LeadScoredData
from tests.integration.scoring.conftest import (
    DEFAULT,
    NOW,
    default_as,
    lead_data,
    received,
    updated,
)

CLOCK = FixedClock(NOW)
outbox = plumbing.outbox.table


@pytest.fixture
async def engine(db_urls: dict[str, str]) -> AsyncIterator[AsyncEngine]:
    engine = db.create_engine(db_urls["scoring"], schema="scoring")
    await migrations.upgrade(engine, "scoring")
    async with db.transaction(db.sessionmaker(engine)) as session:
        await versions.ensure_active(session, DEFAULT, clock=CLOCK)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return db.sessionmaker(engine)


@contextmanager
def statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """The SQL statements run on `engine` inside the block (not BEGIN/COMMIT)."""
    seen: list[str] = []

    def count(_conn: object, _cursor: object, sql: str, *_: object) -> None:
        if not sql.startswith("BEGIN"):  # SQLite's BEGIN IMMEDIATE opens the transaction
            seen.append(sql)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)


class Ticks:
    """A monotonic clock for the cache that moves only when told to."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_a_replica_sees_another_replicas_activation_within_its_ttl(
    sessions: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    ticks = Ticks()
    mine, theirs = (versions.ContractCache(ttl=1.0, monotonic=ticks) for _ in range(2))
    async with db.transaction(sessions) as session:
        await versions.propose(session, default_as("2026.2"), clock=CLOCK, by="test")
        assert (await mine.active(session)).version == "2026.1"
        assert (await theirs.active(session)).version == "2026.1"

    async with db.transaction(sessions) as session:
        await versions.activate(session, "2026.2", cache=mine, clock=CLOCK, by="test")
        assert (await mine.active(session)).version == "2026.1"  # not committed yet
    async with sessions() as session:
        assert (await mine.active(session)).version == "2026.2"  # dropped on commit
        with statements(engine) as sql:
            assert (await theirs.active(session)).version == "2026.1"  # trusted for 1 s
        assert sql == []
        ticks.now += 1.0
        assert (await theirs.active(session)).version == "2026.2"


async def test_an_activation_rolled_back_is_not_forgotten_by_the_cache(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    cache = versions.ContractCache(ttl=60.0)
    async with sessions() as session:
        await versions.propose(session, default_as("2026.2"), clock=CLOCK, by="test")
        await session.commit()
        assert (await cache.active(session)).version == "2026.1"

    async def activate_then_fail() -> None:
        async with db.transaction(sessions) as session:
            await versions.activate(session, "2026.2", cache=cache, clock=CLOCK, by="test")
            raise RuntimeError("the request failed after activating")

    with pytest.raises(RuntimeError):
        await activate_then_fail()
    async with sessions() as session:
        assert (await store.active_version(session)) == "2026.1"
        assert (await cache.active(session)).version == "2026.1"


async def test_a_batch_costs_a_few_statements_whatever_its_size(
    sessions: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    scoring = service.Scoring(clock=CLOCK, contracts=versions.ContractCache(ttl=60.0))
    leads = [lead_data() for _ in range(50)]
    async with db.transaction(sessions) as session:
        await scoring.contracts.active(session)  # warm the cache, as the first batch does
    async with db.transaction(sessions) as session:
        with statements(engine) as sql:
            await service.score_leads(session, [received(x) for x in leads], scoring=scoring)
    # what is known of them, the leads, the decisions, the outbox rows; no contract query
    assert len(sql) == 4, sql
    async with db.transaction(sessions) as session:
        with statements(engine) as sql:
            await service.score_leads(session, [updated(x) for x in leads], scoring=scoring)
    assert len(sql) == 3, sql  # the same decisions: nothing to publish


async def test_a_lead_received_and_updated_in_one_batch_publishes_both_decisions(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    scoring = service.Scoring(clock=CLOCK)
    nurtured = lead_data(job_title="Director of IT", touches=())  # 50: nurture
    merged = updated(nurtured, touches=lead_data().touches)  # + a demo request: 69.98
    late = received(nurtured.model_copy(update={"job_title": "Student"}))  # revision 1, late
    async with db.transaction(sessions) as session:
        await service.score_leads(session, [received(nurtured), merged, late], scoring=scoring)
    # (the late revision 1 is skipped: it would have disqualified the student)
    async with sessions() as session:
        rows = (await session.execute(select(outbox.c.payload).order_by(outbox.c.id))).scalars()
        published = [json.loads(r)["data"] for r in rows]
        decision = await store.get_decision(session, nurtured.lead_id)
    assert [(d["decision"]["outcome"], d.get("previous_outcome")) for d in published] == [
        ("nurture", None),
        ("qualified", "nurture"),
    ]
    assert decision is not None
    assert (decision.outcome, decision.score) == ("qualified", 69.98)


async def test_an_event_scoring_does_not_consume_fails_the_batch(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The consume loop then retries event by event and dead-letters this one alone."""
    scored = LeadScored(
        source="/x",
        subject="l",
        data=LeadScoredData(
            decision=Decision(
                lead_id="l", outcome="nurture", score=0, contract_version="1", decided_at=NOW
            ),
            lead=lead_data(),
        ),
    )
    async with sessions() as session:
        with pytest.raises(ValueError, match="does not consume"):
            await service.score_leads(
                session, [received(lead_data()), scored], scoring=service.Scoring(clock=CLOCK)
            )


async def test_at_most_one_version_is_active(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with db.transaction(sessions) as session:
        await versions.propose(session, default_as("2026.2"), clock=CLOCK, by="test")
    with pytest.raises(IntegrityError):
        async with db.transaction(sessions) as session:
            await session.execute(
                update(contracts).where(contracts.c.version == "2026.2").values(status="active")
            )
