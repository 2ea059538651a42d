"""SLA due times on a FixedClock: leads assigned late on a Friday or before a public holiday
count only the rep's business hours, in the rep's own time zone and region."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.integration.handoff.conftest import WARM, Harness, a_scored


def at(text: str, tz: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz))


def utc_text(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo("UTC")).isoformat().replace("+00:00", "Z")


CASES = [
    pytest.param(
        {"time_zone": "Australia/Sydney", "country": "AU", "subdivision": "AU-NSW"},
        at("2026-11-20 16:55", "Australia/Sydney"),  # Friday, 5 minutes before closing
        at("2026-11-23 12:55", "Australia/Sydney"),  # 3h55 more on Monday
        id="sydney-friday-late",
    ),
    pytest.param(
        {"time_zone": "Europe/London", "country": "GB", "subdivision": "GB-ENG"},
        at("2026-08-28 16:30", "Europe/London"),  # Friday before the August bank holiday
        at("2026-09-01 12:30", "Europe/London"),  # Monday 31 August skipped in England
        id="london-before-bank-holiday",
    ),
    pytest.param(
        {"time_zone": "Europe/London", "country": "GB", "subdivision": "GB-SCT"},
        at("2026-08-28 16:30", "Europe/London"),
        at("2026-08-31 12:30", "Europe/London"),  # Scotland works that Monday
        id="edinburgh-same-friday",
    ),
    pytest.param(
        {
            "time_zone": "America/Los_Angeles",
            "working_hours": ["08:00", "16:00"],
            "country": "US",
            "subdivision": "US-CA",
        },
        at("2026-11-25 15:00", "America/Los_Angeles"),  # Wednesday before Thanksgiving
        at("2026-11-30 11:00", "America/Los_Angeles"),  # Thu, Fri (California), weekend
        id="california-thanksgiving",
    ),
    pytest.param(
        {
            "time_zone": "Europe/Berlin",
            "working_hours": ["08:30", "17:00"],
            "country": "DE",
            "subdivision": "DE-BY",
        },
        at("2026-01-05 16:00", "Europe/Berlin"),  # Monday before Epiphany
        at("2026-01-07 11:30", "Europe/Berlin"),  # Tuesday 6 January is off in Bavaria
        id="bavaria-epiphany",
    ),
    pytest.param(
        {"time_zone": "America/New_York", "country": "US", "subdivision": "US-NY"},
        at("2026-03-06 16:00", "America/New_York"),  # Friday before spring forward
        at("2026-03-09 12:00", "America/New_York"),  # Monday, now in daylight time
        id="new-york-friday-before-dst",
    ),
]


@pytest.mark.parametrize(("calendar", "assigned_at", "due"), CASES)
async def test_warm_lead_is_due_after_four_business_hours_of_the_reps_calendar(
    harness: Harness, calendar: dict[str, Any], assigned_at: datetime, due: datetime
) -> None:
    team = harness.team("due")
    await harness.put_rep(f"{team}-rep", team, **calendar)
    harness.clock.set(assigned_at)
    event = a_scored(team=team, sla=WARM)
    await harness.feed(event)
    view = await harness.lead(event.data.lead.lead_id)
    assert view["assigned_at"] == utc_text(assigned_at)
    assert view["sla"]["first_contact_due_at"] == utc_text(due)
    assert {t["kind"]: t["due_at"] for t in view["sla"]["pending"]}[
        "first_contact_breach"
    ] == utc_text(due)
    # Nothing fires a second early; at the due time the breach does.
    harness.clock.set(due - timedelta(seconds=1))
    await harness.scan()
    assert (await harness.lead(event.data.lead.lead_id))["breaches"] == 0
    harness.clock.set(due)
    await harness.scan()
    breached = await harness.lead(event.data.lead.lead_id)
    assert breached["breaches"] == 1
    assert "sla_breached" in [e["kind"] for e in breached["timeline"]]
