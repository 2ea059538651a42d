"""HTTP models of intake: what a lead looks like on the way in, and what each call answers.

Validating a `LeadIn` also normalises it (email, E.164 phone, ISO country, clean text), so
every channel (JSON, batch rows, form posts) gets the same rules and the same error shape.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from services.intake import normalize
from shared.events import LeadData, Touch

Source = Literal["web", "campaign", "partner", "event", "sales", "referral", "other"]
SOURCES: tuple[str, ...] = get_args(Source)
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
KEY_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
_KEY_RE = re.compile(KEY_PATTERN)
MAX_ATTRIBUTES = 50
MAX_CONSENTS = 20
MAX_TOUCHES = 200
MAX_ATTRIBUTE_TEXT = 1000
# JSON consumers (browsers, many CRMs) lose precision past 2**53; 64-bit is the column limit.
_INT_RANGE = range(-(2**63), 2**63)

# Text limits per field: generous for real data, small enough to keep rows and events lean.
TEXT_LIMITS = {
    "first_name": 100,
    "last_name": 100,
    "company": 200,
    "job_title": 200,
    "campaign_id": 128,
    "utm": 255,
    "touch_type": 64,
    "touch_detail": 1000,
}

AttributeValue = str | int | float | bool | None
_KEY_RULE = "lower-case letters, digits and _, starting with a letter, at most 64 characters"


def _check_key(key: object, what: str) -> str:
    """Keys become column-like names in reports and rules, so they follow one pattern."""
    if not isinstance(key, str) or not _is_key(key):
        shown = repr(key)[:70] if isinstance(key, str) else type(key).__name__
        raise ValueError(f"{what} key {shown} must be {_KEY_RULE}")
    return key


def _is_key(key: str) -> bool:
    """KEY_PATTERN, with the length checked first so huge keys cost nothing."""
    return len(key) <= 64 and _KEY_RE.fullmatch(key) is not None


def _check_attribute_value(value: object) -> AttributeValue:
    """Flat scalars only: nested values cannot be scored, routed or shown in a report."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if value not in _INT_RANGE:
            raise ValueError("must be a 64-bit integer")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value
    if isinstance(value, str):
        return normalize.clean_text(value, max_len=MAX_ATTRIBUTE_TEXT, multiline=True)
    raise ValueError("must be a string, number, boolean or null (no objects or lists)")


_MAX_NUMBER_BITS = 512
"""~154 digits: far past any number a text field could hold (a phone sent as a number)."""


def _refuse_giant_number(value: object) -> object:
    """Text fields take numbers as text (`coerce_numbers_to_str`), but turning an integer of
    over 4300 digits into text raises a bare ValueError (Python's int-to-str limit), not a
    validation error naming the field: refuse absurd integers before pydantic tries."""
    if (
        isinstance(value, int)
        and not isinstance(value, bool)
        and value.bit_length() > _MAX_NUMBER_BITS
    ):
        raise ValueError("must be a string, not a number this long")
    return value


def _check_mapping(value: object, *, what: str, max_keys: int) -> object:
    """Count and key checks on a whole mapping, before its values are looked at."""
    if not isinstance(value, dict):
        return value  # pydantic reports the wrong type in its own words
    if len(value) > max_keys:
        raise ValueError(f"must have at most {max_keys} {what}s (got {len(value)})")
    for key in value:
        _check_key(key, what)
    return value


class FieldError(BaseModel):
    """One problem with one field, located by JSON pointer so clients can highlight it."""

    pointer: str = Field(
        description='RFC 6901 JSON pointer to the field, e.g. "/email" or "/touches/0/at"; '
        '"" means the whole row',
        examples=["/email"],
    )
    message: str = Field(examples=["is not a valid email address"])


class TouchIn(BaseModel):
    """One marketing touch the lead made before (or while) arriving."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(description="what happened: form_submit, webinar, email_click, ...")
    at: AwareDatetime = Field(description="when, with a time zone offset; stored in UTC")
    detail: str | None = Field(None, description="free text, e.g. the webinar title")

    @field_validator("type")
    @classmethod
    def _type_is_a_key(cls, value: str) -> str:
        text = normalize.clean_text(value, max_len=TEXT_LIMITS["touch_type"]).lower()
        return _check_key(text.replace(" ", "_").replace("-", "_"), "touch type")

    @field_validator("detail")
    @classmethod
    def _clean_detail(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return normalize.clean_text(value, max_len=TEXT_LIMITS["touch_detail"], multiline=True)

    def to_touch(self) -> Touch:
        """The event's shape; times in UTC so every consumer compares like with like."""
        return Touch(type=self.type, at=self.at.astimezone(UTC), detail=self.detail or None)


_Attributes = dict[str, Annotated[AttributeValue, BeforeValidator(_check_attribute_value)]]

