"""Business time in a rep's calendar: weekends, holidays, time zones and DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.handoff.business_hours import (
    Calendar,
    business_time_between,
    due_at,
    holidays_for,
    wall_due_at,
)

NO_HOLIDAYS: frozenset[date] = frozenset()


def at(text: str, tz: str) -> datetime:
    """A local wall time in a zone, the way a test reads it: "2026-11-20 16:55"."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz))


def a_calendar(tz: str = "Europe/London", hours: tuple[str, str] = ("09:00", "17:00")) -> Calendar:
    return Calendar.of(tz, hours=hours)


# --- due_at: the basics ------------------------------------------------------------------


def test_lead_assigned_friday_1655_in_sydney_is_due_monday_morning() -> None:
    calendar = a_calendar(tz="Australia/Sydney")
    due = due_at(at("2026-11-20 16:55", "Australia/Sydney"), timedelta(minutes=30), calendar, set())
    assert due == at("2026-11-23 09:25", "Australia/Sydney")
    assert due.tzinfo == ZoneInfo("Australia/Sydney")


def test_duration_landing_exactly_on_closing_time_is_due_at_closing_not_next_morning() -> None:
    due = due_at(at("2026-06-01 16:00", "Europe/London"), timedelta(hours=1), a_calendar(), set())
    assert due == at("2026-06-01 17:00", "Europe/London")


def test_lead_arriving_before_opening_starts_counting_at_opening() -> None:
    due = due_at(at("2026-06-01 07:12", "Europe/London"), timedelta(hours=1), a_calendar(), set())
    assert due == at("2026-06-01 10:00", "Europe/London")


def test_lead_arriving_after_close_starts_counting_next_working_morning() -> None:
    due = due_at(at("2026-06-01 18:30", "Europe/London"), timedelta(hours=1), a_calendar(), set())
    assert due == at("2026-06-02 10:00", "Europe/London")


def test_lead_arriving_on_saturday_starts_counting_monday() -> None:
    due = due_at(at("2026-06-06 11:00", "Europe/London"), timedelta(hours=2), a_calendar(), set())
    assert due == at("2026-06-08 11:00", "Europe/London")


def test_zero_duration_outside_hours_is_due_at_the_next_opening() -> None:
    due = due_at(at("2026-06-06 11:00", "Europe/London"), timedelta(0), a_calendar(), set())
    assert due == at("2026-06-08 09:00", "Europe/London")


def test_start_given_in_utc_is_counted_in_the_calendar_zone_and_answered_there() -> None:
    start = datetime(2026, 11, 20, 5, 55, tzinfo=UTC)  # 16:55 in Sydney (AEDT, UTC+11)
    due = due_at(start, timedelta(minutes=30), a_calendar(tz="Australia/Sydney"), set())
    assert due == at("2026-11-23 09:25", "Australia/Sydney")
    assert due.utcoffset() == timedelta(hours=11)


def test_a_sunday_to_thursday_week_works_friday_and_saturday_off() -> None:
    calendar = Calendar.of("Asia/Dubai", days={6, 0, 1, 2, 3})
    due = due_at(at("2026-06-04 16:30", "Asia/Dubai"), timedelta(hours=1), calendar, set())
    assert due == at("2026-06-07 09:30", "Asia/Dubai")  # Thursday close, then Sunday


def test_forty_business_hours_from_monday_morning_end_on_friday_at_close() -> None:
    due = due_at(at("2026-06-01 09:00", "Europe/London"), timedelta(hours=40), a_calendar(), set())
    assert due == at("2026-06-05 17:00", "Europe/London")


def test_long_duration_spans_weeks_and_skips_every_weekend_and_holiday() -> None:
    holidays = holidays_for("GB", "GB-ENG", [2026])
    # 100 hours = 12.5 working days; Mon 24 Aug + 12 working days, skipping Mon 31 Aug.
    start = at("2026-08-24 09:00", "Europe/London")
    due = due_at(start, timedelta(hours=100), a_calendar(), holidays)
    assert due == at("2026-09-10 13:00", "Europe/London")


