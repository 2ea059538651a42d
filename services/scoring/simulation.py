"""Simulate a draft over the stored leads of a period, a page at a time.

Each lead is evaluated under both contracts as of the moment its current decision was made
(its `decided_at`), so the active contract's column reproduces the stored decisions and the
draft's column shows what the draft would have decided at that same moment. Pages are read
in short transactions of their own (a long read would hold SQLite's lock) and evaluated off
the event loop; memory holds one page, the counts and the sample.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.scoring import store
from services.scoring.contract import Contract, Simulation
from services.scoring.schemas import SimulationResult
from services.scoring.service import Scoring
from services.scoring.versions import parse
from shared.events import LeadData
from shared.problems import FieldProblem, InvalidInput

MAX_DAYS = 3650
DEFAULT_DAYS = 30


@dataclass(frozen=True, slots=True)
class Period:
    since: datetime
    until: datetime
    days: int

    @classmethod
    def of(cls, *, now: datetime, days: int | None, since: datetime | None) -> Period:
        """`days` back from now, or from `since` (an aware moment in the past) until now."""
        if days is not None and since is not None:
            raise InvalidInput(
                "give days or since, not both",
                errors=[FieldProblem(pointer="/query/since", message="not with days")],
            )
        if since is None:
            count = DEFAULT_DAYS if days is None else days
            return cls(now - timedelta(days=count), now, count)
        if since.tzinfo is None:
            raise InvalidInput(
                "since needs a time zone",
                errors=[FieldProblem(pointer="/query/since", message="add Z or an offset")],
            )
        if not now - timedelta(days=MAX_DAYS) <= since < now:
            raise InvalidInput(
                f"since must be in the past {MAX_DAYS} days",
                errors=[FieldProblem(pointer="/query/since", message="out of range")],
            )
        days_back = (now - since) / timedelta(days=1)
        return cls(since, now, max(1, round(days_back)))


async def simulate_document(
    sessions: async_sessionmaker[AsyncSession],
    document: str,
    *,
    scoring: Scoring,
    days: int | None = None,
    since: datetime | None = None,
    sample: int = 20,
) -> SimulationResult:
    """A draft given as YAML text against the active contract."""
    draft = await parse(document)
    return await _simulate(sessions, draft, scoring, days=days, since=since, sample=sample)


async def simulate_version(
    sessions: async_sessionmaker[AsyncSession],
    version: str,
    *,
    scoring: Scoring,
    days: int | None = None,
    since: datetime | None = None,
    sample: int = 20,
) -> SimulationResult:
    """A stored version (usually a draft) against the active contract."""
    async with sessions() as session:
        draft = await scoring.contracts.version(session, version)
    return await _simulate(sessions, draft, scoring, days=days, since=since, sample=sample)


async def _simulate(
    sessions: async_sessionmaker[AsyncSession],
    draft: Contract,
    scoring: Scoring,
    *,
    days: int | None,
    since: datetime | None,
    sample: int,
) -> SimulationResult:
    period = Period.of(now=scoring.clock.now(), days=days, since=since)
    async with sessions() as session:
        active = await scoring.contracts.active(session)
    simulation = Simulation(draft, active, period_days=period.days, sample=sample)
    after: tuple[datetime, str] | None = None
    while True:
        async with sessions() as session:
            page = await store.lead_page(
                session,
                since=period.since,
                until=period.until,
                after=after,
                limit=scoring.page_size,
            )
        if not page:
            break
        await asyncio.to_thread(_add_page, simulation, page, period.until)
        if len(page) < scoring.page_size:
            break
        after = (page[-1].received_at, page[-1].lead_id)
    report = simulation.report()
    return SimulationResult(**report.model_dump(), since=period.since, until=period.until)


def _add_page(simulation: Simulation, page: list[store.StoredLead], until: datetime) -> None:
    for row in page:
        as_of = row.decided_at or until
        simulation.add(LeadData.model_validate(row.payload), now=as_of)
