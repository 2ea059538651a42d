"""The SLA state machine: timers planned at assignment, and what each one does when due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.handoff.business_hours import Calendar, holidays_for
from services.handoff.sla import (
    Breach,
    SlaState,
    Timer,
    TimerKind,
    Warn,
    after_breach,
    fire,
    on_attempt,
    on_closed,
    plan_timers,
    rearm_timers,
    time_to_first_contact,
)
from shared.events import SlaTerms

SYDNEY = Calendar.of("Australia/Sydney", hours=("09:00", "17:00"))
HOUR = 3600
DAY = 24 * HOUR


def at(text: str, tz: str = "Australia/Sydney") -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz))


def hot_terms(**overrides: object) -> SlaTerms:
    values: dict[str, object] = {
        "tier": "hot",
        "first_contact_seconds": HOUR,
        "business_hours": True,
        "warn_at_fraction": 0.5,
        "attempts_min": 3,
        "attempts_window_seconds": 2 * DAY,
        "on_breach": ("reassign", "escalate"),
    }
    values.update(overrides)
    return SlaTerms.model_validate(values)


# --- planning ----------------------------------------------------------------------------


def test_hot_lead_assigned_friday_1630_in_sydney_warns_and_breaches_monday_morning() -> None:
    timers = plan_timers(
        hot_terms(), assigned_at=at("2026-11-20 16:30"), calendar=SYDNEY, holidays=set()
    )
    assert timers == [
        Timer("first_contact_warning", at("2026-11-20 17:00")),  # half the hour, at closing
        Timer("attempts_breach", at("2026-11-22 16:30")),  # wall-clock days, weekend included
        Timer("first_contact_breach", at("2026-11-23 09:30")),
    ]


def test_first_contact_counts_wall_time_when_the_terms_ignore_business_hours() -> None:
    terms = hot_terms(business_hours=False, warn_at_fraction=0.75)
    timers = plan_timers(terms, assigned_at=at("2026-11-21 22:00"), calendar=SYDNEY, holidays=set())
    due = {t.kind: t.due_at for t in timers}
    assert due["first_contact_warning"] == at("2026-11-21 22:45")
    assert due["first_contact_breach"] == at("2026-11-21 23:00")


def test_warning_skips_the_holiday_like_the_breach_does() -> None:
    london = Calendar.of("Europe/London")
    terms = hot_terms(first_contact_seconds=4 * HOUR, warn_at_fraction=0.75)
    timers = plan_timers(
        terms,
        assigned_at=at("2026-08-28 15:00", "Europe/London"),
        calendar=london,
        holidays=holidays_for("GB", "GB-ENG", [2026]),
    )
    due = {t.kind: t.due_at for t in timers}
    assert due["first_contact_warning"] == at("2026-09-01 10:00", "Europe/London")
    assert due["first_contact_breach"] == at("2026-09-01 11:00", "Europe/London")


def test_timers_are_given_in_the_reps_time_zone_whatever_the_assignment_zone() -> None:
    timers = plan_timers(
        hot_terms(),
        assigned_at=datetime(2026, 11, 20, 5, 30, tzinfo=UTC),
        calendar=SYDNEY,
        holidays=set(),
    )
    assert {t.due_at.tzinfo for t in timers} == {ZoneInfo("Australia/Sydney")}


@pytest.mark.parametrize("fraction", [0.0, 1.0])
def test_no_warning_is_planned_when_the_fraction_leaves_nothing_to_warn_about(
    fraction: float,
) -> None:
    timers = plan_timers(
        hot_terms(warn_at_fraction=fraction),
        assigned_at=at("2026-11-18 10:00"),
        calendar=SYDNEY,
        holidays=set(),
    )
    assert "first_contact_warning" not in {t.kind for t in timers}


def test_no_attempts_timer_when_the_contract_requires_no_attempts() -> None:
    timers = plan_timers(
        hot_terms(attempts_min=0),
        assigned_at=at("2026-11-18 10:00"),
        calendar=SYDNEY,
        holidays=set(),
    )
    assert "attempts_breach" not in {t.kind for t in timers}


# --- firing ------------------------------------------------------------------------------

ASSIGNED = SlaState(assigned_at=at("2026-11-18 10:00"))


def test_warning_fires_when_nobody_has_tried_yet() -> None:
    assert fire("first_contact_warning", ASSIGNED, hot_terms()) == [Warn()]


def test_warning_and_breach_are_no_ops_once_the_rep_has_tried() -> None:
    state = on_attempt(ASSIGNED, at("2026-11-18 10:20"))
    assert fire("first_contact_warning", state, hot_terms()) == []
    assert fire("first_contact_breach", state, hot_terms()) == []


def test_first_breach_follows_the_first_action_of_the_contract() -> None:
    assert fire("first_contact_breach", ASSIGNED, hot_terms()) == [
        Breach("first_contact", "reassign")
    ]


def test_breach_chain_goes_reassign_then_escalate_then_recycle() -> None:
    terms = hot_terms()
    state = ASSIGNED
    seen = []
    moments = iter(at(f"2026-11-{d} 11:00") for d in (18, 19, 20, 23))
    while state.status == "active":
        (breach,) = fire("first_contact_breach", state, terms)
        assert isinstance(breach, Breach)
        seen.append(breach.action)
        state = after_breach(state, breach, at=next(moments))
    assert seen == ["reassign", "escalate", "recycle"]
    assert state.breaches == 3
    assert fire("first_contact_warning", state, terms) == []
    assert fire("attempts_breach", state, terms) == []


def test_reassignment_starts_a_fresh_clock_for_the_new_rep_and_keeps_the_breach_count() -> None:
    tried = on_attempt(ASSIGNED, at("2026-11-18 12:00"))
    state = after_breach(tried, Breach("attempts", "reassign"), at=at("2026-11-20 10:00"))
    assert state == SlaState(assigned_at=at("2026-11-20 10:00"), breaches=1)


def test_escalation_keeps_the_rep_and_the_clocks() -> None:
    tried = on_attempt(ASSIGNED, at("2026-11-18 12:00"))
    state = after_breach(tried, Breach("attempts", "escalate"), at=at("2026-11-20 10:00"))
    assert state == SlaState(
        assigned_at=ASSIGNED.assigned_at,
        first_attempt_at=at("2026-11-18 12:00"),
        attempts=1,
        breaches=1,
    )


def test_empty_breach_list_recycles_on_the_first_breach() -> None:
    assert fire("first_contact_breach", ASSIGNED, hot_terms(on_breach=())) == [
        Breach("first_contact", "recycle")
    ]


def test_too_few_attempts_in_the_window_is_an_attempts_breach() -> None:
    state = on_attempt(on_attempt(ASSIGNED, at("2026-11-18 10:05")), at("2026-11-19 10:05"))
    assert fire("attempts_breach", state, hot_terms()) == [Breach("attempts", "reassign")]


def test_enough_attempts_in_the_window_is_no_breach() -> None:
    state = ASSIGNED
    for day in (18, 19, 20):
        state = on_attempt(state, at(f"2026-11-{day} 10:05"))
    assert fire("attempts_breach", state, hot_terms()) == []


def test_attempts_breach_after_a_first_contact_breach_takes_the_next_action() -> None:
    state = after_breach(ASSIGNED, Breach("first_contact", "escalate"), at=at("2026-11-18 11:00"))
    assert fire("attempts_breach", state, hot_terms()) == [Breach("attempts", "escalate")]


@pytest.mark.parametrize(
    "kind", ["first_contact_warning", "first_contact_breach", "attempts_breach"]
)
def test_a_closed_lead_fires_nothing(kind: TimerKind) -> None:
    state = on_closed(ASSIGNED)
    assert fire(kind, state, hot_terms()) == []


# --- attempts and time to first contact --------------------------------------------------


def test_attempts_reported_out_of_order_keep_the_earliest_as_first_contact() -> None:
    state = on_attempt(ASSIGNED, at("2026-11-18 11:00"))
    state = on_attempt(state, at("2026-11-18 10:30"))
    assert state.first_attempt_at == at("2026-11-18 10:30")
    assert state.attempts == 2


def test_time_to_first_contact_is_elapsed_time_across_a_dst_change() -> None:
    assigned = at("2026-03-08 01:30", "America/New_York")  # EST
    attempted = at("2026-03-08 03:30", "America/New_York")  # EDT, one real hour later
    assert time_to_first_contact(assigned, attempted) == timedelta(hours=1)


def test_an_attempt_logged_before_assignment_counts_as_immediate_contact() -> None:
    assert time_to_first_contact(at("2026-11-18 10:00"), at("2026-11-18 09:50")) == timedelta(0)


# --- escalation re-arms the clock that breached -------------------------------------------


def test_escalating_a_first_contact_breach_rearms_warning_and_breach_from_now() -> None:
    timers = rearm_timers(
        hot_terms(), "first_contact", at=at("2026-11-20 16:50"), calendar=SYDNEY, holidays=set()
    )
    assert timers == [
        Timer("first_contact_warning", at("2026-11-23 09:20")),  # 10 minutes Friday, 20 Monday
        Timer("first_contact_breach", at("2026-11-23 09:50")),
    ]


def test_escalating_an_attempts_breach_gives_a_fresh_attempts_window() -> None:
    timers = rearm_timers(
        hot_terms(), "attempts", at=at("2026-11-20 16:50"), calendar=SYDNEY, holidays=set()
    )
    assert timers == [Timer("attempts_breach", at("2026-11-22 16:50"))]
