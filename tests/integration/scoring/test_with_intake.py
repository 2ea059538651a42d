"""End to end through intake: the same person posted twice merges into one lead, intake
publishes lead.updated, and scoring decides again and publishes the changed decision."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.intake.app import create_app as intake_app
from services.intake.settings import IntakeSettings
from services.scoring.app import create_app as scoring_app
from services.scoring.settings import ScoringSettings
from shared.clock import FixedClock
from tests.conftest import a_lead
from tests.infra import eventually, read_topic, running, service_env
from tests.integration.scoring.conftest import NOW


@pytest.mark.parametrize("db_urls", ["sqlite"], indirect=True)
async def test_a_merged_duplicate_is_scored_again_and_the_change_published(
    db_urls: dict[str, str], broker: str, keys_file: Path, auth: dict[str, str]
) -> None:
    intake = intake_app(
        IntakeSettings(**service_env(db_urls["intake"], broker, keys_file)),
        clock=FixedClock(NOW),
    )
    scoring = scoring_app(
        ScoringSettings(**service_env(db_urls["scoring"], broker, keys_file)),
        clock=FixedClock(NOW),
    )
    # A manager (10) at a 500-person (20) US (10) company with no touch: 40, nurture.
    first = a_lead(job_title="Marketing Manager", touches=[])
    again = {
        **first,
        "touches": [
            {"type": "demo_request", "at": "2026-11-24T14:00:00Z"},
            {"type": "webinar", "at": "2026-11-24T13:00:00Z"},
        ],
    }
    async with running(intake) as i, running(scoring) as s:
        answer = await i.post("/v1/leads", json=first, headers=auth)
        assert answer.status_code == 202, answer.text
        lead_id = answer.json()["lead_id"]

        async def outcome() -> str | None:
            r = await s.get(f"/v1/leads/{lead_id}/score", headers=auth)
            return r.json()["outcome"] if r.status_code == 200 else None

        assert await eventually(outcome, timeout=20) == "nurture"
        duplicate = await i.post("/v1/leads", json=again, headers=auth)
        assert duplicate.status_code == 202, duplicate.text
        assert duplicate.json()["lead_id"] == lead_id

        async def requalified() -> bool:
            return await outcome() == "qualified"

        await eventually(requalified, timeout=20)

    records = await read_topic(
        broker, "leads.scored", until=lambda rs: sum(r["key"] == lead_id for r in rs) >= 2
    )
    published = [r["value"]["data"] for r in records if r["key"] == lead_id]
    assert [(d["decision"]["outcome"], d.get("previous_outcome")) for d in published] == [
        ("nurture", None),
        ("qualified", "nurture"),
    ]
    assert published[1]["lead"]["revision"] == 2
    assert published[1]["decision"]["score"] > 65
