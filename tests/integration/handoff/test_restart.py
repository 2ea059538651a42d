"""SLA clocks are rows: a lead assigned before a restart breaches after it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from services.handoff.scanner import scan_once
from shared.tansu import free_port, start_tansu
from tests.integration.handoff.conftest import a_harness, a_scored


async def test_a_clock_set_before_a_restart_fires_after_it(broker: str, tmp_path: Path) -> None:
    # A fresh broker after the restart: a consumer group whose member vanished mid-join
    # makes the next member wait out the session timeout, and the broker is not under test.
    port = free_port()
    second_broker = start_tansu(port, log=tmp_path / "tansu-2.log")
    event = a_scored(team="na")
    lead_id = event.data.lead.lead_id
    async with a_harness(broker, tmp_path) as before:
        for rep in ("ana", "ben"):
            await before.put_rep(f"rep-{rep}", "na")
        await before.feed(event)
        assigned_to = (await before.lead(lead_id))["rep_id"]
        later = before.clock.now() + timedelta(minutes=10)
    try:
        async with a_harness(f"127.0.0.1:{port}", tmp_path) as after:
            after.clock.set(later)
            result = await scan_once(
                after.app.state.runtime.sessionmaker, after.app.state.handoff, batch_size=1
            )
            view = await after.lead(lead_id)
    finally:
        second_broker.kill()
        second_broker.wait()
    assert result.breaches == 1
    assert result.warnings == 1
    assert view["breaches"] == 1
    assert view["rep_id"] not in (None, assigned_to)
