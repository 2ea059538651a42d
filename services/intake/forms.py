"""PURE: web forms: how one is configured, and how a browser's post becomes a lead.

A form is configured in the forms file (`forms.yaml`, applied on start) or over the API
(`PUT /v1/forms/{form_id}`). Its post is mapped field by field: the form's own `fields`
mapping first, then the same header names batch CSV files accept (`email`, `First Name`,
`utm_source`, `consent_<purpose>`, ...), then, if the form says so, everything else into
`attributes`. See docs/intake-channels.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from services.intake.batch import attribute_value, column_for
from services.intake.schemas import KEY_PATTERN, SOURCES, UTM_KEYS, FieldError, field_errors

FORM_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
KEY_FIELD = "_key"
"""The hidden field that carries the form's public key (browsers cannot set headers)."""

LEAD_FIELDS = (
    "email",
    "first_name",
    "last_name",
    "phone",
    "company",
    "job_title",
    "country",
    "source",
    "campaign_id",
)
MAX_FIELDS = 100
MAX_ORIGINS = 50
MAX_URL = 2000

_KEY_RE = re.compile(KEY_PATTERN)
_FORM_ID_RE = re.compile(FORM_ID_PATTERN)
_ORIGIN_RE = re.compile(r"^https?://[a-z0-9.\-\[\]:]+$")

_EXAMPLE: dict[str, Any] = {
    "name": "Contact us",
    "allowed_origins": ["https://www.example.com"],
    "thank_you_url": "https://www.example.com/thanks",
    "honeypot": "website",
    "campaign_id": "site-contact",
    "fields": {"email": "email", "fname": "first_name", "newsletter": "consent.marketing_email"},
}


def _check_target(target: str) -> str:
    """`email`, `first_name`, ..., `utm.utm_source`, `consent.<purpose>`, `attributes.<key>`."""
    if target in LEAD_FIELDS:
        return target
    kind, _, key = target.partition(".")
    if kind == "utm" and key in UTM_KEYS:
        return target
    if kind in ("consent", "attributes") and len(key) <= 64 and _KEY_RE.fullmatch(key):
        return target
    raise ValueError(
        f"target {target[:80]!r} must be one of {', '.join(LEAD_FIELDS)}, "
        "utm.<utm key>, consent.<purpose> or attributes.<key>"
    )


def _check_url(value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if len(value) > MAX_URL or parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"must be an absolute http(s) URL of at most {MAX_URL} characters")
    return value


def normalize_origin(origin: str) -> str:
    """Origins compare case-insensitively and without a trailing slash."""
    return origin.strip().lower().rstrip("/")


class FormConfig(BaseModel):
    """One web form: where its fields go, who may post it, and where the browser goes next."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, json_schema_extra={"examples": [_EXAMPLE]}
    )

    name: str | None = Field(None, max_length=200, description="shown as the touch's detail")
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="form field name -> lead target: a lead field (email, first_name, ...), "
        "utm.<utm key>, consent.<purpose> or attributes.<key>. Unlisted fields are matched by "
        "the batch CSV header names",
    )
    unknown_fields: Literal["ignore", "attributes"] = Field(
        "ignore", description="what happens to fields neither listed nor known by name"
    )
    source: str = Field("web", description=f"the leads' source, one of: {', '.join(SOURCES)}")
    campaign_id: str | None = Field(None, max_length=128)
    allowed_origins: list[str] = Field(
        default_factory=list,
        max_length=MAX_ORIGINS,
        description='browser origins allowed to post (and to pass CORS), e.g. "https://www.'
        'example.com"; "*" allows any. A post without an Origin header (a server) is allowed',
    )
    thank_you_url: str | None = Field(
        None, description="answer a successful post with 303 See Other to this URL"
    )
    error_url: str | None = Field(
        None,
        description="answer an invalid post with 303 to this URL, adding ?errors=<field,...>; "
        "without it, an invalid post is a 422 problem",
    )
    honeypot: str | None = Field(
        None,
        max_length=100,
        description="a field people leave empty (hidden with CSS); a post that fills it is "
        "answered as if accepted and dropped",
    )
    touch_type: str = Field(
        "form_submit", pattern=KEY_PATTERN, description="the touch each post records"
    )

    @field_validator("fields")
    @classmethod
    def _valid_fields(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > MAX_FIELDS:
            raise ValueError(f"must map at most {MAX_FIELDS} fields")
        for name, target in value.items():
            if not name or len(name) > 100 or name == KEY_FIELD:
                raise ValueError(f"field name {name[:40]!r} must be 1-100 characters, not _key")
            _check_target(target)
        return value

    @field_validator("source")
    @classmethod
    def _known_source(cls, value: str) -> str:
        if value not in SOURCES:
            raise ValueError(f"must be one of: {', '.join(SOURCES)}")
        return value

    @field_validator("allowed_origins")
    @classmethod
    def _valid_origins(cls, value: list[str]) -> list[str]:
        out = []
        for origin in value:
            normal = normalize_origin(origin)
            if normal != "*" and not _ORIGIN_RE.fullmatch(normal):
                raise ValueError(
                    f"origin {origin[:80]!r} must be scheme://host[:port] (no path) or *"
                )
            out.append(normal)
        return out

    @field_validator("thank_you_url", "error_url")
    @classmethod
    def _valid_url(cls, value: str | None) -> str | None:
        return _check_url(value)

    def allows_origin(self, origin: str | None) -> bool:
        """No Origin header means no browser: the key alone decides."""
        if origin is None:
            return True
        return "*" in self.allowed_origins or normalize_origin(origin) in self.allowed_origins


class FormView(BaseModel):
    """A stored form: its configuration and whether the forms file or the API manages it."""

    form_id: str
    managed_by: Literal["file", "api"]
    config: FormConfig


# --- the forms file ------------------------------------------------------------------------


class FormsFileError(ValueError):
    """The forms file is invalid; every problem is named by form and field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid forms file:\n  " + "\n  ".join(problems))
        self.problems = problems


