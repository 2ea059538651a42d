"""What a report covers: the period (from/to dates or a month, in UTC) and the filters.

Every report selects leads by when handoff received them (a cohort) and follows each one to
where it stands now; see docs/reports.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from services.handoff.reports.errors import InvalidPeriod
from services.handoff.reports.figures import month_bounds

MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"
MAX_DAYS = 366
SALES_SOURCE = "sales"


@dataclass(frozen=True)
class Period:
    """Whole UTC days, `first` to `last` inclusive."""

    first: date
    last: date
    month: str | None = None

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(0), tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """Exclusive: midnight after the last day."""
        return datetime.combine(self.last + timedelta(days=1), time(0), tzinfo=UTC)

    @property
    def days(self) -> tuple[date, date]:
        return self.first, self.last


@dataclass(frozen=True)
class Filters:
    source: str | None = None
    campaign: str | None = None
    team: str | None = None


@dataclass(frozen=True)
class Scope:
    period: Period
    filters: Filters


def month_of(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m")


def month_period(month: str) -> Period:
    if not re.match(MONTH, month):
        raise InvalidPeriod("month", f"month must look like 2026-11, got {month!r}")
    first, last = month_bounds(month)
    return Period(first, last, month)


def resolve_period(
    first: date | None, last: date | None, month: str | None, *, now: datetime
) -> Period:
    """`month=YYYY-MM`, or `from` (and `to`, default today), or the current month."""
    if month is not None:
        if first is not None or last is not None:
            raise InvalidPeriod("month", "give either month or from/to, not both")
        return month_period(month)
    if first is None:
        if last is not None:
            raise InvalidPeriod("from", "give from with to")
        return month_period(month_of(now))
    last = last or now.astimezone(UTC).date()
    if last < first:
        raise InvalidPeriod("to", f"to ({last}) is before from ({first})")
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidPeriod("to", f"a period spans at most {MAX_DAYS} days")
    return Period(first, last)
