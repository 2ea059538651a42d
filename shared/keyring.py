"""Each service's copy of the leads' data keys (`pii_keys`), and the consumers' side of it.

Scoring and handoff each run a consumer of `leads.keys` (group `<service>-keys`) that only
stores keys and tombstones, beside the consumer of their data topic. The data consumer
opens each event's personal fields with the stored key: an event whose key is not stored
yet raises RetryLater (the batch is retried, nothing is lost), one whose key was deleted
(the lead was erased) is skipped. Keys travel on their own consumer because a consumer of
both topics may hold a lead's data partition without its key partition (aiokafka assigns
round robin across topics): two replicas each waiting for a key the other holds, their key
writes rolled back with every retried batch, would wait forever. A deleted key leaves its
row with `key` NULL and `shredded_at` set, so a key record redelivered later never brings
it back.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Column, DateTime, LargeBinary, MetaData, String, Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from shared.clock import Clock
from shared.db import RetryLater, among
from shared.events import Event, KeyTombstone, LeadErased, LeadKeyIssued
from shared.pii import DataKey, KeyNotYetKnown, needs_key, open_event

log = logging.getLogger(__name__)


def keys_table(metadata: MetaData) -> Table:
    return Table(
        "pii_keys",
        metadata,
        Column("lead_id", String(36), primary_key=True),
        Column("kid", String(32), nullable=True),
        Column("key", LargeBinary, nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=True),
        Column("shredded_at", DateTime(timezone=True), nullable=True),
    )


def _insert(session: AsyncSession, table: Table) -> postgresql.Insert | sqlite.Insert:
    """INSERT with the dialect's ON CONFLICT (both spell it the same)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


FETCHED_MAX = 2_048
"""Keys kept in memory per process (~350 bytes each): enough to bridge the keys consumer's
fetch and its commit; 50,000 showed as ~20 MB of RSS growth in the soak."""

KEY_RETRY_SECONDS = 0.05
"""A data batch waiting for a key retries at least this often."""


