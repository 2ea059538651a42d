"""PURE: the arithmetic of the reports, on plain rows. No I/O and no clock reads: callers
pass `now`.

Percentiles are computed here rather than in SQL so SQLite and PostgreSQL give the same
answer: linear interpolation between the closest ranks (numpy's default, and
`statistics.quantiles(..., method="inclusive")`).
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

FUNNEL_STEPS = ("received", "qualified", "assigned", "accepted", "contacted", "opportunity", "won")

# Time-to-first-contact buckets: [low, high) in seconds; the last is open-ended.
BUCKET_EDGES = (0, 2, 5, 10, 20, 30, 60, 120, 300, 900, 1800, 3600, 4 * 3600, 86400, 3 * 86400)
BUCKET_LABELS = (
    "<2s",
    "2-5s",
    "5-10s",
    "10-20s",
    "20-30s",
    "30s-1m",
    "1-2m",
    "2-5m",
    "5-15m",
    "15-30m",
    "30m-1h",
    "1-4h",
    "4h-1d",
    "1-3d",
    ">3d",
)

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "AUD": "A$", "CAD": "C$"}

ClockState = Literal["met", "missed", "open", "stopped"]


def ratio(part: float, whole: float) -> float | None:
    """part / whole to 4 places; None when there is nothing to divide by."""
    return round(part / whole, 4) if whole else None


def money(amount: float) -> float:
    return round(amount + 0.0, 2)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100), linear between closest ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return round(float(ordered[0]), 3)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    value = ordered[low] + (ordered[high] - ordered[low]) * (position - low)
    return round(float(value), 3)


@dataclass(frozen=True)
class Bucket:
    label: str
    min_seconds: int
    max_seconds: int | None
    count: int


def histogram(seconds: Iterable[float]) -> list[Bucket]:
    """Counts per time-to-first-contact bucket, without the empty buckets at either end."""
    counts = [0] * len(BUCKET_EDGES)
    for s in seconds:
        index = 0
        for i, edge in enumerate(BUCKET_EDGES):
            if s >= edge:
                index = i
        counts[index] += 1
    buckets = [
        Bucket(
            label=BUCKET_LABELS[i],
            min_seconds=BUCKET_EDGES[i],
            max_seconds=BUCKET_EDGES[i + 1] if i + 1 < len(BUCKET_EDGES) else None,
            count=counts[i],
        )
        for i in range(len(BUCKET_EDGES))
    ]
    filled = [i for i, c in enumerate(counts) if c]
    if not filled:
        return []
    return buckets[filled[0] : filled[-1] + 1]


# --- SLA clocks ------------------------------------------------------------------------


def clock_stop(
    assigned_at: datetime,
    ended_at: datetime | None,
    stops: Iterable[datetime | None],
    now: datetime,
) -> datetime:
    """When an assignment's clocks stopped running: it ended, an outcome stopped them, or
    they still run (now)."""
    candidates = [t for t in (ended_at, *stops) if t is not None and t >= assigned_at]
    return min([*candidates, now])


def first_contact_state(
    due: datetime, first_attempt: datetime | None, stop: datetime, now: datetime
) -> ClockState:
    """met: first attempt by the due time; missed: after it, or none while the rep held the
    lead past it; stopped: the rep let go before it was due (rejected, outcome); open: running.
    """
    if first_attempt is not None:
        return "met" if first_attempt <= due else "missed"
    if stop >= due:
        return "missed"
    return "stopped" if stop < now else "open"


def attempts_state(
    due: datetime, attempts_by_due: int, attempts_min: int, stop: datetime, now: datetime
) -> ClockState:
    """met: `attempts_min` attempts by the due time; missed: fewer when it passed while held."""
    if attempts_by_due >= attempts_min:
        return "met"
    if stop >= due:
        return "missed"
    return "stopped" if stop < now else "open"


# --- periods, quota --------------------------------------------------------------------


def month_bounds(month: str) -> tuple[date, date]:
    """'2026-11' -> (2026-11-01, 2026-11-30)."""
    year, mon = (int(x) for x in month.split("-"))
    return date(year, mon, 1), date(year, mon, calendar.monthrange(year, mon)[1])


def elapsed_share(start: datetime, end: datetime, now: datetime) -> float:
    """How much of [start, end) has passed at `now`, 0..1."""
    total = (end - start).total_seconds()
    done = (min(max(now, start), end) - start).total_seconds()
    return done / total if total > 0 else 1.0


def projection(actual: int, elapsed: float) -> float | None:
    """Linear projection to the end of the period; None before it starts."""
    return round(actual / elapsed, 1) if elapsed > 0 else None


def overlap_days(a_start: date, a_end: date, b_start: date, b_end: date) -> int:
    """Days two inclusive date ranges share."""
    start, end = max(a_start, b_start), min(a_end, b_end)
    return max(0, (end - start).days + 1)


def prorated_cost(cost: float, period: tuple[date, date], report: tuple[date, date]) -> float:
    """A campaign's cost spread evenly over its period's days, for the days the report shares."""
    days = (period[1] - period[0]).days + 1
    return money(cost * overlap_days(*period, *report) / days) if days > 0 else 0.0


def daily_series(days: Sequence[date], start: date, end: date) -> list[tuple[date, int, int]]:
    """(day, count, running total) for every day from start to end."""
    counts: dict[date, int] = {}
    for d in days:
        counts[d] = counts.get(d, 0) + 1
    out = []
    total = 0
    day = start
    while day <= end:
        total += counts.get(day, 0)
        out.append((day, counts.get(day, 0), total))
        day += timedelta(days=1)
    return out


# --- words -----------------------------------------------------------------------------


def format_money(amount: float, currency: str) -> str:
    """$12,345 ; €9,800 ; CHF 1,200 (whole units, as a business review reads)."""
    symbol = SYMBOLS.get(currency)
    whole = f"{round(amount):,}"
    return f"{symbol}{whole}" if symbol else f"{currency} {whole}"


def format_share(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def plural(n: int | float, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


@dataclass(frozen=True)
class ReviewFigures:
    """What the business review says, as numbers."""

    when: str  # "this month" or "in October 2026"
    new_leads: int
    under_development: int
    opportunities: int
    pipeline: float
    won: int
    revenue: float
    currency: str
    qualified: int
    quota: int | None
    projected: float | None
    pipeline_share: float | None
    agreed_pipeline_share: float | None
    revenue_share: float | None
    agreed_revenue_share: float | None
    within_sla_share: float | None


def review_sentences(f: ReviewFigures) -> list[str]:
    """The monthly business review in words; every number is one of the figures."""
    sentences = [
        f"We added {plural(f.new_leads, 'new lead', 'new leads')} {f.when}, which makes "
        f"{plural(f.under_development, 'lead', 'leads')} currently under development.",
        f"Sales received "
        f"{plural(f.opportunities, 'qualified opportunity', 'qualified opportunities')} "
        f"representing {format_money(f.pipeline, f.currency)}.",
    ]
    if f.quota:
        line = (
            f"Marketing delivered {plural(f.qualified, 'qualified lead', 'qualified leads')} "
            f"against a quota of {f.quota:,} ({format_share(f.qualified / f.quota)})"
        )
        if f.projected is not None and f.when == "this month":
            line += f", on pace for {round(f.projected):,} by month end"
        sentences.append(line + ".")
    sentences.append(
        f"Sales won {plural(f.won, 'deal', 'deals')} worth {format_money(f.revenue, f.currency)}."
    )
    if f.pipeline_share is not None or f.revenue_share is not None:
        parts = []
        for what, share, agreed in (
            ("pipeline", f.pipeline_share, f.agreed_pipeline_share),
            ("revenue", f.revenue_share, f.agreed_revenue_share),
        ):
            if share is not None:
                target = f" (agreed {format_share(agreed)})" if agreed is not None else ""
                parts.append(f"{format_share(share)} of {what}{target}")
        sentences.append("Marketing-sourced leads brought " + " and ".join(parts) + ".")
    if f.within_sla_share is not None:
        sentences.append(
            f"{format_share(f.within_sla_share)} of first contacts were made within the SLA."
        )
    return sentences
