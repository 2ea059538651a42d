"""Handoff's own tables: reps and teams, the leads it routes, assignments, SLA clocks,
what sales reported back, and each lead's timeline."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Table,
    TypeDecorator,
    text,
    true,
)

from shared.db import new_metadata
from shared.keyring import Keyring, erasures_table, keys_table
from shared.runtime import Plumbing

metadata = new_metadata()
plumbing = Plumbing.on(metadata)
keyring = Keyring(keys_table(metadata))
erasures = erasures_table(metadata)

_ID = BigInteger().with_variant(Integer, "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime stored in UTC and read back aware on every backend.

    SQLite keeps no offset: a Sydney wall time stored as is would come back as that wall
    time in UTC. So every value is converted to UTC on the way in, and SQLite's naive values
    are marked UTC on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: give it a time zone")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


teams = Table(
    "teams",
    metadata,
    Column("team", String(64), primary_key=True),
    Column("manager_rep_id", String(64), nullable=True),
)

reps = Table(
    "reps",
    metadata,
    Column("rep_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("team", String(64), nullable=False),
    Column("territories", JSON, nullable=False, default=list),
    Column("segments", JSON, nullable=False, default=list, server_default=text("'[]'")),
    Column("weight", Integer, nullable=False, default=1),
    Column("capacity", Integer, nullable=False, default=25),
    Column("time_zone", String(64), nullable=False, default="UTC"),
    Column("working_hours", JSON, nullable=False),
    Column("working_days", JSON, nullable=False),
    Column("country", String(2), nullable=True),
    Column("subdivision", String(16), nullable=True),
    Column("available", Boolean, nullable=False, default=True),
    Column("out_of_office_until", UtcDateTime(), nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False),
)

rotation = Table(
    "rotation_counts",
    metadata,
    Column("team", String(64), primary_key=True),
    Column("rep_id", String(64), primary_key=True),
    Column("assigned", Integer, nullable=False, default=0),
    # False once the rep left the rotation (leave, weight 0, another team): on return their
    # count is reseeded with routing.fair_start_count instead of being owed every lead.
    Column("in_rotation", Boolean, nullable=False, default=True, server_default=true()),
)

leads = Table(
    "leads",
    metadata,
    Column("lead_id", String(36), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("tier", String(32), nullable=True),
    Column("team", String(64), nullable=True),
    Column("rep_id", String(64), nullable=True),
    Column("email_domain", String(255), nullable=True),
    Column("source", String(32), nullable=True),
    Column("campaign_id", String(128), nullable=True),
    Column("lead", JSON, nullable=False),
    Column("decision", JSON, nullable=False),
    Column("sla_terms", JSON, nullable=True),
    Column("received_at", UtcDateTime(), nullable=False),
    Column("assigned_at", UtcDateTime(), nullable=True),
    Column("first_attempt_at", UtcDateTime(), nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("breaches", Integer, nullable=False, default=0),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("route_rule", String(128), nullable=True),
    Column("account_match", Boolean, nullable=False, default=True, server_default=true()),
    Column("queued_at", UtcDateTime(), nullable=True),
    Column("accepted_at", UtcDateTime(), nullable=True),
    Column("escalated_to_rep_id", String(64), nullable=True),
    Column("escalated_at", UtcDateTime(), nullable=True),
    Column("recycled_at", UtcDateTime(), nullable=True),
    Column("closed_at", UtcDateTime(), nullable=True),
    Index("ix_leads_status_team", "status", "team"),
    Index("ix_leads_email_domain", "email_domain"),
    # covers the open-lead count per rep (capacity) without reading the rows
    Index("ix_leads_rep_id_status_first_attempt_at", "rep_id", "status", "first_attempt_at"),
)

assignments = Table(
    "assignments",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("lead_id", String(36), nullable=False, index=True),
    Column("rep_id", String(64), nullable=False),
    Column("team", String(64), nullable=False),
    Column("reason", String(64), nullable=False),
    Column("detail", String(1000), nullable=False),
    Column("assigned_at", UtcDateTime(), nullable=False),
    Column("ended_at", UtcDateTime(), nullable=True),
    Column("end_reason", String(64), nullable=True),
    Column("tier", String(32), nullable=True),
    Column("first_contact_due_at", UtcDateTime(), nullable=True),
    Column("attempts_due_at", UtcDateTime(), nullable=True),
    Column("first_attempt_at", UtcDateTime(), nullable=True),
    Column("attempts", Integer, nullable=False, default=0, server_default=text("0")),
    Column("accepted_at", UtcDateTime(), nullable=True),
    Column("rejected_at", UtcDateTime(), nullable=True),
    Column("reject_reason", String(32), nullable=True),
    Column("reject_note", String(2000), nullable=True),
    # One open assignment per lead, whatever the replicas do: "assigned twice" is impossible.
    Index(
        "uq_assignments_open_lead_id",
        "lead_id",
        unique=True,
        postgresql_where=text("ended_at IS NULL"),
        sqlite_where=text("ended_at IS NULL"),
    ),
)

sla_timers = Table(
    "sla_timers",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("lead_id", String(36), nullable=False, index=True),
    Column("assignment_id", _ID, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("due_at", UtcDateTime(), nullable=False),
    Column("fired_at", UtcDateTime(), nullable=True),
    Column("cancelled_at", UtcDateTime(), nullable=True),
    Column("action", String(32), nullable=True),
    Index("ix_sla_timers_pending", "fired_at", "cancelled_at", "due_at"),
)

attempts = Table(
    "contact_attempts",
    metadata,
    Column("lead_id", String(36), primary_key=True),
    Column("attempt_id", String(128), primary_key=True),
    Column("rep_id", String(64), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("note", String(2000), nullable=True),
    Column("assignment_id", _ID, nullable=True),
    Column("recorded_at", UtcDateTime(), nullable=True),
    Index("ix_contact_attempts_rep_id_at", "rep_id", "at"),
)

timeline = Table(
    "timeline",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("lead_id", String(36), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("rep_id", String(64), nullable=True),
    Column("detail", JSON, nullable=False),
    Index("ix_timeline_lead_id_at", "lead_id", "at"),
)

outcomes = Table(
    "outcomes",
    metadata,
    Column("lead_id", String(36), primary_key=True),
    Column("stage", String(16), nullable=False),  # opportunity, won, lost
    Column("amount", Float, nullable=True),
    Column("currency", String(3), nullable=True),
    Column("reason", String(64), nullable=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("rep_id", String(64), nullable=True),
    Column("opportunity_amount", Float, nullable=True),
    Column("opportunity_at", UtcDateTime(), nullable=True),
    Column("closed_at", UtcDateTime(), nullable=True),
    Column("note", String(2000), nullable=True),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("url", String(2000), nullable=False),
    Column("event_types", JSON, nullable=False),
    Column("description", String(500), nullable=True),
    # Kept as given: every delivery is signed with it, so it cannot be hashed.
    Column("secret", String(200), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("disabled_at", UtcDateTime(), nullable=True),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("subscription_id", String(40), nullable=False),
    Column("message_id", String(64), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("lead_id", String(36), nullable=True),
    Column("payload", LargeBinary, nullable=False),
    Column("status", String(16), nullable=False),  # pending, delivered, dead
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", UtcDateTime(), nullable=False),
    # NULL: due at once. The sender's own clock schedules retries.
    Column("next_attempt_at", UtcDateTime(), nullable=True),
    Column("leased_until", UtcDateTime(), nullable=True),
    Column("last_attempt_at", UtcDateTime(), nullable=True),
    Column("delivered_at", UtcDateTime(), nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", String(500), nullable=True),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    Index("ix_webhook_deliveries_subscription_id_id", "subscription_id", "id"),
    Index(
        "uq_webhook_deliveries_subscription_id_message_id",
        "subscription_id",
        "message_id",
        unique=True,
    ),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("delivery_id", _ID, nullable=False, index=True),
    Column("number", Integer, nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("error", String(500), nullable=True),
    Column("duration_ms", Integer, nullable=False),
)

# --- reports: campaign costs ----------------------------------------------------------
# Owned by the reports feature (services/handoff/campaigns.py, services/handoff/reports/).
# What marketing spent on a campaign over its period; cost per qualified lead divides it by
# the campaign's qualified leads (spread evenly over the period's days, see docs/reports.md).

campaigns = Table(
    "campaigns",
    metadata,
    Column("campaign_id", String(128), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("cost", Numeric(14, 2, asdecimal=False), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)
