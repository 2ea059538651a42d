"""A transaction that loses a race on PostgreSQL (a deadlock, a serialization failure) is
retried, never treated as a bad message: asyncpg's errors reach SQLAlchemy as its generic
DBAPIError, so the SQLSTATE decides."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from shared import db


@pytest.fixture
async def engine(pg_url: str) -> AsyncIterator[AsyncEngine]:
    engine = db.create_engine(pg_url, schema="races")
    async with engine.begin() as conn:
        await conn.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS races")
        await conn.exec_driver_sql("DROP TABLE IF EXISTS races.keys")
        await conn.exec_driver_sql("CREATE TABLE races.keys (id text primary key)")
    yield engine
    async with engine.begin() as conn:
        await conn.exec_driver_sql("DROP SCHEMA races CASCADE")
    await engine.dispose()


async def test_a_real_deadlock_is_transient(engine: AsyncEngine) -> None:
    """Two transactions insert the same two keys in opposite orders (what a data consumer
    and a keys consumer once did): PostgreSQL aborts one of them with 40P01."""
    a_has_first, b_has_first = asyncio.Event(), asyncio.Event()
    insert = text("INSERT INTO races.keys VALUES (:id) ON CONFLICT (id) DO NOTHING")

    async def txn(first: str, second: str, mine: asyncio.Event, theirs: asyncio.Event) -> None:
        async with engine.begin() as conn:
            await conn.execute(insert, {"id": first})
            mine.set()
            await theirs.wait()
            await conn.execute(insert, {"id": second})

    results = await asyncio.gather(
        txn("x", "y", a_has_first, b_has_first),
        txn("y", "x", b_has_first, a_has_first),
        return_exceptions=True,
    )
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(errors) == 1, results
    assert isinstance(errors[0], DBAPIError)
    assert db.sqlstate(errors[0]) == "40P01"
    assert db.is_transient(errors[0])


@pytest.mark.parametrize(
    ("code", "transient"),
    [("40P01", True), ("40001", True), ("55P03", True), ("08006", True), ("22023", False)],
)
async def test_the_sqlstate_decides(engine: AsyncEngine, code: str, transient: bool) -> None:
    """Raised by the server itself, so the code travels the real driver path; an invalid
    parameter (22023) is the message's fault and stays non-transient."""
    with pytest.raises(DBAPIError) as raised:
        async with engine.begin() as conn:
            await conn.exec_driver_sql(
                f"DO $$ BEGIN RAISE EXCEPTION 'raised' USING ERRCODE = '{code}'; END $$"
            )
    assert db.sqlstate(raised.value) == code
    assert db.is_transient(raised.value) is transient
