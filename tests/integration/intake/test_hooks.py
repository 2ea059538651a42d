"""POST /v1/hooks/mautic: Mautic's own payloads, signed, become leads once."""

from __future__ import annotations

import json
from typing import Any

from services.intake.hooks.model import hmac_sha256_base64
from tests.infra import read_topic
from tests.integration.intake.conftest import HOOK_SECRET, Intake
from tests.unit.intake.test_mautic import a_contact, form_submit_payload, new_contact_payload


def signed(payload: Any) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    return body, {
        "content-type": "application/json",
        "Webhook-Signature": hmac_sha256_base64(HOOK_SECRET, body),
    }


async def test_a_new_mautic_contact_is_a_lead_with_its_points(intake: Intake, broker: str) -> None:
    body, headers = signed(new_contact_payload())
    answer = await intake.client.post("/v1/hooks/mautic", content=body, headers=headers)
    assert answer.status_code == 202, answer.text
    [result] = answer.json()["results"]
    assert result["status"] == "accepted"
    [record] = await read_topic(
        broker, "leads.received", opened=True, until=lambda rs: len(rs) >= 1
    )
    lead = record["value"]["data"]
    assert record["key"] == result["lead_id"]
    assert (lead["channel"], lead["source"]) == ("hook", "campaign")
    assert lead["attributes"]["mautic_points"] == 35
    assert lead["touches"][0]["type"] == "mautic_contact_created"


async def test_a_redelivery_gets_its_first_answer_and_stores_nothing(intake: Intake) -> None:
    body, headers = signed(new_contact_payload())
    first = await intake.client.post("/v1/hooks/mautic", content=body, headers=headers)
    stored = await intake.stored()
    again = await intake.client.post("/v1/hooks/mautic", content=body, headers=headers)
    assert await intake.stored() == stored
    [result] = again.json()["results"]
    assert result["replayed"] is True
    assert result["lead_id"] == first.json()["results"][0]["lead_id"]


async def test_a_form_submission_of_a_known_contact_merges_into_its_lead(
    intake: Intake, broker: str
) -> None:
    body, headers = signed(new_contact_payload())
    created = await intake.client.post("/v1/hooks/mautic", content=body, headers=headers)
    lead_id = created.json()["results"][0]["lead_id"]
    body, headers = signed(form_submit_payload())
    merged = await intake.client.post("/v1/hooks/mautic", content=body, headers=headers)
    [result] = merged.json()["results"]
    assert (result["status"], result["duplicate_of"]) == ("duplicate", lead_id)
    records = await read_topic(broker, "leads.received", opened=True, until=lambda rs: len(rs) >= 2)
    updated = records[-1]["value"]
    assert updated["type"] == "com.leadrelay.lead.updated.v1"
    assert "form_submit" in [t["type"] for t in updated["data"]["touches"]]


async def test_one_delivery_may_carry_several_events_answered_in_order(
    sqlite_intake: Intake,
) -> None:
    payload = {
        "mautic.lead_post_save_new": [
            {"contact": a_contact(email="one@acme.io"), "timestamp": "2026-01-19T08:00:00Z"},
            {"contact": a_contact(email=""), "timestamp": "2026-01-19T08:00:00Z"},
            {"contact": a_contact(email="two@acme.io"), "timestamp": "2026-01-19T08:00:00Z"},
        ]
    }
    body, headers = signed(payload)
    answer = await sqlite_intake.client.post("/v1/hooks/mautic", content=body, headers=headers)
    assert [(r["index"], r["status"]) for r in answer.json()["results"]] == [
        (0, "accepted"),
        (1, "skipped"),
        (2, "accepted"),
    ]
    assert (await sqlite_intake.stored())["leads"] == 2
