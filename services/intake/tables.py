"""Intake's own tables."""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Index, Integer, String, Table, Text

from shared.db import new_metadata
from shared.keyring import Keyring, keys_table
from shared.runtime import Plumbing

metadata = new_metadata()
plumbing = Plumbing.on(metadata)
keyring = Keyring(keys_table(metadata))

leads = Table(
    "leads",
    metadata,
    Column("lead_id", String(36), primary_key=True),
    Column("identity_key", String(320), nullable=False),
    Column("source", String(32), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("campaign_id", String(128), nullable=True),
    Column("payload", JSON, nullable=False),
    Column("revision", Integer, nullable=False, default=1),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_leads_identity_key_received_at", "identity_key", "received_at"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("key", String(300), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("response", JSON, nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("note", Text, nullable=True),
)

forms = Table(
    "forms",
    metadata,
    Column("form_id", String(64), primary_key=True),
    Column("config", JSON, nullable=False),
    Column("managed_by", String(8), nullable=False, comment="file (forms.yaml) or api (PUT)"),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# --- erasure (GDPR art. 17): the audit trail, never the email itself -------------------

erasures = Table(
    "erasures",
    metadata,
    Column("erasure_id", String(36), primary_key=True),
    Column("scope", String(8), nullable=False, comment="lead (by id) or email"),
    Column("lead_count", Integer, nullable=False),
    Column("requested_by_key_id", String(64), nullable=False),
    Column("requested_by_name", String(200), nullable=True),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("erased_at", DateTime(timezone=True), nullable=True, comment="intake's own part"),
    Column("completed_at", DateTime(timezone=True), nullable=True, comment="every service"),
)

erasure_leads = Table(
    "erasure_leads",
    metadata,
    Column("erasure_id", String(36), primary_key=True),
    Column("lead_id", String(36), primary_key=True),
    Column(
        "confirmed_at",
        DateTime(timezone=True),
        nullable=True,
        comment="handoff, the last service, published lead.erased",
    ),
    Index("ix_erasure_leads_lead_id", "lead_id"),
)
