"""SQLite on the event loop's thread: a locked database is waited out without stopping the
loop, and given up after the URL's timeout."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from shared import db
from shared.sqlite_inline import DRIVER, inline_url


def _writer(path: Path) -> AsyncEngine:
    """A second write engine on the same file: what another process (or a second service
    in one test process) would be."""
    return db.create_engine(f"sqlite+aiosqlite:///{path}", schema="x")


async def test_a_service_sqlite_url_runs_inline(tmp_path: Path) -> None:
    engine = _writer(tmp_path / "a.db")
    try:
        assert engine.dialect.driver == DRIVER
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT 41 + 1"))).scalar_one() == 42
    finally:
        await engine.dispose()


async def test_a_locked_database_is_waited_out_while_the_loop_runs(tmp_path: Path) -> None:
    path = tmp_path / "lock.db"
    first, second = _writer(path), _writer(path)
    try:
        async with first.begin() as conn:
            await conn.execute(text("CREATE TABLE t (n INTEGER)"))
        ticks = 0
        holding = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        async def hold_the_lock() -> None:
            async with first.begin() as conn:  # BEGIN IMMEDIATE: the write lock
                await conn.execute(text("INSERT INTO t VALUES (1)"))
                holding.set()
                await asyncio.sleep(0.3)  # suspended at an await, lock held

        async def write_meanwhile() -> float:
            await holding.wait()
            started = time.monotonic()
            async with second.begin() as conn:
                await conn.execute(text("INSERT INTO t VALUES (2)"))
            return time.monotonic() - started

        tick = asyncio.create_task(ticker())
        _, waited = await asyncio.gather(hold_the_lock(), write_meanwhile())
        tick.cancel()
        # the second writer waited for the first to commit, and the loop kept running
        # meanwhile (SQLite's busy handler on this thread would have frozen both)
        assert waited >= 0.2
        assert ticks >= 15
        async with second.connect() as conn:
            rows = (await conn.execute(text("SELECT n FROM t ORDER BY n"))).scalars().all()
        assert rows == [1, 2]
    finally:
        await first.dispose()
        await second.dispose()


async def test_a_lock_never_released_fails_after_the_timeout(tmp_path: Path) -> None:
    path = tmp_path / "stuck.db"
    url = inline_url(db.make_url(f"sqlite+aiosqlite:///{path}"))
    holder = create_async_engine(url)
    waiter = create_async_engine(url, connect_args={"timeout": 0.3})
    try:
        async with holder.connect() as conn:
            await conn.execute(text("BEGIN IMMEDIATE"))
            await conn.execute(text("CREATE TABLE t (n INTEGER)"))
            started = time.monotonic()
            with pytest.raises(OperationalError, match="locked"):
                async with waiter.connect() as other:
                    await other.execute(text("BEGIN IMMEDIATE"))
            assert 0.3 <= time.monotonic() - started < 2
            await conn.execute(text("ROLLBACK"))
    finally:
        await holder.dispose()
        await waiter.dispose()
