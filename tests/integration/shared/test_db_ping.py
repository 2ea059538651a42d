"""PostgreSQL connections are pinged only after sitting idle in the pool: a connection
whose server went away is replaced before use once idle, and a recent one fails as a
disconnect once, after which the pool is fresh."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from shared import db


async def _backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("select pg_backend_pid()"))).scalar_one())


async def _terminate(pg_url: str, pid: int) -> None:
    conn = await asyncpg.connect(pg_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        assert await conn.fetchval("select pg_terminate_backend($1)", pid)
    finally:
        await conn.close()


@pytest.fixture
async def engine(pg_url: str) -> AsyncIterator[AsyncEngine]:
    engine = db.create_engine(pg_url, schema="ping")
    yield engine
    await engine.dispose()


async def test_an_idle_connection_whose_server_went_away_is_replaced(
    engine: AsyncEngine, pg_url: str
) -> None:
    first = await _backend_pid(engine)  # now pooled, idle
    await _terminate(pg_url, first)
    await asyncio.sleep(db.PING_IDLE_SECONDS + 0.2)
    # Idle long enough: pinged at checkout, found dead, replaced; the caller sees nothing.
    second = await _backend_pid(engine)
    assert second != first


async def test_a_connection_used_a_moment_ago_is_not_pinged(
    engine: AsyncEngine, pg_url: str
) -> None:
    first = await _backend_pid(engine)
    await _terminate(pg_url, first)
    # Checked out again at once: no ping, so its first statement meets the cut, as a
    # disconnect (which callers treat as transient and retry) ...
    with pytest.raises(DBAPIError) as caught:
        await _backend_pid(engine)
    assert caught.value.connection_invalidated
    assert db.is_transient(caught.value)
    # ... and the pool is fresh for the retry.
    assert await _backend_pid(engine) != first
