"""Every event LeadRelay publishes: a CloudEvents 1.0 envelope around one typed payload.

Events are past-tense classes, defined once. The JSON Schema and AsyncAPI documents in
`docs/` are generated from these models (`make docs`) and a test fails when they drift.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    model_serializer,
)

from shared import ids

TOPIC_RECEIVED = "leads.received"
TOPIC_SCORED = "leads.scored"
TOPIC_HANDOFF = "leads.handoff"
TOPIC_FEEDBACK = "leads.feedback"
TOPIC_KEYS = "leads.keys"
"""Each lead's data key (key = lead id; compacted; a null value once the lead is erased)."""
TOPICS = (TOPIC_RECEIVED, TOPIC_SCORED, TOPIC_HANDOFF, TOPIC_FEEDBACK, TOPIC_KEYS)
COMPACTED_TOPICS = frozenset({TOPIC_KEYS})
"""Topics where a null value is a delete marker (tombstone); elsewhere it is poison."""


def dlq(topic: str) -> str:
    """The dead-letter topic of a consumed topic."""
    return f"{topic}.dlq"


ALL_TOPICS = TOPICS + tuple(dlq(t) for t in TOPICS)


class Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


WIRE = {"wire": True}
"""Serialisation context for Kafka: personal fields leave only sealed (see shared/pii.py)."""


class PlaintextOnWire(ValueError):
    """Personal data was about to be written to a topic without being sealed first."""


# The `_wire` serialisers below carry no return annotation on purpose: pydantic would take
# it as the documented schema of the model (`Any` erases every property).


def _on_wire(info: SerializationInfo) -> bool:
    context = info.context
    return bool(context and context.get("wire"))


class Sealed(Payload):
    """Personal fields encrypted with the lead's own data key (crypto-shredding): once the
    key is deleted on erasure, every copy of this on every topic is unreadable."""

    kid: str = Field(description="id of the lead's data key (published on leads.keys)")
    alg: Literal["A256GCM"] = "A256GCM"
    ct: str = Field(description="base64url of the 12-byte nonce, the ciphertext and the tag")


# --- the lead as it travels ------------------------------------------------------------


class Touch(Payload):
    """One marketing touch: what the lead did, when, and what it was about."""

    type: str = Field(description="e.g. form_submit, email_click, webinar, page_view, event_visit")
    at: datetime
    detail: str | None = Field(None, description="free text; on Kafka only inside `personal`")


SEALED_FIELDS = ("email", "first_name", "last_name", "phone", "company", "job_title", "attributes")
"""LeadData fields that travel only inside `personal` (plus every touch's `detail`)."""


def _wire_schema(schema: dict[str, Any]) -> None:
    for name in SEALED_FIELDS:
        schema["properties"].pop(name, None)
    schema["required"] = [r for r in schema.get("required", []) if r not in SEALED_FIELDS]


class LeadData(Payload):
    """A lead as intake accepted it: normalised contact, where it came from, what it did.

    In memory the personal fields are plaintext; on Kafka (`serialize_event`) they travel
    only sealed in `personal`, and consumers open them on entry (shared/pii.py)."""

    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra=_wire_schema)

    lead_id: str
    email: str = Field("", description="Normalised email address (lower-cased)")
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = Field(None, description="E.164")
    company: str | None = None
    job_title: str | None = None
    country: str | None = Field(None, description="ISO 3166-1 alpha-2")
    source: str = Field(description="web, campaign, partner, event, sales, ...")
    channel: str = Field("api", description="api, batch, form, hook, import")
    campaign_id: str | None = None
    utm: dict[str, str] = Field(default_factory=dict)
    consent: dict[str, bool] = Field(default_factory=dict)
    attributes: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    touches: tuple[Touch, ...] = ()
    received_at: datetime
    revision: int = Field(1, description="1 when first received; +1 each time a duplicate merges")
    personal: Sealed | None = Field(
        None,
        description="the personal fields (email, names, phone, company, job title, attributes, "
        "touch details) sealed with the lead's data key; absent once the lead is erased",
    )

    @model_serializer(mode="wrap")
    def _wire(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo):  # type: ignore[no-untyped-def]
        out = handler(self)
        if not _on_wire(info):
            return out
        if self.personal is None:
            if self.has_personal_data():
                raise PlaintextOnWire(f"lead {self.lead_id}: seal personal fields first")
            return out
        for name in SEALED_FIELDS:
            out.pop(name, None)
        for touch in out.get("touches", ()):
            touch.pop("detail", None)
        return out

    def has_personal_data(self) -> bool:
        return bool(
            self.email
            or any(getattr(self, name) for name in SEALED_FIELDS if name != "email")
            or any(t.detail for t in self.touches)
        )


