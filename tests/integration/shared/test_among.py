"""`db.among`: IN for lists whose length varies. The same rows as IN on both databases; on
PostgreSQL one statement text whatever the length (an IN list is a new statement per
length, which asyncpg prepares again per connection: a round trip on most batches)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import Column, Integer, String, Table, event, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared import db
from tests.integration.shared.conftest import tables_on

metadata = db.new_metadata()
things = Table(
    "things",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(36), nullable=True),
    Column("code", String(4), nullable=True),
)
ROWS = [
    {"id": i, "name": f"n{i}" if i != 4 else None, "code": "abcd" if i == 1 else f"c{i}"}
    for i in range(1, 6)
]


@pytest.fixture
async def engine(any_db: str) -> AsyncIterator[AsyncEngine]:
    async with tables_on(any_db, "among", metadata) as engine:
        async with engine.begin() as conn:
            await conn.execute(things.insert(), ROWS)
        yield engine


@pytest.mark.parametrize(
    ("column", "values"),
    [
        ("id", []),
        ("id", [3]),
        ("id", [5, 1, 3, 99]),
        ("name", ["n2", "n4", "nope"]),
        ("code", ["abcdef", "c2"]),  # longer than the column: no match, never cut to "abcd"
        ("name", []),
    ],
)
@pytest.mark.parametrize("negate", [False, True])
async def test_the_same_rows_as_in(
    engine: AsyncEngine, column: str, values: list[Any], negate: bool
) -> None:
    col = things.c[column]
    expected = col.not_in(values) if negate else col.in_(values)
    sessions = async_sessionmaker(engine, class_=AsyncSession)
    async with sessions() as s:
        got = await s.execute(select(things.c.id).where(db.among(s, col, values, negate=negate)))
        want = await s.execute(select(things.c.id).where(expected))
        assert sorted(got.scalars()) == sorted(want.scalars())


async def test_one_statement_text_whatever_the_length_on_postgresql(engine: AsyncEngine) -> None:
    texts: set[str] = set()

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "things" in statement:
            texts.add(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    sessions = async_sessionmaker(engine, class_=AsyncSession)
    async with sessions() as s:
        for n in (1, 2, 5):
            await s.execute(select(things.c.id).where(db.among(s, things.c.id, range(n))))
    assert len(texts) == (1 if engine.dialect.name == "postgresql" else 3)
