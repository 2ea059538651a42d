"""Campaign costs: what marketing spent on a campaign over its period, entered with
`PUT /v1/campaigns/{id}` or `leadrelay campaigns set`, for cost per qualified lead."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.handoff.reports import queries
from services.handoff.reports.errors import CampaignNotFound, InvalidCampaignPeriod
from services.handoff.reports.figures import month_bounds
from services.handoff.reports.schemas import CampaignIn, CampaignOut

CAMPAIGN_ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})/(\d{4}-\d{2}-\d{2})$")


def parse_period(text: str) -> tuple[date, date]:
    """'2026-11' -> the month; '2026-11-01/2026-12-15' -> those days, inclusive."""
    text = text.strip()
    if _MONTH.match(text):
        try:
            return month_bounds(text)
        except ValueError as exc:  # year 0000: the calendar starts at year 1
            raise InvalidCampaignPeriod(f"period: {exc}") from exc
    match = _RANGE.match(text)
    if match is None:
        raise InvalidCampaignPeriod(
            f"period must be YYYY-MM or YYYY-MM-DD/YYYY-MM-DD, got {text[:40]!r}"
        )
    try:
        first, last = (date.fromisoformat(x) for x in match.groups())
    except ValueError as exc:
        raise InvalidCampaignPeriod(f"period: {exc}") from exc
    if last < first:
        raise InvalidCampaignPeriod(f"period ends ({last}) before it starts ({first})")
    return first, last


def period_text(first: date, last: date) -> str:
    """The shortest way to write a period: a whole month as YYYY-MM."""
    month = first.strftime("%Y-%m")
    if first.day == 1 and (first, last) == month_bounds(month):
        return month
    return f"{first.isoformat()}/{last.isoformat()}"


def _out(row: dict[str, Any]) -> CampaignOut:
    return CampaignOut(
        campaign_id=row["campaign_id"],
        name=row["name"],
        cost=float(row["cost"]),
        currency=row["currency"],
        period=period_text(row["period_start"], row["period_end"]),
        period_start=row["period_start"],
        period_end=row["period_end"],
        updated_at=row["updated_at"],
    )


async def put_campaign(
    session: AsyncSession, campaign_id: str, body: CampaignIn, *, now: datetime
) -> tuple[CampaignOut, bool]:
    """Create or replace a campaign's cost; (the campaign, whether it is new)."""
    first, last = parse_period(body.period)
    values = {
        "name": body.name,
        "cost": round(body.cost, 2),
        "currency": body.currency,
        "period_start": first,
        "period_end": last,
        "updated_at": now,
    }
    created = await queries.put_campaign(session, campaign_id, values)
    return _out({"campaign_id": campaign_id, **values}), created


async def get_campaign(session: AsyncSession, campaign_id: str) -> CampaignOut:
    row = await queries.get_campaign(session, campaign_id)
    if row is None:
        raise CampaignNotFound(campaign_id)
    return _out(row)


async def list_campaigns(session: AsyncSession) -> list[CampaignOut]:
    return [_out(r) for r in await queries.list_campaigns(session)]