# --- scoring's decision ----------------------------------------------------------------

Outcome = Literal["qualified", "nurture", "disqualified"]


class FiredRule(Payload):
    rule: str
    group: str = Field(description="fit, engagement or disqualifier")
    points: float = 0
    reason: str | None = Field(None, description="reason code for disqualifiers, or a note")


class SlaTerms(Payload):
    """The contract's SLA for one tier, carried with the decision so handoff needs no contract."""

    tier: str
    first_contact_seconds: int = Field(description="first contact due within this much time")
    business_hours: bool = Field(True, description="count only the rep's business hours")
    warn_at_fraction: float = Field(0.8, description="warn when this share of the time is used")
    attempts_min: int = 1
    attempts_window_seconds: int = Field(description="attempts_min attempts due within this")
    on_breach: tuple[Literal["reassign", "escalate", "recycle"], ...] = ("reassign",)


class RouteHint(Payload):
    """Which team the contract's routing rules send this lead to, and the rule that matched."""

    team: str | None = None
    rule: str | None = None
    account_match: bool = Field(True, description="route to the company's account owner first")


class Decision(Payload):
    lead_id: str
    outcome: Outcome
    score: float
    fit_score: float = 0
    engagement_score: float = 0
    tier: str | None = None
    fired: tuple[FiredRule, ...] = ()
    missing: tuple[str, ...] = ()
    contract_version: str
    decided_at: datetime


class LeadScoredData(Payload):
    decision: Decision
    lead: LeadData
    sla: SlaTerms | None = None
    route: RouteHint = RouteHint()
    previous_outcome: Outcome | None = None


# --- handoff ---------------------------------------------------------------------------


class SlaDue(Payload):
    first_contact_due_at: datetime | None = None
    first_contact_warn_at: datetime | None = None
    attempts_due_at: datetime | None = None
    attempts_min: int | None = None
    tier: str | None = None
    business_hours: bool | None = Field(
        None, description="first contact counts only the rep's working hours and days"
    )
    time_zone: str | None = Field(None, description="the rep's IANA time zone the clock runs in")


class LeadAssignedData(Payload):
    lead_id: str
    rep_id: str
    team: str
    reason: str = Field(description="why this rep: account_owner, rule:<name>, round_robin, ...")
    assigned_at: datetime
    previous_rep_id: str | None = None
    lead: LeadData
    decision: Decision
    sla: SlaDue = SlaDue()
    rep_name: str | None = None
    brief: str | None = Field(
        None,
        description="who the lead is, why it qualified and what it did, in a few lines; "
        "on Kafka only inside `personal`",
    )
    personal: Sealed | None = Field(None, description="the brief, sealed with the lead's key")

    @model_serializer(mode="wrap")
    def _wire(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo):  # type: ignore[no-untyped-def]
        out = handler(self)
        if _on_wire(info) and self.brief:
            if self.personal is None:
                raise PlaintextOnWire(f"lead {self.lead_id}: seal the brief first")
            out.pop("brief", None)
        return out


FEEDBACK_KINDS = (
    "accepted",
    "rejected",
    "attempt",
    "outcome",
    "sla_warning",
    "sla_breached",
    "reassigned",
    "escalated",
    "recycled",
)


class AttemptReport(Payload):
    """One contact attempt a rep reported (kind `attempt`)."""

    attempt_id: str = Field(description="the sales tool's own id; reporting it again is a no-op")
    channel: Literal["call", "email", "meeting", "social"]
    outcome: Literal["no_answer", "voicemail", "connected", "bounced"]
    at: datetime = Field(description="when the rep made the attempt")
    number: int = Field(description="1 for the first attempt of the current assignment")
    time_to_first_contact_seconds: float | None = Field(
        None, description="on the first attempt: elapsed time since the assignment"
    )


