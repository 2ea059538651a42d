"""What a contract can ask about a lead: flat field values and its touches, resolved once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from shared.events import LeadData, LeadReceived, LeadUpdated, Touch

Scalar = str | int | float | bool

TOP_LEVEL_FIELDS = (
    "lead_id", "email", "first_name", "last_name", "phone", "company", "job_title",
    "country", "source", "channel", "campaign_id",
)  # fmt: skip
KEYED_FIELDS = ("utm", "consent", "attributes")


def canonical_field(name: str) -> str:
    """The one spelling of a field (`employees` -> `attributes.employees`); ValueError if bad."""
    name = name.strip()
    if not name:
        raise ValueError("expected a field name")
    if name in TOP_LEVEL_FIELDS:
        return name
    head, dot, rest = name.partition(".")
    if head in KEYED_FIELDS:
        if not rest.strip():
            raise ValueError(f"{head} needs a key, like {head}.<name>")
        return name
    if dot and head in TOP_LEVEL_FIELDS:
        raise ValueError(f"{head} has no sub-fields; free attributes are attributes.<name>")
    return f"attributes.{name}"


def aware(moment: datetime) -> datetime:
    """Naive times are taken as UTC, so a sloppy timestamp cannot crash a decision."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def age(at: datetime, now: datetime) -> timedelta:
    """How old a touch is at `now`; a touch stamped slightly ahead (clock skew) counts as new."""
    return max(aware(now) - aware(at), timedelta(0))


def _present(value: object) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


@dataclass(frozen=True, slots=True)
class LeadFacts:
    """A lead flattened to `field -> value` (absent and blank values dropped) plus its touches."""

    lead_id: str
    values: Mapping[str, Scalar] = field(default_factory=dict)
    touches: tuple[Touch, ...] = ()

    @classmethod
    def from_lead(cls, lead: LeadData) -> LeadFacts:
        values: dict[str, object] = {name: getattr(lead, name) for name in TOP_LEVEL_FIELDS}
        values.update({f"utm.{k}": v for k, v in lead.utm.items()})
        values.update({f"consent.{k}": v for k, v in lead.consent.items()})
        values.update({f"attributes.{k}": v for k, v in lead.attributes.items()})
        kept = {k: v for k, v in values.items() if _present(v) and isinstance(v, Scalar)}
        return cls(lead_id=lead.lead_id, values=kept, touches=lead.touches)

    @classmethod
    def from_event(cls, event: LeadReceived | LeadUpdated) -> LeadFacts:
        return cls.from_lead(event.data)

    def get(self, name: str) -> Scalar | None:
        """The value of a canonical field, or None when the lead does not have it."""
        return self.values.get(name)

    def has(self, name: str) -> bool:
        return name in self.values
