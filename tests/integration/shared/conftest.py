"""Fixtures for the tests of shared/: each case on SQLite and on PostgreSQL."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine

from shared import db


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/shared.db"
    return str(request.getfixturevalue("pg_url"))


@contextlib.asynccontextmanager
async def tables_on(url: str, schema: str, metadata: MetaData) -> AsyncIterator[AsyncEngine]:
    """An engine on `url` with `metadata`'s tables created afresh (in `schema` on
    PostgreSQL), disposed of after."""
    engine = db.create_engine(url, schema=schema)
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            await conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        await conn.run_sync(metadata.create_all)
    try:
        yield engine
    finally:
        await engine.dispose()
