"""Queries on scoring's tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring.tables import contracts, decisions, leads
from shared.events import Decision, LeadData


async def active_contract_document(session: AsyncSession) -> tuple[str, str] | None:
    row = (
        await session.execute(
            select(contracts.c.version, contracts.c.document).where(contracts.c.status == "active")
        )
    ).first()
    return (row[0], row[1]) if row else None


async def contract_document(session: AsyncSession, version: str) -> tuple[str, str] | None:
    row = (
        await session.execute(
            select(contracts.c.document, contracts.c.status).where(contracts.c.version == version)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def add_contract(session: AsyncSession, version: str, document: str, at: datetime) -> None:
    await session.execute(
        contracts.insert().values(version=version, document=document, status="draft", created_at=at)
    )


async def activate_contract(session: AsyncSession, version: str, at: datetime) -> None:
    await session.execute(
        update(contracts).where(contracts.c.status == "active").values(status="retired")
    )
    await session.execute(
        update(contracts)
        .where(contracts.c.version == version)
        .values(status="active", activated_at=at)
    )


async def list_contracts(session: AsyncSession) -> list[dict[str, object]]:
    rows = await session.execute(
        select(
            contracts.c.version,
            contracts.c.status,
            contracts.c.created_at,
            contracts.c.activated_at,
        ).order_by(contracts.c.created_at)
    )
    return [dict(r._mapping) for r in rows]


async def save_lead(session: AsyncSession, lead: LeadData) -> None:
    exists = (
        await session.execute(select(leads.c.lead_id).where(leads.c.lead_id == lead.lead_id))
    ).first()
    payload = lead.model_dump(mode="json")
    if exists:
        await session.execute(
            update(leads).where(leads.c.lead_id == lead.lead_id).values(payload=payload)
        )
    else:
        await session.execute(
            leads.insert().values(
                lead_id=lead.lead_id, payload=payload, received_at=lead.received_at
            )
        )


async def leads_since(session: AsyncSession, since: datetime) -> list[LeadData]:
    rows = await session.execute(
        select(leads.c.payload).where(leads.c.received_at >= since).order_by(leads.c.received_at)
    )
    return [LeadData.model_validate(r[0]) for r in rows]


async def get_decision(session: AsyncSession, lead_id: str) -> Decision | None:
    row = (
        await session.execute(select(decisions.c.decision).where(decisions.c.lead_id == lead_id))
    ).first()
    return Decision.model_validate(row[0]) if row else None


async def save_decision(session: AsyncSession, decision: Decision, *, existed: bool) -> None:
    values = {
        "outcome": decision.outcome,
        "tier": decision.tier,
        "score": decision.score,
        "contract_version": decision.contract_version,
        "decision": decision.model_dump(mode="json"),
        "decided_at": decision.decided_at,
    }
    if existed:
        await session.execute(
            update(decisions).where(decisions.c.lead_id == decision.lead_id).values(**values)
        )
    else:
        await session.execute(decisions.insert().values(lead_id=decision.lead_id, **values))
