"""Queries on scoring's tables (the caller owns the transaction)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, overload

from sqlalchemy import and_, bindparam, delete, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring.tables import contracts, decisions, leads
from shared.db import among
from shared.events import Decision, LeadData

# --- contract versions -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ContractRow:
    version: str
    name: str | None
    status: str
    created_at: datetime
    created_by: str | None
    activated_at: datetime | None
    activated_by: str | None
    retired_at: datetime | None
    document: str | None = None  # only when asked for


_SUMMARY = (
    contracts.c.version,
    contracts.c.name,
    contracts.c.status,
    contracts.c.created_at,
    contracts.c.created_by,
    contracts.c.activated_at,
    contracts.c.activated_by,
    contracts.c.retired_at,
)


def _contract_row(row: Any) -> ContractRow:
    values = dict(row._mapping)
    for key in ("created_at", "activated_at", "retired_at"):
        values[key] = _read_utc(values[key])
    return ContractRow(**values)


async def lock_contracts(session: AsyncSession) -> None:
    """Serialise contract changes across replicas (SQLite: BEGIN IMMEDIATE already does)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('leadrelay-contracts'))"))


async def active_version(session: AsyncSession) -> str | None:
    """The active version's name alone: the per-event check, so it never reads documents."""
    return (
        await session.execute(select(contracts.c.version).where(contracts.c.status == "active"))
    ).scalar_one_or_none()


async def contract(session: AsyncSession, version: str) -> ContractRow | None:
    row = (
        await session.execute(
            select(*_SUMMARY, contracts.c.document).where(contracts.c.version == version)
        )
    ).first()
    return _contract_row(row) if row else None


async def active_contract(session: AsyncSession) -> ContractRow | None:
    row = (
        await session.execute(
            select(*_SUMMARY, contracts.c.document).where(contracts.c.status == "active")
        )
    ).first()
    return _contract_row(row) if row else None


async def contract_document(session: AsyncSession, version: str) -> str | None:
    return (
        await session.execute(select(contracts.c.document).where(contracts.c.version == version))
    ).scalar_one_or_none()


async def add_contract(
    session: AsyncSession,
    *,
    version: str,
    name: str,
    document: str,
    at: datetime,
    by: str | None,
) -> None:
    await session.execute(
        contracts.insert().values(
            version=version,
            name=name,
            document=document,
            status="draft",
            created_at=at,
            created_by=by,
        )
    )


async def activate_contract(
    session: AsyncSession, version: str, *, at: datetime, by: str | None
) -> str | None:
    """Retire the active version (returned) and make `version` active, in that order."""
    previous = await active_version(session)
    if previous is not None:
        await session.execute(
            update(contracts)
            .where(contracts.c.version == previous)
            .values(status="retired", retired_at=at)
        )
    await session.execute(
        update(contracts)
        .where(contracts.c.version == version)
        .values(status="active", activated_at=at, activated_by=by, retired_at=None)
    )
    return previous


async def list_contracts(session: AsyncSession) -> list[ContractRow]:
    rows = await session.execute(
        select(*_SUMMARY).order_by(contracts.c.created_at, contracts.c.version)
    )
    return [_contract_row(r) for r in rows]


# --- leads and decisions ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Prior:
    """What scoring already holds for a lead: the revision it scored and that decision."""

    revision: int
    decision: Decision | None


async def priors(session: AsyncSession, lead_ids: Collection[str]) -> dict[str, Prior]:
    """The stored revision and decision of each known lead among `lead_ids`, in one query."""
    if not lead_ids:
        return {}
    rows = await session.execute(
        select(leads.c.lead_id, leads.c.revision, decisions.c.decision)
        .select_from(leads.outerjoin(decisions, decisions.c.lead_id == leads.c.lead_id))
        .where(among(session, leads.c.lead_id, lead_ids))
    )
    return {
        lead_id: Prior(
            revision=int(revision),
            decision=Decision.model_validate(decision) if decision is not None else None,
        )
        for lead_id, revision, decision in rows
    }


