"""Mautic's webhook payloads, as Mautic sends them, become leads with points and touches."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from typing import Any

from services.intake.hooks import ADAPTERS
from services.intake.hooks.mautic import items
from services.intake.hooks.model import hmac_sha256_base64
from services.intake.schemas import LeadIn

RECEIVED = datetime(2026, 1, 20, 12, 0, tzinfo=UTC)


def a_field(alias: str, value: Any, group: str = "core") -> dict[str, Any]:
    """One contact field as Mautic serialises it."""
    return {
        "id": "1",
        "label": alias.title(),
        "alias": alias,
        "type": "text",
        "group": group,
        "object": "lead",
        "is_fixed": "1",
        "value": value,
        "normalizedValue": value,
    }


def a_contact(**core: Any) -> dict[str, Any]:
    fields = {
        "email": "ada@acme.io",
        "firstname": "Ada",
        "lastname": "Lovelace",
        "company": "Acme",
        "position": "VP Marketing",
        "country": "Germany",
        "phone": "",
        "mobile": "+49 30 1234567",
        "city": "Berlin",
        "title": "Ms",
        "employees": 250,
        **core,
    }
    return {
        "id": 42,
        "points": 35,
        "color": None,
        "fields": {
            "core": {alias: a_field(alias, value) for alias, value in fields.items()},
            "social": {"linkedin": a_field("linkedin", None, "social")},
            "personal": [],
            "professional": [],
        },
        "dateAdded": "2026-01-19T08:00:00+00:00",
        "lastActive": "2026-01-19T09:00:00+00:00",
        "owner": None,
        "ipAddresses": [],
        "tags": [{"id": 3, "tag": "webinar-2026"}, {"id": 4, "tag": "pricing"}],
        "utmtags": [
            {
                "id": 1,
                "dateAdded": "2026-01-18T10:00:00+00:00",
                "utmCampaign": "q1-launch",
                "utmContent": None,
                "utmMedium": "email",
                "utmSource": "newsletter",
                "utmTerm": None,
                "url": "https://acme.example/pricing",
            }
        ],
        "stage": {"id": 2, "name": "MQL"},
        "doNotContact": [],
    }


def new_contact_payload(contact: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "mautic.lead_post_save_new": [
            {"contact": contact or a_contact(), "timestamp": "2026-01-19T08:00:01+00:00"}
        ],
        "timestamp": "2026-01-19T08:00:02+00:00",
    }


def form_submit_payload() -> dict[str, Any]:
    return {
        "mautic.form_on_submit": [
            {
                "submission": {
                    "id": 9,
                    "ipAddress": {"ip": "203.0.113.9"},
                    "form": {"id": 3, "name": "Request a demo", "alias": "requestademo"},
                    "lead": a_contact(),
                    "trackingId": "abc",
                    "dateSubmitted": "2026-01-19T11:30:00+00:00",
                    "referer": "https://acme.example/demo",
                    "page": None,
                    "results": {"email": "ada@acme.io", "message": "call me"},
                },
                "timestamp": "2026-01-19T11:30:01+00:00",
            }
        ]
    }


def test_a_new_contact_becomes_a_lead_with_its_points_stage_tags_and_touches() -> None:
    [item] = items(new_contact_payload(), RECEIVED)
    assert item.event == "mautic.lead_post_save_new"
    lead = LeadIn.model_validate(item.data)
    assert (lead.email, lead.first_name, lead.last_name) == ("ada@acme.io", "Ada", "Lovelace")
    assert (lead.company, lead.job_title, lead.country) == ("Acme", "VP Marketing", "DE")
    assert lead.phone == "+49301234567"
    assert lead.source == "campaign"
    assert lead.attributes == {
        "city": "Berlin",
        "employees": 250,
        "mautic_contact_id": 42,
        "mautic_points": 35,
        "mautic_stage": "MQL",
        "mautic_tags": "webinar-2026,pricing",
    }
    assert lead.utm == {
        "utm_source": "newsletter",
        "utm_medium": "email",
        "utm_campaign": "q1-launch",
    }
    assert [(t.type, t.at.isoformat(), t.detail) for t in lead.touches] == [
        ("mautic_contact_created", "2026-01-19T08:00:01+00:00", "Mautic contact"),
        ("campaign_visit", "2026-01-18T10:00:00+00:00", "q1-launch"),
    ]


def test_a_form_submission_becomes_a_lead_with_a_form_submit_touch() -> None:
    [item] = items(form_submit_payload(), RECEIVED)
    lead = LeadIn.model_validate(item.data)
    assert lead.source == "web"
    assert lead.touches[0].type == "form_submit"
    assert lead.touches[0].detail == "Request a demo"
    assert lead.touches[0].at == datetime(2026, 1, 19, 11, 30, tzinfo=UTC)
    assert lead.attributes["mautic_points"] == 35


def test_form_results_fill_what_the_contact_lacks() -> None:
    payload = form_submit_payload()
    submission = payload["mautic.form_on_submit"][0]["submission"]
    submission["lead"] = {"id": 7, "points": 0, "fields": {"core": {}}}
    submission["results"] = {"email": "bo@acme.io", "firstname": "Bo", "company_name": "Acme"}
    [item] = items(payload, RECEIVED)
    lead = LeadIn.model_validate(item.data)
    assert (lead.email, lead.first_name, lead.company) == ("bo@acme.io", "Bo", "Acme")


def test_a_flat_fields_all_map_is_read_too() -> None:
    contact = {"id": 1, "points": "12", "fields": {"all": {"email": "x@acme.io", "firstname": "X"}}}
    [item] = items(new_contact_payload(contact), RECEIVED)
    lead = LeadIn.model_validate(item.data)
    assert (lead.email, lead.first_name, lead.attributes["mautic_points"]) == ("x@acme.io", "X", 12)


def test_do_not_contact_by_email_records_no_marketing_email_consent() -> None:
    contact = a_contact()
    contact["doNotContact"] = [{"id": 1, "reason": 1, "channel": "email", "comments": ""}]
    [item] = items(new_contact_payload(contact), RECEIVED)
    assert LeadIn.model_validate(item.data).consent == {"marketing_email": False}


def test_older_mautic_naive_dates_are_utc_and_the_contact_may_be_called_lead() -> None:
    payload = {
        "mautic.lead_post_save_new": [
            {"lead": a_contact(), "timestamp": "2026-01-19 08:00:01"},
        ]
    }
    [item] = items(payload, RECEIVED)
    assert LeadIn.model_validate(item.data).touches[0].at == datetime(
        2026, 1, 19, 8, 0, 1, tzinfo=UTC
    )


def test_an_anonymous_contact_and_other_events_are_skipped_with_a_reason() -> None:
    payload = {
        **new_contact_payload(a_contact(email="")),
        "mautic.lead_points_change": [{"contact": a_contact(), "points": {"old_points": 1}}],
        "mautic.form_on_submit": ["not an object", {"submission": None}],
    }
    results = items(payload, RECEIVED)
    assert [(i.index, i.data, i.skipped) for i in results] == [
        (0, None, "no email address (an anonymous visitor)"),
        (1, None, "LeadRelay does not map this event"),
        (2, None, "the event is not a JSON object"),
        (3, None, "the event has no submission"),
    ]


def test_too_many_custom_fields_are_capped_so_the_lead_stays_valid() -> None:
    contact = a_contact(**{f"custom_{i:03d}": f"v{i}" for i in range(80)}, notes="x" * 5000)
    [item] = items(new_contact_payload(contact), RECEIVED)
    LeadIn.model_validate(item.data)


def test_the_signature_is_base64_hmac_sha256_of_the_raw_body() -> None:
    adapter = ADAPTERS["mautic"]
    body = json.dumps(new_contact_payload()).encode()
    good = hmac_sha256_base64("s3cret", body)
    assert adapter.signature_header == "Webhook-Signature"
    assert adapter.verify("s3cret", body, good)
    assert not adapter.verify("s3cret", body + b" ", good)
    assert not adapter.verify("other", body, good)
    assert not adapter.verify("s3cret", body, None)
    assert not adapter.verify("s3cret", body, "ünïcode")


def test_any_json_at_all_yields_items_never_an_exception() -> None:
    rng = random.Random(3)
    atoms: list[Any] = [None, True, 0, -1, 1.5, "", "x", "2026-01-19", [], {}, "a" * 300]
    keys = ["mautic.lead_post_save_new", "mautic.form_on_submit", "contact", "lead", "fields",
            "core", "email", "submission", "results", "utmtags", "tags", "stage", "value",
            "points", "id", "all", "doNotContact", "dateAdded", "timestamp"]  # fmt: skip

    def value(depth: int) -> Any:
        if depth > 5 or rng.random() < 0.3:
            return rng.choice(atoms)
        if rng.random() < 0.5:
            return [value(depth + 1) for _ in range(rng.randint(0, 3))]
        return {rng.choice(keys): value(depth + 1) for _ in range(rng.randint(0, 4))}

    for _ in range(3000):
        for item in items(value(0), RECEIVED):
            assert (item.data is None) == (item.skipped is not None)
