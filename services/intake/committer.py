"""Group commit for single-lead posts: concurrent requests share one transaction.

Each POST /v1/leads still answers 202 only after its lead and outbox row are committed,
but the requests that arrive while a transaction is being written go into the next one
together, through the same bulk path a batch chunk takes (a few statements per group,
not per lead). A group that fails for one bad submission is retried one by one, so the
others are unaffected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.intake import service
from services.intake.dedupe import Outcome, Submission
from services.intake.schemas import LeadIn
from shared.db import is_transient, lost_race
from shared.problems import Unavailable

log = logging.getLogger(__name__)

RACE_TRIES = 3
"""Writes of a group PostgreSQL aborted for a deadlock or a serialization failure, before
its requests are answered 503."""


@dataclass
class _Pending:
    submission: Submission
    traceparent: str | None
    done: asyncio.Future[Outcome] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class GroupCommitter:
    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        ctx: service.Intake,
        on_commit: Callable[[], None],
        channel: str = "api",
        max_group: int = 200,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.ctx = ctx
        self.on_commit = on_commit
        self.channel = channel
        self.max_group = max_group
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._stopping = False

    async def submit(
        self, lead: LeadIn, *, idempotency_key: str | None, traceparent: str | None
    ) -> Outcome:
        """Queue one lead; return once it is committed (or raise what stopped it)."""
        if self._stopping:
            raise Unavailable("intake is shutting down", retry_after=1)
        pending = _Pending(Submission(lead, idempotency_key), traceparent)
        await self._queue.put(pending)
        return await pending.done

    async def run(self) -> None:
        while not self._stopping or not self._queue.empty():
            try:
                first = await asyncio.wait_for(self._queue.get(), timeout=0.5)
            except TimeoutError:
                continue
            group = [first]
            while len(group) < self.max_group and not self._queue.empty():
                group.append(self._queue.get_nowait())
            await self._commit_group(group)

    def stop(self) -> None:
        self._stopping = True

    async def _commit_group(self, group: list[_Pending], *, tries: int = 1) -> None:
        try:
            outcomes = await self._write(group)
        except Exception as exc:
            if lost_race(exc) and tries < RACE_TRIES:  # not the leads' fault, nor a 503's
                log.info("group of %d lost a race (%s); writing it again", len(group), exc)
                await self._commit_group(group, tries=tries + 1)
                return
            if len(group) == 1 or is_transient(exc):
                for p in group:
                    if not p.done.done():
                        p.done.set_exception(exc)
                return
            log.info("group of %d failed (%s); committing one by one", len(group), exc)
            for p in group:
                await self._commit_group([p])
            return
        for p, outcome in zip(group, outcomes, strict=True):
            if not p.done.done():
                p.done.set_result(outcome)

    async def _write(self, group: list[_Pending]) -> list[Outcome]:
        async with self.sessionmaker() as session, session.begin():
            outcomes = await service.accept_leads(
                session,
                [p.submission for p in group],
                self.ctx,
                channel=self.channel,
                traceparents=[p.traceparent for p in group],
            )
        self.on_commit()
        return outcomes

    async def drain(self) -> None:
        """On shutdown: stop taking new leads, finish what was queued."""
        self.stop()
        while not self._queue.empty():
            with contextlib.suppress(Exception):
                await self._commit_group([self._queue.get_nowait()])
