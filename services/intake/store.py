"""Queries on intake's tables, in bulk: one statement per step for a whole chunk of leads."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, and_, bindparam, delete, func, or_, select, text, update
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeDecorator

from services.intake.dedupe import Remembered
from services.intake.tables import (
    erasure_leads,
    erasures,
    forms,
    idempotency_keys,
    leads,
    plumbing,
)
from shared.db import among
from shared.events import TOPIC_KEYS, LeadData
from shared.pii import erase_lead


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
        .where(among(session, leads.c.identity_key, identity_keys), leads.c.received_at >= since)
        .order_by(leads.c.received_at, leads.c.lead_id)
    )
    found: dict[str, LeadData] = {}
    for identity_key, payload in rows:
        if identity_key not in found:
            found[identity_key] = LeadData.model_validate(payload)
    return found


class _SerializedJSON(TypeDecorator[str]):
    """A JSON column's value serialised already (pydantic's `model_dump_json`, in Rust), so
    it is not turned into Python objects and then through `json.dumps` once more per row."""

    impl = JSON
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> None:
        return None


_PAYLOAD = bindparam("payload_json", type_=_SerializedJSON())


async def insert_leads(session: AsyncSession, new: Iterable[tuple[LeadData, str]]) -> None:
    rows = [
        {
            "lead_id": lead.lead_id,
            "identity_key": identity_key,
            "source": lead.source,
            "channel": lead.channel,
            "campaign_id": lead.campaign_id,
            "payload_json": lead.model_dump_json(),
            "revision": lead.revision,
            "received_at": lead.received_at,
            "updated_at": lead.received_at,
        }
        for lead, identity_key in new
    ]
    if rows:
        await session.execute(leads.insert().values(payload=_PAYLOAD), rows)


async def update_leads(session: AsyncSession, changed: Iterable[LeadData], at: datetime) -> None:
    rows = [
        {
            "b_lead_id": lead.lead_id,
            "payload_json": lead.model_dump_json(),
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
                payload=_PAYLOAD,
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
        ).where(among(session, idempotency_keys.c.key, keys))
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


# --- erasure -----------------------------------------------------------------------------

ERASED_IDENTITY = "erased:"
"""An erased lead's identity key: its own id, so no later lead of anyone merges into it."""


async def lead_ids_of_person(session: AsyncSession, identity_key: str) -> list[str]:
    """Every lead of one person, whenever received (merges live inside these rows)."""
    rows = await session.execute(
        select(leads.c.lead_id)
        .where(leads.c.identity_key == identity_key)
        .order_by(leads.c.received_at, leads.c.lead_id)
    )
    return [lead_id for (lead_id,) in rows]


async def lead_exists(session: AsyncSession, lead_id: str) -> bool:
    row = (await session.execute(select(leads.c.lead_id).where(leads.c.lead_id == lead_id))).first()
    return row is not None


async def erase_leads(session: AsyncSession, lead_ids: Collection[str], at: datetime) -> None:
    """Blank the personal fields of stored leads, forget their idempotency records and the
    outbox rows that carried them (their keys above all); the anonymous facts stay."""
    ids = list(lead_ids)
    if not ids:
        return
    rows = await session.execute(
        select(leads.c.lead_id, leads.c.payload).where(leads.c.lead_id.in_(ids))
    )
    erased = [
        {
            "b_lead_id": lead_id,
            "identity_key": ERASED_IDENTITY + lead_id,
            "payload": erase_lead(LeadData.model_validate(payload)).model_dump(mode="json"),
            "updated_at": at,
        }
        for lead_id, payload in rows
    ]
    if erased:
        await session.execute(
            update(leads)
            .where(leads.c.lead_id == bindparam("b_lead_id"))
            .values(
                identity_key=bindparam("identity_key"),
                payload=bindparam("payload"),
                updated_at=bindparam("updated_at"),
            )
            .execution_options(synchronize_session=False),
            erased,
        )
    await session.execute(
        delete(idempotency_keys).where(idempotency_keys.c.response["lead_id"].as_string().in_(ids))
    )
    outbox = plumbing.outbox.table
    await session.execute(
        delete(outbox).where(
            outbox.c.key.in_(ids),
            or_(outbox.c.topic == TOPIC_KEYS, outbox.c.sent_at.is_not(None)),
        )
    )


async def add_erasure(
    session: AsyncSession, values: Mapping[str, Any], lead_ids: Collection[str]
) -> None:
    await session.execute(erasures.insert().values(**values))
    if lead_ids:
        await session.execute(
            erasure_leads.insert(),
            [{"erasure_id": values["erasure_id"], "lead_id": i} for i in lead_ids],
        )


async def get_erasure(
    session: AsyncSession, erasure_id: str
) -> tuple[dict[str, Any], list[tuple[str, datetime | None]]] | None:
    row = (
        await session.execute(select(erasures).where(erasures.c.erasure_id == erasure_id))
    ).first()
    if row is None:
        return None
    found = await session.execute(
        select(erasure_leads.c.lead_id, erasure_leads.c.confirmed_at)
        .where(erasure_leads.c.erasure_id == erasure_id)
        .order_by(erasure_leads.c.lead_id)
    )
    return dict(row._mapping), [(lead_id, at) for lead_id, at in found]


async def confirm_erased(
    session: AsyncSession, confirmed: Collection[tuple[str, str]], at: datetime
) -> None:
    """Mark (erasure, lead) pairs done; an erasure whose leads are all done is complete."""
    if not confirmed:
        return
    await session.execute(
        update(erasure_leads)
        .where(
            erasure_leads.c.erasure_id == bindparam("b_erasure_id"),
            erasure_leads.c.lead_id == bindparam("b_lead_id"),
            erasure_leads.c.confirmed_at.is_(None),
        )
        .values(confirmed_at=at)
        .execution_options(synchronize_session=False),
        [{"b_erasure_id": e, "b_lead_id": lead} for e, lead in confirmed],
    )
    open_leads = (
        select(erasure_leads.c.lead_id)
        .where(
            and_(
                erasure_leads.c.erasure_id == erasures.c.erasure_id,
                erasure_leads.c.confirmed_at.is_(None),
            )
        )
        .exists()
    )
    await session.execute(
        update(erasures)
        .where(
            erasures.c.erasure_id.in_({e for e, _ in confirmed}),
            erasures.c.completed_at.is_(None),
            ~open_leads,
        )
        .values(completed_at=at)
    )