class RejectionReport(Payload):
    """Why a rep turned a lead down (kind `rejected`); `reason` is a fixed code."""

    reason: str
    note: str | None = Field(None, description="free text; kept in handoff, never on Kafka")

    @model_serializer(mode="wrap")
    def _wire(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo):  # type: ignore[no-untyped-def]
        return _without_note(handler(self), info)


def _without_note(out: Any, info: SerializationInfo) -> Any:
    """Sales' free-text notes may name the person: they stay in handoff (timeline,
    webhooks), erasable, and never go on a topic."""
    if _on_wire(info) and isinstance(out, dict):
        out.pop("note", None)
    return out


class OutcomeReport(Payload):
    """What became of the lead in sales (kind `outcome`)."""

    stage: Literal["opportunity", "won", "lost"]
    amount: float | None = None
    currency: str | None = Field(None, description="ISO 4217")
    reason: str | None = Field(None, description="why it was lost, a fixed code")
    note: str | None = Field(None, description="free text; kept in handoff, never on Kafka")

    @model_serializer(mode="wrap")
    def _wire(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo):  # type: ignore[no-untyped-def]
        return _without_note(handler(self), info)


class SlaNotice(Payload):
    """An SLA clock that warned or breached, and what the contract made handoff do."""

    clock: Literal["first_contact", "attempts"]
    tier: str | None = None
    due_at: datetime
    action: Literal["reassign", "escalate", "recycle"] | None = None
    breaches: int = Field(0, description="breaches of this lead so far, this one included")
    manager_rep_id: str | None = None
    new_rep_id: str | None = None


class FeedbackData(Payload):
    """What sales did with a lead, reported back to marketing on leads.feedback."""

    lead_id: str
    kind: str = Field(
        description="accepted, rejected, attempt, outcome, sla_warning, "
        "sla_breached, reassigned, escalated, recycled"
    )
    at: datetime
    rep_id: str | None = None
    team: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)
    tier: str | None = None
    source: str | None = Field(None, description="the lead's source, for attribution")
    campaign_id: str | None = None
    previous_rep_id: str | None = None
    attempt: AttemptReport | None = None
    rejection: RejectionReport | None = None
    outcome: OutcomeReport | None = None
    sla: SlaNotice | None = None

    @model_serializer(mode="wrap")
    def _wire(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo):  # type: ignore[no-untyped-def]
        out = handler(self)
        if _on_wire(info) and isinstance(out.get("detail"), dict):
            out["detail"].pop("note", None)
        return out


# --- personal data: keys and erasure -----------------------------------------------------


class LeadKeyData(Payload):
    """A lead's data key: whoever holds it can open the lead's sealed personal fields."""

    lead_id: str
    kid: str
    alg: Literal["A256GCM"] = "A256GCM"
    key: str = Field(description="the 32-byte AES key, base64url")
    created_at: datetime


class LeadErasedData(Payload):
    """A lead whose personal data was erased (GDPR art. 17); anonymous facts remain."""

    lead_id: str
    erasure_id: str = Field(description="intake's erasure request (GET /v1/erasures/{id})")
    requested_at: datetime
    erased_at: datetime = Field(description="when the publishing service erased its copies")


# --- the envelope ----------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    """CloudEvents 1.0, structured JSON mode. Subclasses pin `type` and the `data` model."""

    model_config = ConfigDict(frozen=True)

    TYPE: ClassVar[str] = ""
    TOPIC: ClassVar[str] = ""

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(default_factory=ids.new_id)
    source: str
    type: str = ""
    subject: str | None = Field(None, description="the lead id")
    time: datetime = Field(default_factory=_now)
    datacontenttype: Literal["application/json"] = "application/json"
    traceparent: str | None = Field(None, description="W3C trace context (CloudEvents extension)")
    data: Any

    def model_post_init(self, __context: Any) -> None:
        if not self.type:
            object.__setattr__(self, "type", self.TYPE)

    @property
    def key(self) -> str:
        """Kafka key: the lead id, so a lead's events stay in order on one partition."""
        return self.subject or self.id