async def save_leads(
    session: AsyncSession, *, new: Sequence[LeadData], known: Sequence[LeadData]
) -> None:
    """Insert the new leads and update the known ones: one statement each, whatever the count."""
    if new:
        await session.execute(
            leads.insert(),
            [
                {
                    "lead_id": lead.lead_id,
                    "received_at": _to_utc(lead.received_at),
                    "payload": lead.model_dump(mode="json"),
                    "revision": lead.revision,
                }
                for lead in new
            ],
        )
    if known:
        await session.execute(
            update(leads)
            .where(leads.c.lead_id == bindparam("key"))
            .values(payload=bindparam("new_payload"), revision=bindparam("new_revision")),
            [
                {
                    "key": lead.lead_id,
                    "new_payload": lead.model_dump(mode="json"),
                    "new_revision": lead.revision,
                }
                for lead in known
            ],
        )


async def delete_leads(session: AsyncSession, lead_ids: Collection[str]) -> None:
    """Erasure: the stored snapshots go; the decisions (no personal data) stay."""
    if lead_ids:
        await session.execute(delete(leads).where(leads.c.lead_id.in_(list(lead_ids))))


async def get_decision(session: AsyncSession, lead_id: str) -> Decision | None:
    row = (
        await session.execute(select(decisions.c.decision).where(decisions.c.lead_id == lead_id))
    ).first()
    return Decision.model_validate(row[0]) if row else None


def _decision_values(decision: Decision) -> dict[str, Any]:
    return {
        "new_outcome": decision.outcome,
        "new_tier": decision.tier,
        "new_score": decision.score,
        "new_version": decision.contract_version,
        "new_decision": decision.model_dump(mode="json"),
        "new_decided_at": _to_utc(decision.decided_at),
    }


async def save_decisions(
    session: AsyncSession, *, new: Sequence[Decision], known: Sequence[Decision]
) -> None:
    """Insert decisions for leads without one and replace the others: one statement each."""
    columns: dict[str, Any] = {
        "outcome": bindparam("new_outcome"),
        "tier": bindparam("new_tier"),
        "score": bindparam("new_score"),
        "contract_version": bindparam("new_version"),
        "decision": bindparam("new_decision"),
        "decided_at": bindparam("new_decided_at"),
    }
    if new:
        await session.execute(
            decisions.insert().values(lead_id=bindparam("key"), **columns),
            [{"key": d.lead_id, **_decision_values(d)} for d in new],
        )
    if known:
        await session.execute(
            update(decisions).where(decisions.c.lead_id == bindparam("key")).values(**columns),
            [{"key": d.lead_id, **_decision_values(d)} for d in known],
        )


@dataclass(frozen=True, slots=True)
class StoredLead:
    lead_id: str
    received_at: datetime
    payload: dict[str, Any]
    decided_at: datetime | None


async def lead_page(
    session: AsyncSession,
    *,
    since: datetime,
    until: datetime,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[StoredLead]:
    """One page of the leads received in [since, until], in (received_at, lead_id) order,
    starting after the `after` key (keyset paging: each page is one index range scan)."""
    query = (
        select(leads.c.lead_id, leads.c.received_at, leads.c.payload, decisions.c.decided_at)
        .select_from(leads.outerjoin(decisions, decisions.c.lead_id == leads.c.lead_id))
        .where(leads.c.received_at >= _to_utc(since))
        .where(leads.c.received_at <= _to_utc(until))
        .order_by(leads.c.received_at, leads.c.lead_id)
        .limit(limit)
    )
    if after is not None:
        at, lead_id = _to_utc(after[0]), after[1]
        query = query.where(
            or_(
                leads.c.received_at > at,
                and_(leads.c.received_at == at, leads.c.lead_id > lead_id),
            )
        )
    rows = await session.execute(query)
    return [
        StoredLead(
            lead_id=r.lead_id,
            received_at=_read_utc(r.received_at),
            payload=r.payload,
            decided_at=_read_utc(r.decided_at),
        )
        for r in rows
    ]


def _to_utc(moment: datetime) -> datetime:
    """Stored times are UTC (SQLite keeps no offset); a naive time is taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@overload
def _read_utc(moment: datetime) -> datetime: ...
@overload
def _read_utc(moment: None) -> None: ...
def _read_utc(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything stored here is UTC."""
    return None if moment is None else _to_utc(moment)
