"""What a lead looks like on the way in: validation normalises it, errors point at fields."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from services.intake.schemas import (
    SOURCES,
    BatchRowResult,
    FieldError,
    LeadAccepted,
    LeadIn,
    field_errors,
)

RECEIVED = datetime(2026, 1, 20, 9, 30, tzinfo=UTC)


def a_lead(**fields: Any) -> dict[str, Any]:
    """A valid raw lead; keyword arguments override or add fields."""
    return {"email": "ada@example.com", **fields}


def errors_of(raw: Any) -> dict[str, str]:
    """pointer -> message for a raw lead that must fail validation."""
    with pytest.raises(ValidationError) as caught:
        LeadIn.model_validate(raw)
    return {e.pointer: e.message for e in field_errors(caught.value)}


def test_a_full_lead_is_normalised_on_validation() -> None:
    lead = LeadIn.model_validate(
        {
            "email": " Ada.Lovelace@Example.COM",
            "first_name": " Ada ",
            "last_name": "Lovelace",
            "phone": "030 1234567",
            "company": "Analytical Engines GmbH",
            "job_title": "CTO",
            "country": "Germany",
            "source": "Campaign",
            "campaign_id": 2026,
            "utm": {"utm_source": "newsletter", "utm_medium": ""},
            "consent": {"marketing_email": True},
            "attributes": {"employees": 250, "budget": 1.5, "partner": False, "note": None},
            "touches": [{"type": "Form Submit", "at": "2026-01-20T10:00:00+01:00"}],
        }
    )
    assert lead.email == "ada.lovelace@example.com"
    assert lead.first_name == "Ada"
    assert lead.phone == "+49301234567"
    assert lead.country == "DE"
    assert lead.source == "campaign"
    assert lead.campaign_id == "2026"
    assert lead.utm == {"utm_source": "newsletter"}
    assert lead.attributes == {"employees": 250, "budget": 1.5, "partner": False, "note": None}
    assert type(lead.attributes["employees"]) is int
    assert lead.touches[0].type == "form_submit"


def test_the_openapi_example_is_itself_a_valid_lead() -> None:
    schema = LeadIn.model_json_schema()
    for example in schema["examples"]:
        LeadIn.model_validate(example)
    assert schema["properties"]["email"]["description"]


def test_a_lead_becomes_the_received_event_payload_with_touch_times_in_utc() -> None:
    lead = LeadIn.model_validate(
        a_lead(touches=[{"type": "webinar", "at": "2026-01-20T10:00:00+01:00", "detail": "x"}])
    )
    data = lead.to_lead_data(lead_id="L1", received_at=RECEIVED, channel="batch")
    assert data.lead_id == "L1"
    assert data.channel == "batch"
    assert data.source == "web"
    assert data.received_at == RECEIVED
    assert data.touches[0].at == datetime(2026, 1, 20, 9, 0, tzinfo=UTC)
    assert data.touches[0].at.tzinfo is UTC


def test_blank_optional_fields_are_treated_as_absent() -> None:
    lead = LeadIn.model_validate(a_lead(first_name="  ", phone="", country=" ", company=None))
    assert (lead.first_name, lead.phone, lead.country, lead.company) == (None, None, None, None)


def test_the_phone_uses_the_normalised_country_as_its_region() -> None:
    lead = LeadIn.model_validate(a_lead(country="United Kingdom", phone="020 7946 0958"))
    assert lead.phone == "+442079460958"


def test_a_missing_email_is_reported_as_required() -> None:
    assert errors_of({"first_name": "Ada"}) == {"/email": "is required"}


def test_unknown_top_level_fields_are_named_in_the_errors() -> None:
    errors = errors_of(a_lead(emial="typo@example.com", score=5))
    assert errors == {"/emial": "unknown field", "/score": "unknown field"}


def test_an_unknown_source_lists_the_known_ones() -> None:
    message = errors_of(a_lead(source="tv"))["/source"]
    assert all(source in message for source in SOURCES)


def test_nested_errors_point_into_lists_and_mappings() -> None:
    errors = errors_of(
        a_lead(
            touches=[
                {"type": "webinar", "at": "2026-01-20T10:00:00+01:00"},
                {"type": "webinar", "at": "2026-01-20T10:00:00", "where": "x"},
            ],
            consent={"marketing": "maybe"},
            attributes={"good": 1, "bad": {"nested": True}},
        )
    )
    assert errors["/touches/1/at"].startswith("must include a time zone")
    assert errors["/touches/1/where"] == "unknown field"
    assert errors["/consent/marketing"] == "must be true or false"
    assert "no objects or lists" in errors["/attributes/bad"]


def test_pointer_steps_escape_slash_and_tilde() -> None:
    errors = errors_of(a_lead(**{"a/b~c": 1}))
    assert errors == {"/a~1b~0c": "unknown field"}


def test_a_lead_that_is_not_an_object_is_reported_against_the_whole_document() -> None:
    assert errors_of(["ada@example.com"]) == {"": "must be a JSON object"}


def test_error_messages_carry_no_pydantic_noise() -> None:
    with pytest.raises(ValidationError) as caught:
        LeadIn.model_validate(a_lead(email="nope", first_name="A\x00", touches="x"))
    for error in field_errors(caught.value):
        assert "pydantic" not in error.message
        assert "Value error" not in error.message
        assert "http" not in error.message


@pytest.mark.parametrize(
    ("attributes", "pointer", "fragment"),
    [
        ({f"k{i}": i for i in range(51)}, "/attributes", "at most 50"),
        ({"Annual Budget": 1}, "/attributes", "must be lower-case"),
        ({"1st": 1}, "/attributes", "must be lower-case"),
        ({"x" * 65: 1}, "/attributes", "at most 64"),
        ({"note": "x" * 1001}, "/attributes/note", "at most 1000"),
        ({"note": ["a"]}, "/attributes/note", "no objects or lists"),
        ({"n": 2**70}, "/attributes/n", "64-bit"),
        ({"n": float("nan")}, "/attributes/n", "finite"),
        ({"n": float("inf")}, "/attributes/n", "finite"),
        ({"note": "a\x00b"}, "/attributes/note", "control characters"),
    ],
)
def test_attributes_must_be_few_flat_and_well_named(
    attributes: dict[str, Any], pointer: str, fragment: str
) -> None:
    assert fragment in errors_of(a_lead(attributes=attributes))[pointer]


def test_fifty_attributes_with_multiline_text_are_accepted() -> None:
    attributes: dict[str, Any] = {f"k{i}": i for i in range(49)}
    attributes["note"] = "first line\nsecond line"
    assert LeadIn.model_validate(a_lead(attributes=attributes)).attributes == attributes


def test_more_than_200_touches_are_refused() -> None:
    touch = {"type": "page_view", "at": "2026-01-20T10:00:00Z"}
    assert errors_of(a_lead(touches=[touch] * 201)) == {"/touches": "must have at most 200 items"}


def test_only_the_five_utm_keys_are_accepted() -> None:
    assert "utm_source" in errors_of(a_lead(utm={"utm_id": "1"}))["/utm"]


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("first_name", "A" * 101, "at most 100"),
        ("company", "Acme\nInc", "line breaks"),
        ("job_title", "CTO\u202e", "control characters"),
        ("last_name", "x\x00", "control characters"),
        ("email", "x" * 1_000_000, "at most 320"),
        ("phone", "+49 30 1234567\x00", "control characters"),
        ("country", "DE\x00", "control characters"),
    ],
)
def test_hostile_text_is_refused_with_a_field_error(field: str, value: str, fragment: str) -> None:
    assert fragment in errors_of(a_lead(**{field: value}))[f"/{field}"]


def test_deeply_nested_json_in_attributes_is_rejected_without_recursion() -> None:
    nested: Any = "leaf"
    for _ in range(10_000):
        nested = {"a": nested}
    errors = errors_of(a_lead(attributes={"deep": nested}))
    assert list(errors) == ["/attributes/deep"]


def test_the_response_models_serialise_to_the_documented_shape() -> None:
    result = BatchRowResult(
        row=3, status="rejected", errors=[FieldError(pointer="/email", message="is required")]
    )
    assert json.loads(result.model_dump_json()) == {
        "row": 3,
        "status": "rejected",
        "lead_id": None,
        "duplicate_of": None,
        "replayed": False,
        "errors": [{"pointer": "/email", "message": "is required"}],
    }
    # A batch answer leaves defaults out: 100,000 rows stay small.
    assert json.loads(result.model_dump_json(exclude_defaults=True)) == {
        "row": 3,
        "status": "rejected",
        "errors": [{"pointer": "/email", "message": "is required"}],
    }
    accepted = LeadAccepted(lead_id="L1", status="duplicate", duplicate_of="L0")
    assert accepted.model_dump() == {"lead_id": "L1", "status": "duplicate", "duplicate_of": "L0"}


def test_a_flood_of_errors_is_cut_to_twenty_and_a_count() -> None:
    with pytest.raises(ValidationError) as caught:
        LeadIn.model_validate(a_lead(**{f"junk{i}": i for i in range(1000)}))
    errors = field_errors(caught.value)
    assert len(errors) == 21
    assert errors[-1] == FieldError(pointer="", message="and 980 more errors")


def test_a_huge_unknown_key_is_not_echoed_back_whole() -> None:
    (pointer,) = errors_of(a_lead(**{"k" * 1_000_000: 1}))
    assert len(pointer) < 200
