"""Handoff's HTTP models: reps and teams, what sales reports back, the lead view, webhooks."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any, Literal

from pydantic import (
    AnyHttpUrl,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from services.handoff.business_hours import Calendar
from services.handoff.webhooks import WebhookEventType

REP_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
TEAM = r"^[a-z0-9][a-z0-9_-]*$"

Channel = Literal["call", "email", "meeting", "social"]
AttemptResult = Literal["no_answer", "voicemail", "connected", "bounced"]
RejectReason = Literal[
    "not_a_fit",
    "bad_contact_data",
    "duplicate",
    "existing_customer",
    "competitor",
    "student_or_job_seeker",
    "spam",
    "wrong_territory",
    "no_interest",
    "other",
]
LostReason = Literal[
    "price",
    "competitor",
    "no_budget",
    "no_decision",
    "timing",
    "product_fit",
    "unresponsive",
    "other",
]
Stage = Literal["opportunity", "won", "lost"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- reps and teams --------------------------------------------------------------------


class RepIn(_In):
    """A rep as PUT /v1/reps/{rep_id} and the seed file describe them."""

    name: str = Field(min_length=1, max_length=200)
    team: str = Field(min_length=1, max_length=64, pattern=TEAM)
    territories: list[str] = Field(
        default_factory=list, max_length=100, description="e.g. country codes or regions"
    )
    segments: list[str] = Field(
        default_factory=list, max_length=100, description="e.g. enterprise, mid-market, smb"
    )
    weight: int = Field(1, ge=0, le=1000, description="share of the round robin; 0 keeps out")
    capacity: int = Field(
        25, ge=0, le=100_000, description="the most open, not yet contacted leads held at once"
    )
    time_zone: str = Field("UTC", description="IANA zone the SLA clocks run in")
    working_hours: tuple[str, str] = ("09:00", "17:00")
    working_days: list[int] = Field(
        default_factory=lambda: [0, 1, 2, 3, 4], description="0 = Monday .. 6 = Sunday"
    )
    country: str | None = Field(None, pattern=r"^[A-Z]{2}$", description="for public holidays")
    subdivision: str | None = Field(
        None, pattern=r"^[A-Z]{2}-[A-Z0-9]{1,3}$", description="e.g. GB-ENG, US-CA, DE-BY"
    )
    available: bool = True
    out_of_office_until: AwareDatetime | None = None

    @field_validator("working_hours")
    @classmethod
    def _hours(cls, v: tuple[str, str]) -> tuple[str, str]:
        try:
            start, end = (time.fromisoformat(x) for x in v)
        except ValueError as exc:
            raise ValueError("working_hours must be two HH:MM times") from exc
        if end <= start:
            raise ValueError("working_hours: the end must be after the start")
        return v

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, v: str) -> str:
        Calendar.of(v)  # raises ValueError naming the zone
        return v

    @field_validator("working_days")
    @classmethod
    def _days(cls, v: list[int]) -> list[int]:
        if not v or not set(v) <= set(range(7)):
            raise ValueError("working_days: give weekdays 0 (Monday) to 6 (Sunday), at least one")
        return sorted(set(v))

    @model_validator(mode="after")
    def _calendar(self) -> RepIn:
        self.calendar()
        if self.subdivision and self.country and not self.subdivision.startswith(self.country):
            raise ValueError(f"subdivision {self.subdivision} is not in country {self.country}")
        return self

    def calendar(self) -> Calendar:
        return Calendar.of(self.time_zone, hours=self.working_hours, days=self.working_days)


class RepOut(RepIn):
    rep_id: str
    open_leads: int = Field(0, description="assigned and not yet contacted")
    available_now: bool = Field(description="available and not out of office right now")
    updated_at: datetime


class TeamIn(_In):
    manager: str = Field(min_length=1, max_length=64, description="a known rep's id")


class TeamOut(BaseModel):
    team: str
    manager: str | None
    reps: list[str]
    queued_leads: int = Field(description="qualified leads waiting for an available rep")


# --- what sales reports back -----------------------------------------------------------


class AcceptIn(_In):
    rep_id: str = Field(min_length=1, max_length=64, description="the rep reporting")
    note: str | None = Field(None, max_length=2000)


class RejectIn(_In):
    rep_id: str = Field(min_length=1, max_length=64, description="the rep reporting")
    reason: RejectReason
    note: str | None = Field(None, max_length=2000, description="free text; required for other")


class AttemptIn(_In):
    attempt_id: str = Field(
        min_length=1,
        max_length=128,
        description="the sales tool's id for this attempt; sending it again changes nothing",
    )
    rep_id: str = Field(min_length=1, max_length=64, description="the rep reporting")
    channel: Channel
    outcome: AttemptResult
    at: AwareDatetime = Field(description="when the attempt was made, with its offset")
    note: str | None = Field(None, max_length=2000)


class OutcomeIn(_In):
    rep_id: str = Field(min_length=1, max_length=64, description="the rep reporting")
    stage: Stage
    amount: float | None = Field(
        None, gt=0, le=1e12, description="opportunity or won amount; required for opportunity"
    )
    currency: str | None = Field(None, pattern=r"^[A-Z]{3}$", description="ISO 4217")
    reason: LostReason | None = Field(None, description="required when lost")
    note: str | None = Field(None, max_length=2000)
    at: AwareDatetime | None = Field(None, description="when it happened; default now")


class LeadState(BaseModel):
    """Where the lead stands after a report."""

    lead_id: str
    status: str
    rep_id: str | None
    team: str | None
    attempts: int
    first_attempt_at: datetime | None
    replayed: bool = Field(False, description="true when this exact report was already recorded")


# --- the lead view ---------------------------------------------------------------------


class TimelineEntry(BaseModel):
    kind: str
    at: datetime
    rep_id: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class TimerView(BaseModel):
    kind: str
    due_at: datetime


class SlaView(BaseModel):
    tier: str | None = None
    terms: dict[str, Any] | None = None
    first_contact_due_at: datetime | None = None
    first_contact_met: bool | None = Field(
        None, description="the current rep's first attempt came before the due time"
    )
    attempts_due_at: datetime | None = None
    attempts_min: int | None = None
    breaches: int = 0
    pending: list[TimerView] = Field(default_factory=list)


class AssignmentView(BaseModel):
    rep_id: str
    team: str
    reason: str
    why: str
    assigned_at: datetime
    first_contact_due_at: datetime | None
    first_attempt_at: datetime | None
    attempts: int
    accepted_at: datetime | None
    rejected_at: datetime | None
    reject_reason: str | None
    ended_at: datetime | None
    end_reason: str | None


class SalesOutcomeView(BaseModel):
    stage: str
    amount: float | None
    currency: str | None
    reason: str | None
    opportunity_amount: float | None
    opportunity_at: datetime | None
    closed_at: datetime | None
    rep_id: str | None
    at: datetime


class LeadView(BaseModel):
    """A lead's whole story in handoff: where it stands and everything that happened."""

    lead_id: str
    status: str = Field(
        description="queued, assigned, accepted, rejected, recycled, opportunity, won, lost, "
        "nurture or disqualified"
    )
    outcome: str = Field(description="scoring's decision: qualified, nurture, disqualified")
    tier: str | None
    team: str | None
    rep_id: str | None
    escalated_to_rep_id: str | None = None
    route_rule: str | None = None
    received_at: datetime
    queued_at: datetime | None = None
    assigned_at: datetime | None
    accepted_at: datetime | None = None
    first_attempt_at: datetime | None
    attempts: int
    breaches: int
    recycled_at: datetime | None = None
    closed_at: datetime | None = None
    sla: SlaView = SlaView()
    sales_outcome: SalesOutcomeView | None = None
    assignments: list[AssignmentView] = Field(default_factory=list)
    lead: dict[str, Any]
    decision: dict[str, Any]
    timeline: list[TimelineEntry]


# --- webhooks --------------------------------------------------------------------------


class SubscriptionIn(_In):
    url: AnyHttpUrl = Field(description="where deliveries are POSTed")
    event_types: list[WebhookEventType] = Field(
        min_length=1, max_length=20, description='event types to receive, or "*" for all'
    )
    description: str | None = Field(None, max_length=500)


class SubscriptionOut(BaseModel):
    id: str
    url: str
    event_types: list[str]
    description: str | None
    active: bool
    created_at: datetime


class SubscriptionCreated(SubscriptionOut):
    secret: str = Field(
        description="whsec_<base64>: verify deliveries with it; shown only in this answer"
    )


class DeliveryAttemptOut(BaseModel):
    number: int
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryOut(BaseModel):
    id: int
    message_id: str = Field(description="the webhook-id header; the same on every retry")
    event_type: str
    lead_id: str | None
    status: str = Field(description="pending, delivered or dead")
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    attempt_log: list[DeliveryAttemptOut]
