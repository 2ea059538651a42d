"""The async database layer: naming convention, engines per dialect, the transaction edge.

Each service owns its tables. On PostgreSQL they live in the service's own schema
(`schema_translate_map`), so one database can host all three; on SQLite they are plain
tables in the service's own file.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    MetaData,
    String,
    all_,
    any_,
    bindparam,
    event,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

from shared.sqlite_inline import inline_url

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

READ_ONLY_OPTION = "leadrelay_read_only"
PING_IDLE_SECONDS = 1.0
"""A pooled PostgreSQL connection idle this long is pinged before use (see _ping_when_idle)."""
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def new_metadata() -> MetaData:
    """One MetaData per service, so two services' tables never share a namespace."""
    return MetaData(naming_convention=NAMING_CONVENTION)


def is_sqlite(url_or_engine: str | AsyncEngine) -> bool:
    url = url_or_engine if isinstance(url_or_engine, str) else str(url_or_engine.url)
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, schema: str, pool_size: int = 10) -> AsyncEngine:
    """An engine that puts this service's tables in `schema` on PostgreSQL."""
    if not _SCHEMA_NAME.match(schema):
        raise ValueError(f"invalid schema name {schema!r}")
    parsed = make_url(url)
    # Error messages never quote statement parameters: they hold personal data, and an
    # error's text reaches logs and dead-letter headers.
    kwargs: dict[str, Any] = {"hide_parameters": True}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 30}
        # One connection for writers: they queue in the pool (awaiting, in order) instead of
        # meeting at SQLite's lock. Readers get their own engine. Statements run on the
        # event loop's thread (see shared/sqlite_inline.py).
        kwargs.update(pool_size=1, max_overflow=0, pool_timeout=30)
        engine = _create_async_engine(inline_url(parsed), **kwargs)
        _sqlite_serialise_writers(engine)
        return engine
    kwargs.update(pool_size=pool_size, max_overflow=pool_size)
    if parsed.get_driver_name() == "asyncpg":
        # Each connection keeps its prepared statements, and an IN list or a multi-row
        # insert is a new statement per length: 100 (the default) across 20 connections
        # was ~40 MB that the soak saw as growth. 32 keeps the hot ones.
        kwargs["connect_args"] = {"prepared_statement_cache_size": 32}
    engine = _create_async_engine(url, **kwargs)
    _ping_when_idle(engine)
    return engine.execution_options(schema_translate_map={None: schema})


def _ping_when_idle(engine: AsyncEngine, idle_seconds: float = PING_IDLE_SECONDS) -> None:
    """pool_pre_ping, for connections that sat in the pool `idle_seconds` or more.

    SQLAlchemy's pre-ping on asyncpg is BEGIN, an empty query and ROLLBACK: three round
    trips on every checkout, ~300 a second under the 200 leads/s benchmark. A connection
    used a moment ago is not pinged: if its server went away since, its first statement
    fails as a disconnect, SQLAlchemy invalidates the whole pool, and that unit of work is
    retried like any other transient error (a consumer's batch; a request's 503)."""

    @event.listens_for(engine.sync_engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < idle_seconds:
            return
        try:
            dbapi_connection.ping()
        except Exception as exc:  # the pool discards it and checks out another
            raise DisconnectionError(f"idle connection failed its ping: {exc!r}") from exc


def _sqlite_serialise_writers(engine: AsyncEngine) -> None:
    """BEGIN IMMEDIATE: a writer takes the lock up front instead of deadlocking on upgrade."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Readers that never write ask for a deferred BEGIN: in WAL mode they take no lock.
        deferred = conn.get_execution_options().get(READ_ONLY_OPTION)
        conn.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def create_read_engine(url: str, *, schema: str, write_engine: AsyncEngine) -> AsyncEngine:
    """The engine reads use. SQLite: its own pool of deferred (lock-free in WAL) readers,
    so reads never queue behind the single writer. PostgreSQL: the write engine itself."""
    if not is_sqlite(url):
        return write_engine
    engine = _create_async_engine(
        inline_url(make_url(url)),
        connect_args={"timeout": 30},
        pool_size=5,
        max_overflow=5,
        hide_parameters=True,
    )
    _sqlite_serialise_writers(engine)
    return engine.execution_options(**{READ_ONLY_OPTION: True})


def read_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for reads only: on SQLite they never wait for, or hold, the write lock."""
    return async_sessionmaker(
        engine.execution_options(**{READ_ONLY_OPTION: True}),
        expire_on_commit=False,
        autoflush=False,
    )


@asynccontextmanager
async def transaction(
    factory: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """The one place a unit of work commits (or rolls back)."""
    async with factory() as session, session.begin():
        yield session


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


def among(
    session: AsyncSession,
    column: ColumnElement[Any],
    values: Iterable[Any],
    *,
    negate: bool = False,
) -> ColumnElement[bool]:
    """`column IN values` (`NOT IN` with `negate`) for a list whose length varies per call.

    On PostgreSQL it is `column = ANY($1)` with the list as one array parameter: one
    statement text whatever the length. An IN list is a new statement for every length, and
    asyncpg prepares each statement text per connection (a round trip), keeping only the
    last hundred: a consumer's batches, every one a different size, prepared their queries
    again on most batches."""
    values = list(values)
    if session.get_bind().dialect.name != "postgresql":
        return column.not_in(values) if negate else column.in_(values)
    item = column.type
    if isinstance(item, String) and item.length is not None:
        item = String()  # `::VARCHAR(36)[]` would cut a longer value down and match it
    array = bindparam(None, values, type_=ARRAY(item))
    return column != all_(array) if negate else column == any_(array)


class RetryLater(Exception):
    """Raise to say "not now, retry the whole unit of work" (a consumed batch is retried,
    not dead-lettered; an HTTP request gets 503 with Retry-After).

    `wait`, if given, resolves when a retry is worth trying (say, once the awaited record
    has been stored): a consumer retries then, instead of backing off."""

    def __init__(self, *args: object, wait: Callable[[], Awaitable[None]] | None = None) -> None:
        super().__init__(*args)
        self.wait = wait


# PostgreSQL's SQLSTATEs that say "do it again", never "this message is bad": a transaction
# that lost a race (deadlock_detected, serialization_failure), a lock not available, and a
# server going away (57P01-57P03: shutdown, crash, cannot connect now; class 08, below).
_LOST_RACE = frozenset({"40P01", "40001"})
_RETRY_SQLSTATES = _LOST_RACE | {"55P03", "57P01", "57P02", "57P03"}


def lost_race(exc: BaseException) -> bool:
    """PostgreSQL aborted the transaction for another's sake (deadlock, serialization):
    doing the same work again is the fix."""
    return sqlstate(exc) in _LOST_RACE


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error (PostgreSQL's drivers carry it), else None."""
    orig = getattr(exc, "orig", None)
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return code if isinstance(code, str) else None


def is_transient(exc: BaseException) -> bool:
    """Errors worth retrying the whole unit of work for, rather than dead-lettering a message."""
    if isinstance(exc, RetryLater):
        return True
    if isinstance(exc, IntegrityError):
        return True  # a concurrent replica won the race; a retry sees its inbox row
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        # asyncpg's errors all reach SQLAlchemy as its generic DBAPIError: a deadlock between
        # two consumers' transactions is no reason to dead-letter either one's events.
        code = sqlstate(exc)
        if code is not None and (code in _RETRY_SQLSTATES or code.startswith("08")):
            return True
    return isinstance(exc, OSError | TimeoutError | ConnectionError)
