"""What every service runs beside its HTTP routes: engine, migrations, relay, consumers.

`Runtime` is built in a service's `create_app` lifespan and torn down there; nothing
connects at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared import db, kafka, migrations, pg_upkeep
from shared.consumer import BatchHandler, Consumer, Handler
from shared.events import Event
from shared.inbox import Inbox, inbox_table
from shared.outbox import Outbox, Relay, outbox_table
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Plumbing:
    """A service's outbox and inbox tables, declared on its own metadata."""

    outbox: Outbox
    inbox: Inbox

    @classmethod
    def on(cls, metadata: MetaData) -> Plumbing:
        return cls(Outbox(outbox_table(metadata)), Inbox(inbox_table(metadata)))


@dataclass
class Runtime:
    settings: ServiceSettings
    plumbing: Plumbing
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    relay: Relay
    read_sessionmaker: async_sessionmaker[AsyncSession]
    consumers: list[Consumer] = field(default_factory=list)
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    maintenance: list[asyncio.Task[Any]] = field(default_factory=list)
    """Loops with no state of their own to finish (cancelled first on stop)."""

    @classmethod
    def build(cls, settings: ServiceSettings, plumbing: Plumbing) -> Runtime:
        engine = db.create_engine(settings.database_url, schema=settings.service)
        readers = db.read_sessionmaker(
            db.create_read_engine(
                settings.database_url, schema=settings.service, write_engine=engine
            )
        )
        sm = db.sessionmaker(engine)

        async def producer_factory() -> Any:
            await kafka.ensure_topics(settings)
            return await kafka.start_producer(settings)

        relay = Relay(
            service=settings.service,
            table=plumbing.outbox.table,
            sessionmaker=sm,
            producer_factory=producer_factory,
            batch_size=settings.outbox_batch_size,
            poll_seconds=settings.outbox_poll_seconds,
            read_sessions=readers,
            send_timeout=settings.kafka_request_timeout_ms / 1000 + 5,
        )
        return cls(settings, plumbing, engine, sm, relay, readers)

    def consume(
        self,
        topics: Sequence[str],
        *,
        group: str,
        handler: Handler | None = None,
        batch_handler: BatchHandler | None = None,
        on_commit: Callable[[], None] | None = None,
        peek: Callable[[Sequence[Event]], None] | None = None,
        idempotent: bool = False,
    ) -> Consumer:
        """Register a consume loop: `handler` per event, or `batch_handler` per batch;
        `on_commit` runs after each batch's transaction commits (besides waking the relay)."""
        wake = self.relay.wake
        if on_commit is not None:
            extra = on_commit

            def wake() -> None:
                self.relay.wake()
                extra()

        consumer = Consumer(
            settings=self.settings,
            topics=topics,
            group=group,
            handler=handler,
            batch_handler=batch_handler,
            sessionmaker=self.sessionmaker,
            inbox=self.plumbing.inbox,
            outbox=self.plumbing.outbox,
            on_commit=wake,
            peek=peek,
            idempotent=idempotent,
        )
        self.consumers.append(consumer)
        return consumer

    async def migrate(self) -> None:
        """Bring the service's schema to head; must succeed before anything else runs."""
        await migrations.upgrade(self.engine, self.settings.service)

    async def start(self) -> None:
        """Start the relay and the consumers; they retry on their own while deps are down."""
        self.tasks.append(asyncio.create_task(self.relay.run(), name="outbox-relay"))
        for c in self.consumers:
            self.tasks.append(asyncio.create_task(c.run(), name=f"consumer-{c.group}"))
        every = self.settings.pg_upkeep_seconds
        if every > 0 and not db.is_sqlite(self.engine):
            self.maintenance.append(
                asyncio.create_task(
                    pg_upkeep.keep_tables(self.engine, self.settings.service, every),
                    name="pg-upkeep",
                )
            )

    def background(self, coro: Any, name: str) -> None:
        self.tasks.append(asyncio.create_task(coro, name=name))

    async def stop(self) -> None:
        for task in self.maintenance:
            task.cancel()
        for task in self.maintenance:
            with contextlib.suppress(BaseException):
                await task
        self.relay.stop()
        for c in self.consumers:
            c.stop()
        if self.tasks:
            _, pending = await asyncio.wait(self.tasks, timeout=kafka.STOP_TIMEOUT_SECONDS)
            for t in pending:
                t.cancel()
            for t in pending:
                with contextlib.suppress(BaseException):
                    await t
        if self.relay.producer is not None:
            await kafka.stop_quietly(self.relay.producer)
        await self.engine.dispose()
        read_engine = self.read_sessionmaker.kw["bind"]
        if read_engine is not self.engine:
            await read_engine.dispose()

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        checks: dict[str, Any] = {}
        ok = True
        try:
            await asyncio.wait_for(db.ping(self.engine), timeout=3)
            checks["database"] = "ok"
        except Exception as exc:
            ok = False
            checks["database"] = f"unreachable: {type(exc).__name__}"
        broker = await kafka.broker_reachable(self.relay.producer)
        checks["broker"] = "ok" if broker else f"unreachable: {self.relay.last_error or 'starting'}"
        ok = ok and broker
        with contextlib.suppress(Exception):
            checks["outbox_backlog"] = await asyncio.wait_for(self.relay.backlog(), timeout=3)
        if self.consumers:
            checks["consumers"] = {
                c.group: "assigned" if c.healthy else ("stalled" if c.running else "joining")
                for c in self.consumers
            }
            ok = ok and all(c.healthy for c in self.consumers)
        return ok, checks
