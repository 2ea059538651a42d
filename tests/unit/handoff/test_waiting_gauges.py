"""The awaiting-first-contact gauges read every awaiting lead: the scanner's loop refreshes
them at most every GAUGE_SECONDS of the handoff clock; a pass called on its own always does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.handoff import scanner
from shared import metrics

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[datetime]:
    seen: list[datetime] = []

    async def awaiting_first_contact(_session: Any, now: datetime) -> list[dict[str, Any]]:
        seen.append(now)
        return [{"team": "emea", "tier": "hot", "waiting": len(seen), "oldest": T0, "overdue": 0}]

    monkeypatch.setattr(scanner.store, "awaiting_first_contact", awaiting_first_contact)
    return seen


def _waiting() -> float:
    return float(metrics.AWAITING_FIRST_CONTACT.labels("emea", "hot")._value.get())


async def test_the_loops_gauges_are_read_at_most_every_gauge_seconds(reads: list[datetime]) -> None:
    loop = scanner.Scanner(sessionmaker=None, handoff=None)  # type: ignore[arg-type]
    gauges = loop.gauges
    assert gauges.every == scanner.GAUGE_SECONDS
    for second in (0, 1, 2, 4):
        await gauges.observe(None, T0 + timedelta(seconds=second))
    assert reads == [T0]
    assert _waiting() == 1
    later = T0 + timedelta(seconds=scanner.GAUGE_SECONDS)
    await gauges.observe(None, later)
    assert reads == [T0, later]
    assert _waiting() == 2


async def test_a_pass_on_its_own_always_reads(reads: list[datetime]) -> None:
    gauges = scanner.WaitingGauges()
    await gauges.observe(None, T0)
    await gauges.observe(None, T0)
    assert reads == [T0, T0]


async def test_a_clock_stepped_back_refreshes_them(reads: list[datetime]) -> None:
    gauges = scanner.WaitingGauges(every=scanner.GAUGE_SECONDS)
    await gauges.observe(None, T0)
    earlier = T0 - timedelta(hours=1)  # an NTP step, a test's clock set back
    await gauges.observe(None, earlier)
    await gauges.observe(None, earlier + timedelta(seconds=1))
    assert reads == [T0, earlier]
