"""Scoring's own tables: contract versions, the leads it has seen, and its decisions."""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Float, Index, String, Table, Text

from shared.db import new_metadata
from shared.runtime import Plumbing

metadata = new_metadata()
plumbing = Plumbing.on(metadata)

contracts = Table(
    "contracts",
    metadata,
    Column("version", String(64), primary_key=True),
    Column("document", Text, nullable=False),
    Column("status", String(16), nullable=False),  # draft, active, retired
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("activated_at", DateTime(timezone=True), nullable=True),
)

leads = Table(
    "leads",
    metadata,
    Column("lead_id", String(36), primary_key=True),
    Column("payload", JSON, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Index("ix_leads_received_at", "received_at"),
)

decisions = Table(
    "decisions",
    metadata,
    Column("lead_id", String(36), primary_key=True),
    Column("outcome", String(16), nullable=False),
    Column("tier", String(32), nullable=True),
    Column("score", Float, nullable=False),
    Column("contract_version", String(64), nullable=False),
    Column("decision", JSON, nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False),
)
