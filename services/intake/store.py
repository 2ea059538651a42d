"""Queries on intake's tables, in bulk: one statement per step for a whole chunk of leads."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.dedupe import Remembered
from services.intake.tables import forms, idempotency_keys, leads
from shared.events import LeadData


async def lock(session: AsyncSession, keys: Collection[str]) -> None:
    """Serialise writers of the same person or idempotency key until the transaction ends.

    PostgreSQL: transaction-scoped advisory locks, taken in hash order so two chunks that
    share people cannot deadlock. SQLite: BEGIN IMMEDIATE already serialises writers."""
    if not keys or session.get_bind().dialect.name != "postgresql":
        return
    await session.execute(
        text(
            "SELECT pg_advisory_xact_lock(h) FROM "
            "(SELECT DISTINCT hashtext(k) AS h FROM unnest(CAST(:keys AS text[])) AS k "
            "ORDER BY h) AS ordered"
        ),
        {"keys": sorted(keys)},
    )


async def find_recent(
    session: AsyncSession, identity_keys: Collection[str], since: datetime
) -> dict[str, LeadData]:
    """Each person's earliest lead received since `since` (the one duplicates merge into)."""
    if not identity_keys:
        return {}
    rows = await session.execute(
        select(leads.c.identity_key, leads.c.payload)
        .where(leads.c.identity_key.in_(list(identity_keys)), leads.c.received_at >= since)
        .order_by(leads.c.received_at, leads.c.lead_id)
    )
    found: dict[str, LeadData] = {}
    for identity_key, payload in rows:
        if identity_key not in found:
            found[identity_key] = LeadData.model_validate(payload)
    return found


async def insert_leads(session: AsyncSession, new: Iterable[tuple[LeadData, str]]) -> None:
    rows = [
        {
            "lead_id": lead.lead_id,
            "identity_key": identity_key,
            "source": lead.source,
            "channel": lead.channel,
            "campaign_id": lead.campaign_id,
            "payload": lead.model_dump(mode="json"),
            "revision": lead.revision,
            "received_at": lead.received_at,
            "updated_at": lead.received_at,
        }
        for lead, identity_key in new
    ]
    if rows:
        await session.execute(leads.insert(), rows)


async def update_leads(session: AsyncSession, changed: Iterable[LeadData], at: datetime) -> None:
    rows = [
        {
            "b_lead_id": lead.lead_id,
            "payload": lead.model_dump(mode="json"),
            "revision": lead.revision,
            "updated_at": at,
        }
        for lead in changed
    ]
    if rows:
        await session.execute(
            update(leads)
            .where(leads.c.lead_id == bindparam("b_lead_id"))
            .values(
                payload=bindparam("payload"),
                revision=bindparam("revision"),
                updated_at=bindparam("updated_at"),
            )
            .execution_options(synchronize_session=False),
            rows,
        )


async def get_lead(session: AsyncSession, lead_id: str) -> LeadData | None:
    row = (await session.execute(select(leads.c.payload).where(leads.c.lead_id == lead_id))).first()
    return LeadData.model_validate(row[0]) if row else None


async def count_leads(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).select_from(leads))).scalar_one())


async def find_remembered(session: AsyncSession, keys: Collection[str]) -> dict[str, Remembered]:
    if not keys:
        return {}
    rows = await session.execute(
        select(
            idempotency_keys.c.key, idempotency_keys.c.request_hash, idempotency_keys.c.response
        ).where(idempotency_keys.c.key.in_(list(keys)))
    )
    return {key: Remembered(request_hash, response) for key, request_hash, response in rows}


async def remember(session: AsyncSession, answers: Mapping[str, Remembered], at: datetime) -> None:
    rows = [
        {
            "key": key,
            "request_hash": r.fingerprint,
            "response": r.answer,
            "status_code": 202,
            "created_at": at,
        }
        for key, r in answers.items()
    ]
    if rows:
        await session.execute(idempotency_keys.insert(), rows)


# --- forms -------------------------------------------------------------------------------


async def get_form(session: AsyncSession, form_id: str) -> tuple[dict[str, Any], str] | None:
    """A form's stored configuration and who manages it (`file` or `api`)."""
    row = (
        await session.execute(
            select(forms.c.config, forms.c.managed_by).where(forms.c.form_id == form_id)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def list_forms(session: AsyncSession) -> list[tuple[str, dict[str, Any], str]]:
    rows = await session.execute(
        select(forms.c.form_id, forms.c.config, forms.c.managed_by).order_by(forms.c.form_id)
    )
    return [(form_id, config, managed_by) for form_id, config, managed_by in rows]


async def put_form(
    session: AsyncSession, form_id: str, config: dict[str, Any], managed_by: str, at: datetime
) -> None:
    updated = await session.execute(
        update(forms)
        .where(forms.c.form_id == form_id)
        .values(config=config, managed_by=managed_by, updated_at=at)
    )
    if not getattr(updated, "rowcount", 0):
        await session.execute(
            forms.insert().values(
                form_id=form_id, config=config, managed_by=managed_by, updated_at=at
            )
        )


async def delete_form(session: AsyncSession, form_id: str) -> None:
    await session.execute(delete(forms).where(forms.c.form_id == form_id))


async def delete_file_forms_except(session: AsyncSession, keep: Collection[str]) -> None:
    """Forms the file no longer lists are gone; forms created over the API stay."""
    await session.execute(
        delete(forms).where(forms.c.managed_by == "file", forms.c.form_id.not_in(list(keep)))
    )
