"""Alembic, run from code: each service upgrades its own schema on start.

One alembic.ini with a section per service (`alembic -n intake upgrade head`); each
service's env.py calls `run_env` with its metadata and schema.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command, context
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(service: str, url: str | None = None) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"), ini_section=service)
    cfg.set_main_option("script_location", str(ROOT / "services" / service / "migrations"))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def run_env(metadata: Any, schema: str) -> None:
    """The body of every service's env.py."""
    config = context.config
    connection: Connection | None = config.attributes.get("connection")
    if connection is None:  # the alembic CLI: make a sync connection from the URL
        url = config.get_main_option("sqlalchemy.url") or ""
        sync_url = url.replace("+asyncpg", "+psycopg").replace("+aiosqlite", "")
        with create_engine(sync_url).begin() as conn:
            _configure_and_run(conn, metadata, schema)
        return
    _configure_and_run(connection, metadata, schema)


def _configure_and_run(connection: Connection, metadata: Any, schema: str) -> None:
    postgres = connection.dialect.name == "postgresql"
    if postgres:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        # op.alter_* and raw SQL in migrations do not see schema_translate_map: the search
        # path makes unqualified names mean this service's schema for the migration.
        connection.execute(text(f'SET LOCAL search_path TO "{schema}", public'))
        connection = connection.execution_options(schema_translate_map={None: schema})
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=f"alembic_version_{schema}",
        version_table_schema=schema if postgres else None,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def upgrade(engine: AsyncEngine, service: str) -> None:
    """Apply the service's migrations over the service's own engine."""
    cfg = alembic_config(service)

    def _run(sync_conn: Connection) -> None:
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, "head")

    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Two replicas starting at once must not both run the migration.
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:s))"),
                {"s": f"leadrelay-migrate-{service}"},
            )
        await conn.run_sync(_run)
