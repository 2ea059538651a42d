"""No lead lost while Kafka is down: posts still answer 202, and once the broker is back
every accepted lead is published (as one event; a resend after Tansu wrote over acknowledged
records may repeat it, which consumers' inboxes absorb)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from services.intake.tables import leads
from shared.tansu import free_port, start_tansu
from tests.conftest import a_lead
from tests.infra import eventually, read_topic
from tests.integration.intake.conftest import an_intake

pytestmark = pytest.mark.faults


async def test_leads_posted_while_the_broker_is_down_are_published_when_it_returns(
    db_urls: dict[str, str], keys_file: Path, tmp_path: Path
) -> None:
    port = free_port()
    bootstrap = f"127.0.0.1:{port}"
    broker = start_tansu(port, log=tmp_path / "tansu-1.log")
    try:
        async with an_intake(db_urls["intake"], bootstrap, keys_file, tmp_path) as intake:

            async def ready() -> bool:
                return (await intake.client.get("/readyz")).status_code == 200

            await eventually(ready)
            broker.kill()
            broker.wait()

            async def post(i: int) -> int:
                answer = await intake.client.post("/v1/leads", json=a_lead(), headers=intake.admin)
                return answer.status_code

            started = time.monotonic()
            codes = []
            for start in range(0, 500, 50):
                codes += await asyncio.gather(*(post(i) for i in range(start, start + 50)))
            assert codes == [202] * 500
            print(f"500 posts with the broker down: {time.monotonic() - started:.1f}s")

            down = await intake.client.get("/readyz")
            assert down.status_code == 503
            # Two rows a lead: its data key (for leads.keys), then its lead.received.
            assert down.json()["checks"]["outbox_backlog"] == 1000
            assert down.json()["checks"]["broker"].startswith("unreachable")

            # Tansu keeps nothing: a new one on the same address, as after a restart.
            broker = start_tansu(port, log=tmp_path / "tansu-2.log")

            async def drained() -> bool:
                answer = await intake.client.get("/readyz")
                return answer.status_code == 200 and answer.json()["checks"]["outbox_backlog"] == 0

            started = time.monotonic()
            await eventually(drained, timeout=60)
            print(f"backlog published {time.monotonic() - started:.1f}s after the restart")
            async with intake.app.state.runtime.sessionmaker() as session:
                lead_ids = set((await session.execute(select(leads.c.lead_id))).scalars())
        assert len(lead_ids) == 500

        # Every lead is on the topic, once as an event (one event id per lead). The same
        # event may be on it twice: when Tansu, just restarted, gives an abandoned producer's
        # retried batch and the fresh producer's batch the same offsets (writing over what it
        # had acknowledged), the relay sends the topic's rows again; consumers drop repeats.
        records = await read_topic(
            bootstrap, "leads.received", until=lambda rs: len(rs) > 1000, timeout=5
        )
        assert {r["value"]["data"]["lead_id"] for r in records} == lead_ids
        ids_by_lead: dict[str, set[str]] = {}
        for r in records:
            ids_by_lead.setdefault(r["value"]["data"]["lead_id"], set()).add(r["value"]["id"])
        assert all(len(ids) == 1 for ids in ids_by_lead.values())
        print(f"{len(records)} records for 500 leads ({len(records) - 500} sent again)")
        assert all(r["value"]["type"] == "com.leadrelay.lead.received.v1" for r in records)
    finally:
        broker.kill()
        broker.wait()