class Keyring:
    """Queries on one service's `pii_keys` table; the caller owns the transaction."""

    wait_seconds: float = 30.0
    """How long an event may wait for its lead's key before it is dead-lettered: a key that
    never comes (a sealed event from elsewhere, a key record lost) must not stall the
    partition. Set from the `key_wait_seconds` setting when the service starts."""

    def __init__(self, table: Table) -> None:
        self._missing_since: dict[str, float] = {}
        self.table = table
        self.generation = 0
        """Counts commits of the keys consumer in this process (see `stored`)."""
        self._stored = asyncio.Event()
        self._fetched: dict[str, tuple[DataKey, datetime] | None] = {}
        """Keys (None: deleted) this process's keys consumer has read, committed or not: a
        data batch takes a key from here when the keys consumer has fetched it but not yet
        committed it, and stores it in its own transaction, instead of waiting for that
        commit (on SQLite both queue for one writer). Bounded; the table stays the truth
        for what it holds."""

    def stored(self) -> None:
        """The keys consumer committed a batch: wake the data consumers waiting for a key."""
        self.generation += 1
        event, self._stored = self._stored, asyncio.Event()
        event.set()

    def _remember(
        self, added: dict[str, tuple[DataKey, datetime]], deleted: Collection[str]
    ) -> None:
        if len(self._fetched) > FETCHED_MAX:  # the oldest half goes; the table has them
            for lead_id in list(itertools.islice(self._fetched, FETCHED_MAX // 2)):
                del self._fetched[lead_id]
        for lead_id, key in added.items():
            if self._fetched.get(lead_id, key) is not None:  # a deleted key stays deleted
                self._fetched[lead_id] = key
        for lead_id in deleted:
            self._fetched[lead_id] = None

    def fetched(self, events: Sequence[Event]) -> None:
        """The keys consumer's `peek`: keys and deletions as soon as they are read."""
        added: dict[str, tuple[DataKey, datetime]] = {}
        deleted: list[str] = []
        for event in events:
            if isinstance(event, LeadKeyIssued):
                added[event.data.lead_id] = (DataKey.of(event.data), event.data.created_at)
            elif isinstance(event, KeyTombstone) and event.subject:
                added.pop(event.subject, None)
                deleted.append(event.subject)
        self._remember(added, deleted)
        self.stored()  # wake data batches waiting for one of these

    def _waiter(self, generation: int) -> Callable[[], Awaitable[None]]:
        """Resolves once keys were stored after `generation`, or after a short while (the
        key may be stored by another replica's keys consumer, which does not wake us)."""

        async def wait() -> None:
            if self.generation != generation:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stored.wait(), KEY_RETRY_SECONDS)

        return wait

    async def add(self, session: AsyncSession, keys: dict[str, tuple[DataKey, datetime]]) -> None:
        """Store keys; a lead already known (or already shredded) keeps what it has."""
        if not keys:
            return
        # In lead_id order, here and in `shred`: the data consumer and the keys consumer
        # insert the same leads' keys at once, and on PostgreSQL rows taken in two orders
        # deadlocked (seen: a batch aborted after deadlock_timeout, a 1 s stall).
        rows = [
            {"lead_id": lead_id, "kid": k.kid, "key": k.key, "created_at": at}
            for lead_id, (k, at) in sorted(keys.items())
        ]
        stmt = _insert(session, self.table).on_conflict_do_nothing(index_elements=["lead_id"])
        await session.execute(stmt, rows)
        self._forget(session, keys)  # a lead known before keeps its own: read again if asked

    def _read(self, session: AsyncSession) -> dict[str, DataKey | None]:
        """What this transaction has read of the table (a lead absent: not read, or not
        there). A batch opens its events with the leads' keys and then seals what it
        publishes with the same keys: one query, not two. Dropped with the transaction, or
        with the savepoint it was read in (what a savepoint wrote may be rolled back)."""
        sync = session.sync_session
        txn = sync.get_nested_transaction() or sync.get_transaction()
        if txn is None:  # no transaction: nothing to scope a memo to
            return {}
        memo = session.info.get(self)
        if memo is None or memo[0] is not txn:
            memo = session.info[self] = (txn, {})
        return cast(dict[str, DataKey | None], memo[1])

    async def load(
        self, session: AsyncSession, lead_ids: Collection[str]
    ) -> dict[str, DataKey | None]:
        """The keys of the leads known here; None for a lead whose key was shredded."""
        if not lead_ids:
            return {}
        read = self._read(session)
        found = {i: read[i] for i in lead_ids if i in read}
        missing = [i for i in lead_ids if i not in read]
        if not missing:
            return found
        t = self.table
        rows = await session.execute(
            select(t.c.lead_id, t.c.kid, t.c.key).where(among(session, t.c.lead_id, missing))
        )
        fresh = {
            lead_id: DataKey(kid, bytes(key)) if key is not None else None
            for lead_id, kid, key in rows
        }
        read.update(fresh)
        return found | fresh

    async def shred(self, session: AsyncSession, lead_ids: Collection[str], at: datetime) -> None:
        """Delete the keys' material for good; the row remembers that the lead was erased."""
        if not lead_ids:
            return
        self._remember({}, lead_ids)
        stmt = _insert(session, self.table)
        stmt = stmt.on_conflict_do_update(
            index_elements=["lead_id"],
            set_={"kid": None, "key": None, "shredded_at": stmt.excluded.shredded_at},
        )
        await session.execute(stmt, [{"lead_id": i, "shredded_at": at} for i in sorted(lead_ids)])
        self._forget(session, lead_ids)

    def _forget(self, session: AsyncSession, lead_ids: Collection[str]) -> None:
        read = self._read(session)
        for lead_id in lead_ids:
            read.pop(lead_id, None)

    async def store_keys(
        self, session: AsyncSession, events: Sequence[Event], *, clock: Clock
    ) -> None:
        """The `leads.keys` consumer's handler: keys and tombstones, in order."""
        rest = await self.take_keys(session, events, clock.now())
        if rest:
            raise ValueError(f"not a key record: {rest[0].type}")

    async def take_keys(
        self, session: AsyncSession, events: Sequence[Event], now: datetime
    ) -> list[Event]:
        """Apply a batch's key records and tombstones (in order); the other events, opened.

        Events of erased leads are dropped; an event whose key is not here yet raises
        RetryLater, so the batch is tried again once the key has come."""
        added: dict[str, tuple[DataKey, datetime]] = {}
        shredded: set[str] = set()
        rest: list[Event] = []
        for event in events:
            if isinstance(event, LeadKeyIssued):
                lead_id = event.data.lead_id
                if lead_id not in shredded:
                    added.setdefault(lead_id, (DataKey.of(event.data), event.data.created_at))
            elif isinstance(event, KeyTombstone):
                if event.subject:
                    shredded.add(event.subject)
                    added.pop(event.subject, None)
            else:
                rest.append(event)
        self._remember(added, shredded)
        await self.add(session, added)
        await self.shred(session, shredded, now)
        wanted = {e.subject or "" for e in rest if needs_key(e)}
        generation = self.generation
        keys = await self.load(session, wanted)
        if len(keys) < len(wanted) and self._fetched:
            late = {i: self._fetched[i] for i in wanted - keys.keys() if i in self._fetched}
            keys.update({i: v[0] if v else None for i, v in late.items()})
            await self.add(session, {i: v for i, v in late.items() if v is not None})
        opened: list[Event] = []
        for event in rest:
            try:
                done = open_event(event, keys)
            except KeyNotYetKnown as exc:
                raise self._still_missing(event, exc, generation) from exc
            if self._missing_since:
                self._missing_since.pop(event.id, None)
            if done is None:
                log.info(
                    "event of an erased lead skipped",
                    extra={"lead_id": event.subject, "event_type": event.type},
                )
                continue
            opened.append(done)
        return opened

    def _still_missing(self, event: Event, exc: KeyNotYetKnown, generation: int) -> Exception:
        """RetryLater while the key may still come; KeyNeverCame (not transient: the event is
        isolated and dead-lettered, the partition goes on) once it waited `wait_seconds`."""
        now = time.monotonic()
        if len(self._missing_since) > 10_000:  # bounded: ids of events long dead-lettered
            self._missing_since.clear()
        since = self._missing_since.setdefault(event.id, now)
        if now - since < self.wait_seconds:
            return RetryLater(str(exc), wait=self._waiter(generation))
        return KeyNeverCame(  # the entry stays: the isolating retry must fail the same way
            f"no data key for lead {event.subject} after {self.wait_seconds:g}s on leads.keys"
        )


class KeyNeverCame(ValueError):
    """An event's key did not arrive in time: a poison message for the dead-letter topic."""


def erasures_table(metadata: MetaData) -> Table:
    """A downstream service's audit of erasures: which lead, which request, when done here."""
    return Table(
        "erasures",
        metadata,
        Column("erasure_id", String(36), primary_key=True),
        Column("lead_id", String(36), primary_key=True),
        Column("requested_at", DateTime(timezone=True), nullable=False),
        Column("applied_at", DateTime(timezone=True), nullable=False),
    )


async def record_erasures(
    session: AsyncSession, table: Table, erased: Sequence[LeadErased], at: datetime
) -> None:
    """Audit: which erasure request reached this service for which lead, and when."""
    rows = {
        (e.data.erasure_id, e.data.lead_id): {
            "erasure_id": e.data.erasure_id,
            "lead_id": e.data.lead_id,
            "requested_at": e.data.requested_at,
            "applied_at": at,
        }
        for e in erased
    }
    if rows:
        stmt = _insert(session, table).on_conflict_do_nothing()
        await session.execute(stmt, list(rows.values()))
    for e in erased:
        log.info(
            "erasure applied",
            extra={"audit": "erasure", "erasure_id": e.data.erasure_id, "lead_id": e.data.lead_id},
        )
