"""Web forms: the forms file, and how a browser's post maps to a lead."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from services.intake.forms import (
    FormConfig,
    FormsFileError,
    error_redirect,
    is_bot,
    load_forms,
    map_post,
)
from services.intake.schemas import FieldError, LeadIn

NOW = datetime(2026, 1, 20, 9, 30, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[3]


def a_form(**config: Any) -> FormConfig:
    return FormConfig.model_validate(config)


def test_the_example_forms_file_in_the_repo_loads() -> None:
    forms = load_forms((ROOT / "forms.yaml").read_text())
    assert "demo" in forms
    assert forms["demo"].honeypot == "website"


def test_a_forms_file_names_every_form_and_field_at_fault() -> None:
    text = """
forms:
  contact:
    fields: {email: emial}
    allowed_origins: ["https://example.com/path"]
  "Bad Id": {}
  ok:
    thank_you_url: "javascript:alert(1)"
    colour: blue
"""
    with pytest.raises(FormsFileError) as caught:
        load_forms(text)
    problems = "\n".join(caught.value.problems)
    assert "forms.contact.fields: Value error" not in problems
    assert "forms.contact.fields:" in problems
    assert "'emial'" in problems
    assert "forms.contact.allowed_origins:" in problems
    assert "forms.Bad Id:" in problems
    assert "forms.ok.thank_you_url:" in problems
    assert "forms.ok.colour: unknown field" in problems


@pytest.mark.parametrize("text", ["", "forms:", "forms: {}"])
def test_an_empty_forms_file_has_no_forms(text: str) -> None:
    assert load_forms(text) == {}


@pytest.mark.parametrize("text", ["[1, 2]", "forms: [a]", "other: {}", "forms: {a: [1]}", ": :"])
def test_a_forms_file_of_the_wrong_shape_is_refused(text: str) -> None:
    with pytest.raises(FormsFileError):
        load_forms(text)


def test_mapped_fields_aliases_and_defaults_make_the_lead() -> None:
    form = a_form(
        name="Contact us",
        campaign_id="site",
        fields={"work_email": "email", "size": "attributes.employees"},
    )
    post = map_post(
        "contact",
        form,
        {
            "work_email": ["ada@example.com"],
            "First Name": ["Ada"],
            "utm_source": ["newsletter"],
            "size": ["250"],
            "favourite_colour": ["blue"],
            "_key": ["lr_x_y"],
        },
        now=NOW,
    )
    assert post.data == {
        "source": "web",
        "campaign_id": "site",
        "email": "ada@example.com",
        "first_name": "Ada",
        "utm": {"utm_source": "newsletter"},
        "attributes": {"employees": 250},
        "touches": [{"type": "form_submit", "at": NOW.isoformat(), "detail": "Contact us"}],
    }
    LeadIn.model_validate(post.data)


def test_unknown_fields_become_attributes_only_when_the_form_says_so() -> None:
    form = a_form(unknown_fields="attributes")
    post = map_post("f", form, {"email": ["a@b.co"], "Team Size": ["12"]}, now=NOW)
    assert post.data["attributes"] == {"team_size": 12}


def test_an_unticked_consent_checkbox_records_false_and_a_ticked_one_true() -> None:
    form = a_form(fields={"news": "consent.marketing_email", "calls": "consent.phone"})
    post = map_post("f", form, {"email": ["a@b.co"], "news": ["on"]}, now=NOW)
    assert post.data["consent"] == {"marketing_email": "on", "phone": False}
    assert LeadIn.model_validate(post.data).consent == {"marketing_email": True, "phone": False}


def test_repeated_fields_are_joined_and_blank_ones_are_absent() -> None:
    form = a_form(fields={"interest": "attributes.interests"})
    post = map_post(
        "f", form, {"email": ["a@b.co"], "interest": ["crm", " ", "api"], "company": [""]}, now=NOW
    )
    assert post.data["attributes"] == {"interests": "crm, api"}
    assert "company" not in post.data


def test_a_filled_honeypot_is_a_bot_an_empty_one_is_not() -> None:
    form = a_form(honeypot="website")
    assert is_bot(form, {"website": ["http://spam.example"]})
    assert not is_bot(form, {"website": [""]})
    assert not is_bot(form, {})
    assert not is_bot(a_form(), {"website": ["x"]})


def test_errors_point_back_at_the_form_fields_that_caused_them() -> None:
    form = a_form(fields={"work_email": "email", "size": "attributes.employees"})
    post = map_post("f", form, {"work_email": ["nope"], "size": ["x" * 2000]}, now=NOW)
    with pytest.raises(ValidationError):
        LeadIn.model_validate(post.data)
    errors = [
        FieldError(pointer="/email", message="bad"),
        FieldError(pointer="/attributes/employees", message="too long"),
    ]
    assert post.form_fields_at_fault(errors) == ["work_email", "size"]
    assert error_redirect("https://x.example/oops", ["work_email", "size"]) == (
        "https://x.example/oops?errors=work_email%2Csize"
    )
    assert error_redirect("https://x.example/oops?lang=de", ["a"]).endswith("?lang=de&errors=a")


@pytest.mark.parametrize(
    ("allowed", "origin", "ok"),
    [
        (["https://www.example.com"], "https://www.example.com", True),
        (["https://www.example.com"], "HTTPS://WWW.EXAMPLE.COM/", True),
        (["https://www.example.com"], "https://evil.example", False),
        (["https://www.example.com"], "null", False),
        (["*"], "https://anything.example", True),
        ([], "https://www.example.com", False),
        ([], None, True),
    ],
)
def test_origins_are_matched_exactly_or_by_star(
    allowed: list[str], origin: str | None, ok: bool
) -> None:
    assert a_form(allowed_origins=allowed).allows_origin(origin) is ok


@pytest.mark.parametrize(
    "config",
    [
        {"fields": {"e": "emails"}},
        {"fields": {"e": "utm.utm_nope"}},
        {"fields": {"e": "attributes.Bad Key"}},
        {"fields": {"_key": "email"}},
        {"source": "tv"},
        {"allowed_origins": ["https://x.example/path"]},
        {"allowed_origins": ["ftp://x.example"]},
        {"thank_you_url": "/relative"},
        {"error_url": "javascript:alert(1)"},
        {"touch_type": "Not A Key"},
    ],
)
def test_invalid_form_configurations_are_refused(config: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        FormConfig.model_validate(config)
