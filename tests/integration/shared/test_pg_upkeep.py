"""On a PostgreSQL server with autovacuum off, a service vacuums and analyzes its own tables
by autovacuum's rules, and only those that are due; with autovacuum on it leaves them alone."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared import db
from shared.pg_upkeep import upkeep
from tests.infra import eventually

SCHEMA = "upkeepdemo"
STATS = (
    "select n_mod_since_analyze, n_dead_tup, last_vacuum is not null as vacuumed"
    " from pg_stat_user_tables where schemaname = :s and relname = :t"
)


@pytest.fixture
async def engine(pg_url: str) -> AsyncIterator[AsyncEngine]:
    engine = db.create_engine(pg_url, schema=SCHEMA)
    async with engine.begin() as conn:
        await conn.execute(text(f"create schema {SCHEMA}"))
        for table in ("grown", "churned", "quiet"):
            await conn.execute(text(f"create table {SCHEMA}.{table} (id int primary key, v int)"))
        await conn.execute(text(f"insert into {SCHEMA}.grown select generate_series(1, 1000), 0"))
        await conn.execute(text(f"insert into {SCHEMA}.quiet values (1, 0)"))
        await conn.execute(text(f"create table {SCHEMA}.touched (id int primary key, v int)"))
    async with engine.connect() as conn:  # settle `churned` and `touched`, then update them
        for table in ("churned", "touched"):
            await conn.execute(
                text(f"insert into {SCHEMA}.{table} select generate_series(1, 1000), 0")
            )
        await conn.commit()
    # The inserts reach the statistics first, or they would count as changes after ANALYZE.
    await eventually(lambda: _inserts_reported(engine), interval=0.2)
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f"vacuum analyze {SCHEMA}.churned, {SCHEMA}.touched"))
    async with engine.begin() as conn:
        await conn.execute(text(f"update {SCHEMA}.churned set v = 1"))
        # 100 dead rows of 1,000: past the 50-row base, short of 50 + 20% (or 10%) of 1,000.
        await conn.execute(text(f"update {SCHEMA}.touched set v = 1 where id <= 100"))
    yield engine
    await engine.dispose()


async def _stats(engine: AsyncEngine, table: str) -> tuple[int, int, bool]:
    async with engine.connect() as conn:
        row = (await conn.execute(text(STATS), {"s": SCHEMA, "t": table})).one()
        return int(row[0]), int(row[1]), bool(row[2])


async def _inserts_reported(engine: AsyncEngine) -> bool:
    return all([(await _stats(engine, t))[0] >= 1000 for t in ("churned", "touched")])


async def _reported(engine: AsyncEngine) -> bool:
    """The statistics collector has the counts (a backend reports within about a second)."""
    grown, churned = await _stats(engine, "grown"), await _stats(engine, "churned")
    touched = await _stats(engine, "touched")
    return grown[0] >= 1000 and churned[1] >= 1000 and touched[1] >= 100


async def test_tables_are_vacuumed_and_analyzed_by_autovacuums_rules(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        autovacuum = (await conn.execute(text("show autovacuum"))).scalar_one()
    await eventually(lambda: _reported(engine), interval=0.2)
    done = await upkeep(engine, SCHEMA)
    if autovacuum == "on":
        assert done == {}  # the server's own job
        return
    # `quiet` (1 row) is under the 50-row thresholds; `grown` only changed; every row of
    # `churned` is dead once; `touched` is under the scale factors (they are fractions: an
    # untyped parameter beside a bigint once made them 0).
    assert done == {"churned": "VACUUM (ANALYZE)", "grown": "ANALYZE"}
    assert (await _stats(engine, "grown"))[0] == 0
    modified, dead, vacuumed = await _stats(engine, "churned")
    assert (modified, dead, vacuumed) == (0, 0, True)
    async with engine.connect() as conn:
        estimate = (
            await conn.execute(
                text("select reltuples from pg_class where oid = cast(:t as regclass)"),
                {"t": f"{SCHEMA}.grown"},
            )
        ).scalar_one()
    assert estimate == 1000
    assert await upkeep(engine, SCHEMA) == {}  # nothing due since
