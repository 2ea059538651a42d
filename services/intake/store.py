"""Queries on intake's tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.tables import idempotency_keys, leads
from shared.events import LeadData


async def find_recent_by_identity(
    session: AsyncSession, identity_key: str, since: datetime
) -> LeadData | None:
    row = (
        await session.execute(
            select(leads.c.payload)
            .where(leads.c.identity_key == identity_key, leads.c.received_at >= since)
            .order_by(leads.c.received_at)
            .limit(1)
        )
    ).first()
    return LeadData.model_validate(row[0]) if row else None


async def insert_lead(session: AsyncSession, lead: LeadData, identity_key: str) -> None:
    await session.execute(
        leads.insert().values(
            lead_id=lead.lead_id,
            identity_key=identity_key,
            source=lead.source,
            channel=lead.channel,
            campaign_id=lead.campaign_id,
            payload=lead.model_dump(mode="json"),
            revision=lead.revision,
            received_at=lead.received_at,
            updated_at=lead.received_at,
        )
    )


async def update_lead(session: AsyncSession, lead: LeadData, at: datetime) -> None:
    await session.execute(
        update(leads)
        .where(leads.c.lead_id == lead.lead_id)
        .values(payload=lead.model_dump(mode="json"), revision=lead.revision, updated_at=at)
    )


async def get_lead(session: AsyncSession, lead_id: str) -> LeadData | None:
    row = (await session.execute(select(leads.c.payload).where(leads.c.lead_id == lead_id))).first()
    return LeadData.model_validate(row[0]) if row else None


async def find_idempotent(session: AsyncSession, key: str) -> tuple[str, dict[str, Any]] | None:
    row = (
        await session.execute(
            select(idempotency_keys.c.request_hash, idempotency_keys.c.response).where(
                idempotency_keys.c.key == key
            )
        )
    ).first()
    return (row[0], row[1]) if row else None


async def save_idempotent(
    session: AsyncSession, key: str, request_hash: str, response: dict[str, Any], at: datetime
) -> None:
    await session.execute(
        idempotency_keys.insert().values(
            key=key, request_hash=request_hash, response=response, status_code=202, created_at=at
        )
    )
