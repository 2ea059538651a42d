"""Table upkeep on a PostgreSQL server that does none: what autovacuum would do.

PostgreSQL's autovacuum VACUUMs a table once 50 rows plus 20% of it are dead, and ANALYZEs
it once 50 rows plus 10% changed. A server with autovacuum off (this project's CI machine
has it off) never does either:

- each table keeps the statistics it was created with, none, and the planner guesses. In
  the PostgreSQL soak it cancelled one lead's SLA timers through the index on (fired_at,
  cancelled_at, due_at), reading every pending timer: 40 ms a statement at 40k timers
  instead of 0.08 ms, and handoff fell further behind every minute;
- dead rows (every outbox row is updated once, when sent) are never reclaimed, and with no
  visibility map an index-only scan (the open-lead count per rep) reads every row it counts.

So when the server's `autovacuum` is off, each service applies autovacuum's default rules to
its own schema's tables, checked every `pg_upkeep_seconds`; when it is on, it leaves them to
the server.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

BASE_ROWS = 50  # autovacuum_vacuum_threshold and autovacuum_analyze_threshold's default
VACUUM_SCALE = 0.2  # autovacuum_vacuum_scale_factor's default
ANALYZE_SCALE = 0.1  # autovacuum_analyze_scale_factor's default

_AUTOVACUUM = text("select current_setting('autovacuum')")
# The scale factors are cast: an untyped parameter beside a bigint is taken as a bigint, and
# asyncpg encodes 0.2 as a bigint without complaint, as 0.
_DUE = text(
    "select relname,"
    " n_dead_tup > :base + cast(:vacuum as float8) * greatest(n_live_tup, 0) as vacuum"
    " from pg_stat_user_tables where schemaname = :schema"
    " and (n_dead_tup > :base + cast(:vacuum as float8) * greatest(n_live_tup, 0)"
    " or n_mod_since_analyze > :base + cast(:analyze as float8) * greatest(n_live_tup, 0))"
    " order by relname"
)


async def upkeep(engine: AsyncEngine, schema: str) -> dict[str, str]:
    """VACUUM (ANALYZE) or ANALYZE the tables of `schema` that autovacuum's rules say are
    due: {table: what was done}. Nothing when the server's autovacuum is on."""
    async with engine.connect() as conn:
        if (await conn.execute(_AUTOVACUUM)).scalar_one() == "on":
            return {}
        params = {
            "schema": schema,
            "base": BASE_ROWS,
            "vacuum": VACUUM_SCALE,
            "analyze": ANALYZE_SCALE,
        }
        due = {name: bool(vacuum) for name, vacuum in await conn.execute(_DUE, params)}
    if not due:
        return {}
    done: dict[str, str] = {}
    # VACUUM cannot run inside a transaction block.
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        quote = conn.dialect.identifier_preparer.quote
        for name, vacuum in due.items():
            what = "VACUUM (ANALYZE)" if vacuum else "ANALYZE"
            await conn.execute(text(f"{what} {quote(schema)}.{quote(name)}"))
            done[name] = what
    return done


async def keep_tables(engine: AsyncEngine, schema: str, every: float) -> None:
    """Run `upkeep` every `every` seconds until cancelled; failures are logged (the
    database may be down: the next round tries again)."""
    while True:
        await asyncio.sleep(every)
        try:
            done = await upkeep(engine, schema)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("upkeep of %s's tables failed: %s", schema, exc)
            continue
        if done:
            log.info("upkeep of %s (the server's autovacuum is off): %s", schema, done)
