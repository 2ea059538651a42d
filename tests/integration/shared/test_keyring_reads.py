"""A transaction reads a lead's key once: a handoff batch opens its events with the keys and
seals the briefs it publishes with the same keys (one query, not two). What the transaction
writes, and anything after it, is read again."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared import db
from shared.keyring import Keyring, keys_table
from shared.pii import DataKey
from tests.integration.shared.conftest import tables_on

metadata = db.new_metadata()
table = keys_table(metadata)
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


@pytest.fixture
async def engine(any_db: str) -> AsyncIterator[AsyncEngine]:
    async with tables_on(any_db, "keyring_reads", metadata) as engine:
        yield engine


def _count_key_reads(engine: AsyncEngine) -> list[str]:
    reads: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "pii_keys" in statement:
            reads.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    return reads


async def test_a_transaction_reads_each_key_once_and_again_after_writing_it(
    engine: AsyncEngine,
) -> None:
    keyring = Keyring(table)
    a, b = DataKey.new(), DataKey.new()
    sessions = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
    async with sessions() as s, s.begin():
        await keyring.add(s, {"a": (a, NOW), "b": (b, NOW)})
    reads = _count_key_reads(engine)

    async with sessions() as s, s.begin():
        assert await keyring.load(s, {"a", "b"}) == {"a": a, "b": b}
        assert await keyring.load(s, {"a"}) == {"a": a}  # opened, then sealed: one query
        assert len(reads) == 1
        assert await keyring.load(s, {"a", "c"}) == {"a": a}  # only "c" is asked for
        assert len(reads) == 2
        await keyring.shred(s, {"b"}, NOW)
        assert await keyring.load(s, {"b"}) == {"b": None}  # written here: read again
        assert len(reads) == 3

    async with sessions() as s, s.begin():  # a new transaction reads afresh
        assert await keyring.load(s, {"a", "b"}) == {"a": a, "b": None}
        assert len(reads) == 4


async def test_what_a_savepoint_read_is_read_again_after_it(engine: AsyncEngine) -> None:
    """A key stored and read inside a savepoint that rolls back must not be taken as known
    afterwards (the consumer isolates a poison event in a savepoint of its own)."""
    keyring = Keyring(table)
    a = DataKey.new()
    sessions = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
    async with sessions() as s, s.begin():
        with contextlib.suppress(RuntimeError):
            async with s.begin_nested():
                await keyring.add(s, {"a": (a, NOW)})
                assert await keyring.load(s, {"a"}) == {"a": a}
                raise RuntimeError("this event is poison")
        assert await keyring.load(s, {"a"}) == {}  # rolled back with its savepoint
