"""SQLite on the event loop's own thread, behind SQLAlchemy's async API.

aiosqlite runs every statement on a worker thread and hands the result back through the
event loop: measured here (2 vCPUs, idle) at 0.25-0.45 ms per statement, against 0.02 ms
for the same statement through SQLAlchemy on the calling thread. A consumer's batch is a
dozen statements, so the thread hops were most of a pipeline hop's time. A statement on a
local file takes microseconds; running it inline costs the loop less than the hop did.

What must never happen inline is SQLite's busy handler sleeping on the loop's thread:
the lock's holder may be a transaction of this very process, suspended at an `await`,
that can only finish once the loop runs again. So connections get `busy_timeout=0`, and a
statement that finds the database locked waits with `asyncio.sleep` (the loop goes on)
and is tried again, for up to `timeout` seconds (the URL's, as with sqlite3). Retrying one
statement is sound here: writers take the lock up front (`BEGIN IMMEDIATE`, see
`shared.db`), so SQLITE_BUSY can only come from that BEGIN, from a reader's first step, or
from a COMMIT, each of which may simply be repeated.

Used for every `sqlite` URL (`sqlite+aiosqlite://...` included) by `shared.db`.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import pool
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine.url import URL
from sqlalchemy.util import await_

DRIVER = "leadrelay_inline"
DEFAULT_TIMEOUT = 30.0
_FIRST_PAUSE = 0.001
_MAX_PAUSE = 0.05

T = TypeVar("T")


async def _switched() -> None:
    """Returns at once (it does not yield to the loop)."""


def _busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(exc) or "busy" in str(exc)


class _Cursor(sqlite3.Cursor):
    async def _async_soft_close(self) -> None:
        """SQLAlchemy's async results call this; rows here are read on demand, inline."""


class _Connection(sqlite3.Connection):
    def cursor(self, factory: Any = _Cursor) -> Any:
        return super().cursor(factory)


class SQLiteDialect_inline(SQLiteDialect_pysqlite):
    """pysqlite (the standard library's sqlite3), declared async: SQLAlchemy's async layer
    runs it in a greenlet that never has to switch, except to wait out a lock."""

    driver = DRIVER
    is_async = True
    supports_statement_cache = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lock_timeout = DEFAULT_TIMEOUT

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        if cls._is_url_file_db(url):
            return pool.AsyncAdaptedQueuePool
        return pool.StaticPool

    def connect(self, *cargs: Any, **cparams: Any) -> Any:
        """`timeout` (the URL's or connect_args') bounds the wait for a lock, done here."""
        self.lock_timeout = float(cparams.pop("timeout", DEFAULT_TIMEOUT))
        cparams["timeout"] = 0  # never sleep in SQLite's busy handler (see the module doc)
        cparams["check_same_thread"] = False  # the pool may close it from another thread
        cparams["factory"] = _Connection
        return super().connect(*cargs, **cparams)

    def on_connect(self) -> Callable[[Any], None]:
        inherited = super().on_connect()

        def connect(conn: Any) -> None:
            inherited(conn)
            conn.execute("PRAGMA busy_timeout=0")

        return connect

    def _patiently(self, attempt: Callable[[], T]) -> T:
        await_(_switched())  # SQLAlchemy's AsyncConnection.execute insists on one await
        deadline = None
        pause = _FIRST_PAUSE
        while True:
            try:
                return attempt()
            except sqlite3.OperationalError as exc:
                if not _busy(exc):
                    raise
                now = time.monotonic()
                deadline = deadline or now + self.lock_timeout
                if now >= deadline:
                    raise
                await_(asyncio.sleep(pause))
                pause = min(pause * 2, _MAX_PAUSE)

    def do_execute(self, cursor: Any, statement: str, parameters: Any, context: Any = None) -> None:
        self._patiently(lambda: cursor.execute(statement, parameters))

    def do_execute_no_params(self, cursor: Any, statement: str, context: Any = None) -> None:
        self._patiently(lambda: cursor.execute(statement))

    def do_executemany(
        self, cursor: Any, statement: str, parameters: Any, context: Any = None
    ) -> None:
        self._patiently(lambda: cursor.executemany(statement, parameters))

    def do_commit(self, dbapi_connection: Any) -> None:
        self._patiently(dbapi_connection.commit)

    def do_terminate(self, dbapi_connection: Any) -> None:
        dbapi_connection.close()

    def get_driver_connection(self, connection: Any) -> Any:
        return connection


registry.register(f"sqlite.{DRIVER}", __name__, "SQLiteDialect_inline")


def inline_url(url: URL) -> URL:
    """The same database, through this dialect."""
    return url.set(drivername=f"sqlite+{DRIVER}")
