"""The walking skeleton end to end, in one process: intake -> scoring -> handoff over Kafka."""

from __future__ import annotations

from pathlib import Path

from services.handoff.app import create_app as handoff_app
from services.handoff.settings import HandoffSettings
from services.intake.app import create_app as intake_app
from services.intake.settings import IntakeSettings
from services.scoring.app import create_app as scoring_app
from services.scoring.settings import ScoringSettings
from tests.conftest import a_lead
from tests.infra import eventually, read_topic, running, service_env


async def test_a_qualified_lead_is_assigned_once_and_published_keyed_by_its_id(
    db_urls: dict[str, str], broker: str, keys_file: Path, auth: dict[str, str]
) -> None:
    intake = intake_app(IntakeSettings(**service_env(db_urls["intake"], broker, keys_file)))
    scoring = scoring_app(ScoringSettings(**service_env(db_urls["scoring"], broker, keys_file)))
    handoff = handoff_app(HandoffSettings(**service_env(db_urls["handoff"], broker, keys_file)))
    async with running(intake) as i, running(scoring) as s, running(handoff) as h:
        answer = await i.post("/v1/leads", json=a_lead(), headers=auth)
        assert answer.status_code == 202, answer.text
        lead_id = answer.json()["lead_id"]

        async def assigned() -> dict[str, object] | None:
            r = await h.get(f"/v1/leads/{lead_id}", headers=auth)
            return r.json() if r.status_code == 200 and r.json()["status"] == "assigned" else None

        view = await eventually(assigned)
        assert view["rep_id"] in {"rep-ana", "rep-ben"}
        assert [e["kind"] for e in view["timeline"]][:1] == ["received"]

        score = await s.get(f"/v1/leads/{lead_id}/score", headers=auth)
        assert score.json()["outcome"] == "qualified"

    records = await read_topic(
        broker,
        "leads.handoff",
        until=lambda rs: any(r["key"] == lead_id for r in rs),
        timeout=10,
    )
    mine = [r for r in records if r["key"] == lead_id]
    assert len(mine) == 1
    event = mine[0]["value"]
    assert event["type"] == "com.leadrelay.lead.assigned.v1"
    assert event["specversion"] == "1.0"
    assert event["source"] == "/leadrelay/handoff"
    assert event["id"]
    assert event["time"]
    assert event["data"]["rep_id"] == view["rep_id"]