# --- holidays ----------------------------------------------------------------------------


def test_england_has_the_august_bank_holiday_and_scotland_does_not() -> None:
    assert date(2026, 8, 31) in holidays_for("GB", "GB-ENG", [2026])
    assert date(2026, 8, 31) not in holidays_for("GB", "GB-SCT", [2026])
    assert date(2026, 8, 3) in holidays_for("GB", "GB-SCT", [2026])


def test_lead_assigned_before_the_august_bank_holiday_is_due_tuesday_in_england_only() -> None:
    start = at("2026-08-28 16:30", "Europe/London")  # Friday
    eng = due_at(start, timedelta(hours=1), a_calendar(), holidays_for("GB", "GB-ENG", [2026]))
    sct = due_at(start, timedelta(hours=1), a_calendar(), holidays_for("GB", "GB-SCT", [2026]))
    assert eng == at("2026-09-01 09:30", "Europe/London")
    assert sct == at("2026-08-31 09:30", "Europe/London")


def test_lead_arriving_on_a_holiday_starts_counting_the_next_working_day() -> None:
    holidays = holidays_for("GB", "GB-ENG", [2026])
    due = due_at(
        at("2026-08-31 10:00", "Europe/London"), timedelta(hours=2), a_calendar(), holidays
    )
    assert due == at("2026-09-01 11:00", "Europe/London")


def test_thanksgiving_is_skipped_in_the_us_and_california_also_skips_the_day_after() -> None:
    calendar = a_calendar(tz="America/Los_Angeles")
    start = at("2026-11-25 16:00", "America/Los_Angeles")  # Wednesday
    federal = due_at(start, timedelta(hours=2), calendar, holidays_for("US", None, [2026]))
    california = due_at(start, timedelta(hours=2), calendar, holidays_for(None, "US-CA", [2026]))
    assert federal == at("2026-11-27 10:00", "America/Los_Angeles")
    assert california == at("2026-11-30 10:00", "America/Los_Angeles")


def test_epiphany_is_a_holiday_in_bavaria_but_not_in_north_rhine_westphalia() -> None:
    assert date(2026, 1, 6) in holidays_for("DE", "DE-BY", [2026])
    assert date(2026, 1, 6) not in holidays_for("DE", "DE-NW", [2026])


def test_no_country_means_no_holidays() -> None:
    assert holidays_for(None, None, [2026]) == frozenset()


