"""`db.among`: IN for lists whose length varies. The same rows as IN on both databases; on
PostgreSQL one statement text whatever the length (an IN list is a new statement per
length, which asyncpg prepares again per connection: a round trip on most batches)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, String, Table, event, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared import db

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


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/among.db"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
async def engine(any_db: str) -> AsyncIterator[AsyncEngine]:
    engine = db.create_engine(any_db, schema="among")
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.exec_driver_sql("DROP SCHEMA IF EXISTS among CASCADE")
            await conn.exec_driver_sql("CREATE SCHEMA among")
        await conn.run_sync(metadata.create_all)
        await conn.execute(things.insert(), ROWS)
    yield engine
    await engine.dispose()


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
