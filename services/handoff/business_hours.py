"""Business time: when an SLA of N working hours falls due in a rep's own calendar.

Pure: no clock reads and no I/O. All arithmetic runs in UTC and every window is built from
local wall times in the calendar's zone, so daylight-saving changes move the windows, never
the elapsed time inside them.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holiday_tables

WEEKDAYS = frozenset(range(5))
# A calendar whose every working day is a holiday would search forever; ten years is plenty.
_MAX_DAYS_WITHOUT_OPENING = 3660


@dataclass(frozen=True)
class Calendar:
    """A rep's working week: which weekdays (0=Mon..6=Sun) and hours, in an IANA zone."""

    tz: str
    days: frozenset[int] = field(default=WEEKDAYS)
    start: time = time(9)
    end: time = time(17)

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.tz!r}") from exc
        if not self.days or not self.days <= frozenset(range(7)):
            raise ValueError(f"working days must be a non-empty subset of 0..6, got {self.days}")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("working hours are local wall times; give them without tzinfo")
        if self.end <= self.start:
            raise ValueError(f"working hours must end after they start: {self.start}-{self.end}")

    @classmethod
    def of(
        cls,
        tz: str,
        hours: tuple[str, str] = ("09:00", "17:00"),
        days: Iterable[int] = WEEKDAYS,
    ) -> Calendar:
        """Build from the strings reps and contracts are written in, e.g. ("09:00", "17:30")."""
        try:
            start, end = (time.fromisoformat(h) for h in hours)
        except ValueError as exc:
            raise ValueError(f"working hours must be HH:MM, got {hours!r}") from exc
        return cls(tz=tz, days=frozenset(days), start=start, end=end)

    @property
    def zone(self) -> ZoneInfo:
        """The zone object; zoneinfo caches it, so this costs nothing per call."""
        return ZoneInfo(self.tz)


def holidays_for(
    country: str | None, subdivision: str | None, years: Iterable[int]
) -> frozenset[date]:
    """Public holidays of a country or region (ISO 3166-2 like "GB-ENG"), for skipping days."""
    if subdivision and "-" in subdivision:
        prefix, _, subdivision = subdivision.partition("-")
        if country and prefix.upper() != country.upper():
            raise ValueError(f"subdivision {prefix}-{subdivision} is not in country {country}")
        country = country or prefix
    if not country:
        if subdivision:
            raise ValueError(f"subdivision {subdivision!r} needs a country")
        return frozenset()
    try:
        table = holiday_tables.country_holidays(
            country.upper(), subdiv=subdivision.upper() if subdivision else None, years=list(years)
        )
    except NotImplementedError as exc:
        where = f"{country}-{subdivision}" if subdivision else country
        raise ValueError(f"no holiday calendar for {where!r}: {exc}") from exc
    return frozenset(table.keys())


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {moment!r}")


def _windows(
    after: datetime, calendar: Calendar, holidays: Container[date]
) -> Iterator[tuple[datetime, datetime]]:
    """Working windows (UTC open, UTC close) in order, from the local day containing `after`."""
    zone = calendar.zone
    day = after.astimezone(zone).date()
    idle = 0
    while True:
        if day.weekday() in calendar.days and day not in holidays:
            idle = 0
            opens = datetime.combine(day, calendar.start, tzinfo=zone).astimezone(UTC)
            closes = datetime.combine(day, calendar.end, tzinfo=zone).astimezone(UTC)
            yield opens, closes
        else:
            idle += 1
            if idle > _MAX_DAYS_WITHOUT_OPENING:
                raise ValueError(f"calendar {calendar} has no working day in ten years")
        day += timedelta(days=1)


def due_at(
    start: datetime, duration: timedelta, calendar: Calendar, holidays: Container[date]
) -> datetime:
    """The moment `duration` of working time has passed after `start`, in the calendar's zone.

    Counting begins at the next opening when `start` is outside hours, and a duration that
    ends exactly at closing time is due at closing time, not at the next opening.
    """
    _require_aware(start, "start")
    if duration < timedelta(0):
        raise ValueError(f"duration must not be negative, got {duration}")
    cursor = start.astimezone(UTC)
    remaining = duration
    for opens, closes in _windows(cursor, calendar, holidays):
        if closes < cursor:
            continue
        begin = max(cursor, opens)
        if remaining <= closes - begin:
            return (begin + remaining).astimezone(calendar.zone)
        remaining -= closes - begin
    raise AssertionError("unreachable: _windows never ends")  # pragma: no cover


def business_time_between(
    start: datetime, end: datetime, calendar: Calendar, holidays: Container[date]
) -> timedelta:
    """Working time from `start` to `end` (negative if `end` is earlier), for SLA reports."""
    _require_aware(start, "start")
    _require_aware(end, "end")
    lo, hi = start.astimezone(UTC), end.astimezone(UTC)
    if hi < lo:
        return -business_time_between(hi, lo, calendar, holidays)
    total = timedelta(0)
    for opens, closes in _windows(lo, calendar, holidays):
        if opens >= hi:
            break
        overlap = min(closes, hi) - max(opens, lo)
        if overlap > timedelta(0):
            total += overlap
    return total


def wall_due_at(start: datetime, duration: timedelta) -> datetime:
    """Due time for SLAs that count every hour: elapsed real time, in `start`'s own zone."""
    _require_aware(start, "start")
    if duration < timedelta(0):
        raise ValueError(f"duration must not be negative, got {duration}")
    # Adding to an aware datetime adds wall time; going through UTC adds elapsed time.
    return (start.astimezone(UTC) + duration).astimezone(start.tzinfo)