class LeadReceived(Event):
    """A new lead accepted by intake (stored, validated, normalised)."""

    TYPE: ClassVar[str] = "com.leadrelay.lead.received.v1"
    TOPIC: ClassVar[str] = TOPIC_RECEIVED
    data: LeadData


class LeadUpdated(Event):
    """A duplicate merged into an existing lead: new touches or attributes, so score again."""

    TYPE: ClassVar[str] = "com.leadrelay.lead.updated.v1"
    TOPIC: ClassVar[str] = TOPIC_RECEIVED
    data: LeadData


class LeadScored(Event):
    """Scoring's decision on a lead, with its explanation, SLA terms and routing hint."""

    TYPE: ClassVar[str] = "com.leadrelay.lead.scored.v1"
    TOPIC: ClassVar[str] = TOPIC_SCORED
    data: LeadScoredData


class LeadAssigned(Event):
    """A qualified lead assigned to a rep, with the context to continue the conversation."""

    TYPE: ClassVar[str] = "com.leadrelay.lead.assigned.v1"
    TOPIC: ClassVar[str] = TOPIC_HANDOFF
    data: LeadAssignedData


class LeadFeedback(Event):
    """What sales did with a lead (accept, reject, attempt, outcome) or an SLA event."""

    TYPE: ClassVar[str] = "com.leadrelay.lead.feedback.v1"
    TOPIC: ClassVar[str] = TOPIC_FEEDBACK
    data: FeedbackData


class LeadKeyIssued(Event):
    """A lead's data key, published before the lead's first event; a null value (tombstone)
    with the same Kafka key replaces it when the lead is erased."""

    TYPE: ClassVar[str] = "com.leadrelay.lead.key.v1"
    TOPIC: ClassVar[str] = TOPIC_KEYS
    data: LeadKeyData


class LeadErased(Event):
    """A lead's personal data was erased; consumers erase their copies and pass it on."""

    TYPE: ClassVar[str] = "com.leadrelay.lead.erased.v1"
    TOPIC: ClassVar[str] = TOPIC_RECEIVED
    ALSO_ON: ClassVar[tuple[str, ...]] = (TOPIC_SCORED, TOPIC_HANDOFF)
    data: LeadErasedData


class LeadErasedScored(LeadErased):
    """lead.erased as scoring passes it on."""

    TOPIC: ClassVar[str] = TOPIC_SCORED


class LeadErasedHandoff(LeadErased):
    """lead.erased as handoff passes it on, for sales tools."""

    TOPIC: ClassVar[str] = TOPIC_HANDOFF


class KeyTombstone(Event):
    """Never on the wire as JSON: a consumed record whose value is null (a compacted topic's
    delete marker), handed to handlers so a deleted key is not a poison message."""

    TYPE: ClassVar[str] = "com.leadrelay.tombstone"
    data: None = None


def tombstone(topic: str, partition: int, offset: int, key: bytes | None) -> KeyTombstone:
    """The event a null-valued record stands for; its id is its position (for the inbox)."""
    return KeyTombstone(
        id=f"tombstone:{topic}:{partition}:{offset}",
        source=f"kafka:{topic}",
        subject=key.decode("utf-8", "replace") if key else None,
    )


EVENT_TYPES: dict[str, type[Event]] = {
    cls.TYPE: cls
    for cls in (
        LeadReceived,
        LeadUpdated,
        LeadScored,
        LeadAssigned,
        LeadFeedback,
        LeadKeyIssued,
        LeadErased,
    )
}


class UnknownEventType(ValueError):
    pass


def parse_event(raw: bytes | str) -> Event:
    """Bytes from Kafka -> the typed event; raises ValueError (incl. ValidationError) if bad."""
    import json

    doc = json.loads(raw)
    if not isinstance(doc, dict):
        raise ValueError("event is not a JSON object")
    cls = EVENT_TYPES.get(str(doc.get("type")))
    if cls is None:
        raise UnknownEventType(f"unknown event type {doc.get('type')!r}")
    return cls.model_validate(doc)


def serialize_event(event: Event) -> bytes:
    """The bytes for Kafka: personal fields sealed (PlaintextOnWire if one is not)."""
    return event.model_dump_json(exclude_none=True, context=WIRE).encode()
