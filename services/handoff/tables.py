"""Handoff's own tables: reps and teams, the leads it routes, assignments, SLA clocks,
what sales reported back, and each lead's timeline."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Table,
)

from shared.db import new_metadata
from shared.runtime import Plumbing

metadata = new_metadata()
plumbing = Plumbing.on(metadata)

_ID = BigInteger().with_variant(Integer, "sqlite")

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
    Column("weight", Integer, nullable=False, default=1),
    Column("capacity", Integer, nullable=False, default=25),
    Column("time_zone", String(64), nullable=False, default="UTC"),
    Column("working_hours", JSON, nullable=False),
    Column("working_days", JSON, nullable=False),
    Column("country", String(2), nullable=True),
    Column("subdivision", String(16), nullable=True),
    Column("available", Boolean, nullable=False, default=True),
    Column("out_of_office_until", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

rotation = Table(
    "rotation_counts",
    metadata,
    Column("team", String(64), primary_key=True),
    Column("rep_id", String(64), primary_key=True),
    Column("assigned", Integer, nullable=False, default=0),
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
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("assigned_at", DateTime(timezone=True), nullable=True),
    Column("first_attempt_at", DateTime(timezone=True), nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("breaches", Integer, nullable=False, default=0),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_leads_status_team", "status", "team"),
    Index("ix_leads_email_domain", "email_domain"),
    Index("ix_leads_rep_id_status", "rep_id", "status"),
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
    Column("assigned_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=True),
    Column("end_reason", String(64), nullable=True),
)

sla_timers = Table(
    "sla_timers",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("lead_id", String(36), nullable=False, index=True),
    Column("assignment_id", _ID, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("fired_at", DateTime(timezone=True), nullable=True),
    Column("cancelled_at", DateTime(timezone=True), nullable=True),
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
    Column("at", DateTime(timezone=True), nullable=False),
    Column("note", String(2000), nullable=True),
)

timeline = Table(
    "timeline",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("lead_id", String(36), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
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
    Column("at", DateTime(timezone=True), nullable=False),
)
