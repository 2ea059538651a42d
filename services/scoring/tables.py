"""Scoring's own tables: contract versions, the leads it has seen, and its decisions."""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Float, Index, Integer, String, Table, Text, text

from shared.db import new_metadata
from shared.keyring import Keyring, erasures_table, keys_table
from shared.runtime import Plumbing

metadata = new_metadata()
plumbing = Plumbing.on(metadata)
keyring = Keyring(keys_table(metadata))
erasures = erasures_table(metadata)

contracts = Table(
    "contracts",
    metadata,
    Column("version", String(64), primary_key=True),
    Column("name", String(255), nullable=True),  # null only on rows from before it was kept
    Column("document", Text, nullable=False),
    Column("status", String(16), nullable=False),  # draft, active, retired
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(255), nullable=True),
    Column("activated_at", DateTime(timezone=True), nullable=True),
    Column("activated_by", String(255), nullable=True),
    Column("retired_at", DateTime(timezone=True), nullable=True),
    # At most one active version, whatever two replicas do at once.
    Index(
        "uq_contracts_one_active",
        "status",
        unique=True,
        sqlite_where=text("status = 'active'"),
        postgresql_where=text("status = 'active'"),
    ),
)

leads = Table(
    "leads",
    metadata,
    Column("lead_id", String(36), primary_key=True),
    Column("payload", JSON, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    # The lead's revision at intake (+1 per merged duplicate): an older one never wins.
    Column("revision", Integer, nullable=False, server_default="1"),
    # Keyset pages for the simulation: (received_at, lead_id) > (last seen).
    Index("ix_leads_received_at_lead_id", "received_at", "lead_id"),
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