@pytest.mark.parametrize(
    ("country", "subdivision", "message"),
    [
        ("XX", None, "no holiday calendar for 'XX'"),
        ("GB", "GB-ZZZ", "no holiday calendar for 'GB-ZZZ'"),
        ("DE", "GB-ENG", "not in country DE"),
    ],
)
def test_unknown_country_or_subdivision_is_refused_by_name(
    country: str, subdivision: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        holidays_for(country, subdivision, [2026])


# --- daylight saving ---------------------------------------------------------------------


def test_new_york_lead_on_friday_before_spring_forward_is_due_monday_in_daylight_time() -> None:
    calendar = a_calendar(tz="America/New_York")
    due = due_at(at("2026-03-06 16:00", "America/New_York"), timedelta(hours=2), calendar, set())
    assert due == at("2026-03-09 10:00", "America/New_York")
    assert due.utcoffset() == timedelta(hours=-4)
    assert due.astimezone(UTC) == datetime(2026, 3, 9, 14, tzinfo=UTC)


def test_business_hours_that_span_the_spring_forward_gap_count_elapsed_time() -> None:
    calendar = Calendar(tz="America/New_York", days=frozenset(range(7)), start=time(0), end=time(6))
    # Sunday 8 March 00:00-06:00 local is only five real hours: 02:00 jumps to 03:00.
    sunday = at("2026-03-08 00:00", "America/New_York")
    assert due_at(sunday, timedelta(hours=3), calendar, set()) == at(
        "2026-03-08 04:00", "America/New_York"
    )
    assert business_time_between(
        sunday, at("2026-03-08 12:00", "America/New_York"), calendar, set()
    ) == timedelta(hours=5)


def test_business_hours_that_span_the_fall_back_hour_count_the_repeated_hour() -> None:
    calendar = Calendar(tz="America/New_York", days=frozenset(range(7)), start=time(0), end=time(6))
    sunday = at("2026-11-01 00:00", "America/New_York")
    assert business_time_between(
        sunday, at("2026-11-01 12:00", "America/New_York"), calendar, set()
    ) == timedelta(hours=7)
    assert due_at(sunday, timedelta(hours=7), calendar, set()) == at(
        "2026-11-01 06:00", "America/New_York"
    )


def test_sydney_working_day_after_daylight_saving_starts_is_still_eight_hours() -> None:
    calendar = a_calendar(tz="Australia/Sydney")
    holidays = holidays_for("AU", "AU-NSW", [2026])  # Monday 5 October is Labour Day
    due = due_at(at("2026-10-02 17:00", "Australia/Sydney"), timedelta(hours=8), calendar, holidays)
    assert due == at("2026-10-06 17:00", "Australia/Sydney")


def test_wall_clock_due_time_adds_real_hours_across_spring_forward() -> None:
    due = wall_due_at(at("2026-03-07 23:00", "America/New_York"), timedelta(hours=24))
    assert due == at("2026-03-09 00:00", "America/New_York")
    assert due.tzinfo == ZoneInfo("America/New_York")


# --- business_time_between ---------------------------------------------------------------


def test_business_time_from_friday_afternoon_to_monday_morning_is_two_hours() -> None:
    start, end = at("2026-06-05 16:00", "Europe/London"), at("2026-06-08 10:00", "Europe/London")
    assert business_time_between(start, end, a_calendar(), set()) == timedelta(hours=2)
    assert business_time_between(end, start, a_calendar(), set()) == -timedelta(hours=2)


def test_business_time_between_undoes_due_at_for_many_starts_and_durations() -> None:
    holidays = holidays_for("US", "US-NY", [2026, 2027])
    calendar = a_calendar(tz="America/New_York", hours=("08:30", "17:45"))
    start = at("2026-02-27 06:10", "America/New_York")
    for step in range(0, 24 * 300, 37):  # starts spread over ~10 months, at odd minutes
        begin = start + timedelta(hours=step / 24 * 10, minutes=step % 60)
        for minutes in (0, 1, 59, 555, 556, 3000, 20_000):
            duration = timedelta(minutes=minutes)
            due = due_at(begin, duration, calendar, holidays)
            assert business_time_between(begin, due, calendar, holidays) == duration


# --- validation --------------------------------------------------------------------------


def test_naive_datetimes_are_refused_because_their_zone_is_a_guess() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        due_at(datetime(2026, 6, 1, 9), timedelta(hours=1), a_calendar(), NO_HOLIDAYS)  # noqa: DTZ001


def test_negative_durations_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        due_at(at("2026-06-01 09:00", "UTC"), timedelta(hours=-1), a_calendar(), NO_HOLIDAYS)


@pytest.mark.parametrize(
    ("tz", "hours", "days", "message"),
    [
        ("Mars/Olympus", ("09:00", "17:00"), range(5), "unknown time zone"),
        ("Europe/Paris", ("17:00", "09:00"), range(5), "end after they start"),
        ("Europe/Paris", ("9am", "5pm"), range(5), "HH:MM"),
        ("Europe/Paris", ("09:00", "17:00"), (), "non-empty"),
        ("Europe/Paris", ("09:00", "17:00"), (7,), "subset of 0..6"),
    ],
)
def test_impossible_calendars_are_refused(
    tz: str, hours: tuple[str, str], days: range | tuple[int, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Calendar.of(tz, hours=hours, days=days)


def test_a_calendar_with_every_working_day_a_holiday_fails_instead_of_looping() -> None:
    calendar = Calendar.of("UTC", days={0})
    every_monday = {date(2026, 1, 5) + timedelta(weeks=n) for n in range(600)}
    with pytest.raises(ValueError, match="no working day"):
        due_at(at("2026-01-01 00:00", "UTC"), timedelta(hours=1), calendar, every_monday)
