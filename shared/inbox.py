"""The inbox: which events a consumer already processed. A unique key makes twice impossible."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, MetaData, String, Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import among


def inbox_table(metadata: MetaData) -> Table:
    return Table(
        "inbox_messages",
        metadata,
        Column("event_id", String(255), primary_key=True),
        Column("topic", String(255), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False),
    )


class Inbox:
    def __init__(self, table: Table) -> None:
        self.table = table

    async def seen(self, session: AsyncSession, event_ids: Collection[str]) -> set[str]:
        """The ids among `event_ids` already processed."""
        if not event_ids:
            return set()
        t = self.table
        rows = await session.execute(
            select(t.c.event_id).where(among(session, t.c.event_id, event_ids))
        )
        return {r[0] for r in rows}

    async def record(self, session: AsyncSession, topics_by_id: Mapping[str, str]) -> None:
        """Mark processed; a concurrent replica's duplicate fails with IntegrityError on commit."""
        if not topics_by_id:
            return
        now = datetime.now(UTC)
        await session.execute(
            self.table.insert(),
            [{"event_id": e, "topic": t, "processed_at": now} for e, t in topics_by_id.items()],
        )