_EXAMPLE: dict[str, Any] = {
    "email": "Ada.Lovelace@Example.com",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "phone": "030 1234567",
    "company": "Analytical Engines GmbH",
    "job_title": "Head of Engineering",
    "country": "Germany",
    "source": "campaign",
    "campaign_id": "2026-q1-webinar",
    "utm": {"utm_source": "newsletter", "utm_medium": "email"},
    "consent": {"marketing_email": True},
    "attributes": {"employees": 250, "industry": "manufacturing"},
    "touches": [
        {"type": "webinar", "at": "2026-01-20T16:00:00+01:00", "detail": "Scoring 101"},
    ],
}


class LeadIn(BaseModel):
    """A lead as a client sends it; validating it normalises it."""

    model_config = ConfigDict(
        extra="forbid",
        coerce_numbers_to_str=True,
        json_schema_extra={"examples": [_EXAMPLE]},
    )

    email: str = Field(description="Required; stored lower-cased (see docs/intake-fields.md)")
    first_name: str | None = Field(None, description="At most 100 characters, one line")
    last_name: str | None = Field(None, description="At most 100 characters, one line")
    company: str | None = Field(None, description="At most 200 characters, one line")
    job_title: str | None = Field(None, description="At most 200 characters, one line")
    # country comes before phone: phone's validator reads the normalised country as a hint.
    country: str | None = Field(
        None, description="ISO 3166-1 alpha-2 or alpha-3 code or English name; stored as alpha-2"
    )
    phone: str | None = Field(
        None, description="Any common format; national numbers need `country`; stored as E.164"
    )
    source: str = Field("web", description=f"One of: {', '.join(SOURCES)}")
    campaign_id: str | None = Field(None, description="The campaign this lead answered")
    utm: dict[str, str] = Field(
        default_factory=dict, description=f"Only these keys: {', '.join(UTM_KEYS)}"
    )
    consent: dict[str, bool] = Field(
        default_factory=dict,
        description=f"Purpose -> granted, e.g. marketing_email; keys are {_KEY_RULE}",
    )
    attributes: _Attributes = Field(
        default_factory=dict,
        description=f"At most {MAX_ATTRIBUTES} flat values (text up to {MAX_ATTRIBUTE_TEXT} "
        f"characters, number, boolean, null); keys are {_KEY_RULE}",
    )
    touches: list[TouchIn] = Field(
        default_factory=list, max_length=MAX_TOUCHES, description="What the lead did, oldest first"
    )

    @field_validator(
        "email", "first_name", "last_name", "company", "job_title", "country", "phone",
        "source", "campaign_id", mode="before",
    )  # fmt: skip
    @classmethod
    def _not_a_giant_number(cls, value: object) -> object:
        return _refuse_giant_number(value)

    @field_validator("email")
    @classmethod
    def _normalize_email(cls, value: str) -> str:
        return normalize.normalize_email(value)

    @field_validator("first_name", "last_name", "company", "job_title", "campaign_id")
    @classmethod
    def _clean_line(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        assert info.field_name is not None  # always set for field validators
        return normalize.clean_text(value, max_len=TEXT_LIMITS[info.field_name]) or None

    @field_validator("country")
    @classmethod
    def _normalize_country(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return normalize.normalize_country(value)

    @field_validator("phone")
    @classmethod
    def _normalize_phone(cls, value: str | None, info: ValidationInfo) -> str | None:
        # A field validator (not a model validator) so errors point at /phone; info.data
        # holds country already normalised, or lacks it when country itself was rejected.
        if value is None or not value.strip():
            return None
        return normalize.normalize_phone(value, info.data.get("country"))

    @field_validator("source")
    @classmethod
    def _known_source(cls, value: str) -> str:
        source = value.strip().lower()
        if source not in SOURCES:
            raise ValueError(f"must be one of: {', '.join(SOURCES)}")
        return source

    @field_validator("utm", mode="before")
    @classmethod
    def _known_utm_keys(cls, value: object) -> object:
        if isinstance(value, dict):
            unknown = sorted(str(key)[:40] for key in value if key not in UTM_KEYS)
            if unknown:
                raise ValueError(
                    f"unknown utm key(s) {', '.join(unknown[:5])}; allowed: {', '.join(UTM_KEYS)}"
                )
            for item in value.values():
                _refuse_giant_number(item)
        return value

    @field_validator("utm")
    @classmethod
    def _clean_utm(cls, value: dict[str, str]) -> dict[str, str]:
        cleaned = {k: normalize.clean_text(v, max_len=TEXT_LIMITS["utm"]) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v}

    @field_validator("consent", mode="before")
    @classmethod
    def _consent_keys(cls, value: object) -> object:
        return _check_mapping(value, what="consent", max_keys=MAX_CONSENTS)

    @field_validator("attributes", mode="before")
    @classmethod
    def _attribute_keys(cls, value: object) -> object:
        return _check_mapping(value, what="attribute", max_keys=MAX_ATTRIBUTES)

    def to_lead_data(self, *, lead_id: str, received_at: datetime, channel: str) -> LeadData:
        """The payload of `lead.received`: the lead as accepted, with intake's bookkeeping."""
        return LeadData(
            lead_id=lead_id,
            email=self.email,
            first_name=self.first_name,
            last_name=self.last_name,
            phone=self.phone,
            company=self.company,
            job_title=self.job_title,
            country=self.country,
            source=self.source,
            channel=channel,
            campaign_id=self.campaign_id,
            utm=dict(self.utm),
            consent=dict(self.consent),
            attributes=dict(self.attributes),
            touches=tuple(touch.to_touch() for touch in self.touches),
            received_at=received_at,
        )


class LeadAccepted(BaseModel):
    """The 202 answer: the lead's id, and whether it merged into a lead we already had."""

    lead_id: str = Field(description="The id events and reports use for this lead")
    status: Literal["accepted", "duplicate"]
    duplicate_of: str | None = Field(
        None, description="For a duplicate, the id of the existing lead it merged into"
    )


class BatchRowResult(BaseModel):
    """What happened to one row of a batch upload."""

    row: int = Field(
        description="1-based line number in the file where the record starts "
        "(for CSV the header is line 1)"
    )
    status: Literal["accepted", "duplicate", "rejected"]
    lead_id: str | None = Field(None, description="accepted or duplicate: the lead's id")
    duplicate_of: str | None = Field(
        None, description="duplicate: the existing lead this row merged into"
    )
    replayed: bool = Field(
        False,
        description="true when the row's idempotency key was seen before: this is the first "
        "answer again and nothing was stored",
    )
    errors: list[FieldError] = Field(
        default_factory=list, description="rejected: every field at fault"
    )


class BatchSummary(BaseModel):
    """Counts per outcome, so a client can tell success at a glance."""

    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    replayed: int = Field(
        0, description="rows among accepted and duplicate that were replays (nothing stored)"
    )


class BatchResult(BaseModel):
    """The answer to a batch upload, streamed: the summary first, then one result per row."""

    summary: BatchSummary
    rows: list[BatchRowResult] = Field(description="in file order; see `row` for the line")


class HookItemResult(BaseModel):
    """What happened to one event of a webhook delivery."""

    index: int = Field(description="0-based position of the event in the delivery")
    event: str = Field(description="the tool's event name, e.g. mautic.form_on_submit")
    status: Literal["accepted", "duplicate", "rejected", "skipped"]
    lead_id: str | None = None
    duplicate_of: str | None = None
    replayed: bool = Field(False, description="a redelivery: the first answer, nothing stored")
    reason: str | None = Field(None, description="skipped: why this event is not a lead")
    errors: list[FieldError] = Field(default_factory=list)


class HookAccepted(BaseModel):
    """The answer to a webhook delivery: one result per event it carried."""

    tool: str
    results: list[HookItemResult]


_MESSAGES = {
    "extra_forbidden": "unknown field",
    "missing": "is required",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
    "list_type": "must be a JSON array",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "timezone_aware": "must include a time zone offset, e.g. 2026-01-20T16:00:00+01:00",
    "datetime_type": "must be an ISO 8601 date-time with a time zone offset",
    "datetime_from_date_parsing": "must be an ISO 8601 date-time with a time zone offset",
    "datetime_parsing": "must be an ISO 8601 date-time with a time zone offset",
}


MAX_FIELD_ERRORS = 20
"""A hostile row can hold thousands of bad keys; the first twenty tell the client enough."""


def field_errors(exc: ValidationError) -> list[FieldError]:
    """Pydantic's errors as JSON pointers and plain sentences, without its URLs and jargon."""
    return field_errors_from(exc.errors(include_url=False, include_input=False))


def field_errors_from(errors: Sequence[Any]) -> list[FieldError]:
    """The same, from an error list (FastAPI's RequestValidationError carries one)."""
    found = [
        FieldError(pointer=_pointer(tuple(error["loc"])), message=_message(error))
        for error in errors[:MAX_FIELD_ERRORS]
    ]
    if len(errors) > MAX_FIELD_ERRORS:
        more = len(errors) - MAX_FIELD_ERRORS
        found.append(FieldError(pointer="", message=f"and {more} more errors"))
    return found


def _pointer(loc: tuple[int | str, ...]) -> str:
    """RFC 6901: each step prefixed by "/", with "~" and "/" in keys escaped (and cut short)."""
    return "".join("/" + _step(part) for part in loc)


def _step(part: int | str) -> str:
    """One pointer step; an absurd key is cut, so an error never echoes megabytes back."""
    text = str(part)
    if len(text) > 100:
        text = text[:100] + "..."
    return text.replace("~", "~0").replace("/", "~1")


def _message(error: Any) -> str:
    """Our validators' own words, or a plain rewording of pydantic's."""
    kind = error["type"]
    if kind == "value_error" and "error" in error.get("ctx", {}):
        return str(error["ctx"]["error"])
    if kind == "too_long":
        limit = error.get("ctx", {}).get("max_length")
        return f"must have at most {limit} items"
    return _MESSAGES.get(kind, str(error["msg"]))