def load_forms(text: str) -> dict[str, FormConfig]:
    """YAML text (`forms: {<form_id>: {...}}`) -> the forms; the caller reads the file."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise FormsFileError([f"not valid YAML: {exc}"]) from None
    if doc is None:
        return {}
    if not isinstance(doc, dict) or set(doc) - {"forms"}:
        raise FormsFileError(["the file must hold one key, forms: a mapping of form ids"])
    entries = doc.get("forms") or {}
    if not isinstance(entries, dict):
        raise FormsFileError(["forms: must be a mapping of form ids to forms"])
    found: dict[str, FormConfig] = {}
    problems: list[str] = []
    for form_id, raw in entries.items():
        if not isinstance(form_id, str) or not _FORM_ID_RE.fullmatch(form_id):
            problems.append(f"forms.{form_id}: a form id must match {FORM_ID_PATTERN}")
            continue
        try:
            found[form_id] = FormConfig.model_validate(raw if raw is not None else {})
        except ValidationError as exc:
            problems.extend(
                f"forms.{form_id}{e.pointer.replace('/', '.')}: {e.message}"
                for e in field_errors(exc)
            )
    if problems:
        raise FormsFileError(problems)
    return found


# --- a post ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FormPost:
    """A post mapped to a raw lead, and which form field filled each lead field."""

    data: dict[str, Any]
    sources: dict[str, str] = field(default_factory=dict)

    def form_fields_at_fault(self, errors: Sequence[FieldError]) -> list[str]:
        """The posted field names behind validation errors, for the form's error_url."""
        names = []
        for error in errors:
            for pointer, name in self.sources.items():
                hit = error.pointer == pointer or error.pointer.startswith(pointer + "/")
                if hit and name not in names:
                    names.append(name)
        return names


def is_bot(form: FormConfig, posted: Mapping[str, Sequence[str]]) -> bool:
    """A filled honeypot: people never see the field, naive bots fill every field."""
    if form.honeypot is None:
        return False
    return any(v.strip() for v in posted.get(form.honeypot, ()))


def _target_for(form: FormConfig, name: str) -> str | None:
    if name in form.fields:
        return form.fields[name]
    kind, key = column_for(name, 0)
    if kind == "field":
        return key
    if kind in ("utm", "consent"):
        return f"{kind}.{key}"
    if kind == "attribute" and form.unknown_fields == "attributes":
        return f"attributes.{key}"
    return None  # ignored, and touch_* columns make no sense on a form


def _put(data: dict[str, Any], target: str, value: str) -> None:
    kind, _, key = target.partition(".")
    if not key:
        data[kind] = value
    elif kind == "attributes":
        data.setdefault(kind, {})[key] = attribute_value(value)
    else:
        data.setdefault(kind, {})[key] = value


def map_post(
    form_id: str, form: FormConfig, posted: Mapping[str, Sequence[str]], *, now: datetime
) -> FormPost:
    """The raw lead (for `LeadIn`) a post describes; one touch records the post itself.

    Repeated fields (checkbox groups) are joined with ", "; blank values count as absent; a
    consent checkbox the form maps but the post lacks was left unticked, so it is false."""
    data: dict[str, Any] = {"source": form.source}
    if form.campaign_id:
        data["campaign_id"] = form.campaign_id
    sources: dict[str, str] = {}
    for name, values in posted.items():
        if name in (KEY_FIELD, form.honeypot):
            continue
        target = _target_for(form, name)
        value = ", ".join(v.strip() for v in values if v.strip())
        if target is None or not value:
            continue
        _put(data, target, value)
        sources["/" + target.replace(".", "/")] = name
    for name, target in form.fields.items():
        if target.startswith("consent.") and name not in posted:
            data.setdefault("consent", {})[target.partition(".")[2]] = False
    data["touches"] = [
        {"type": form.touch_type, "at": now.isoformat(), "detail": form.name or form_id}
    ]
    return FormPost(data, sources)


def error_redirect(url: str, fields: Sequence[str]) -> str:
    """The form's error_url with the fields at fault, so the page can mark them."""
    joiner = "&" if urlsplit(url).query else "?"
    return f"{url}{joiner}{urlencode({'errors': ','.join(fields)})}"


def cors_headers(origin: str | None) -> dict[str, str]:
    """For an allowed browser origin: let its script read the answer."""
    if origin is None:
        return {}
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


PREFLIGHT_HEADERS = {
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, X-API-Key, Authorization, Idempotency-Key",
    "Access-Control-Max-Age": "600",
}
