"""The JSON Schema and AsyncAPI documents are generated from the models and never drift."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import jsonschema

from shared.docs import DOCS, documents
from shared.events import LeadData, LeadReceived, serialize_event
from shared.pii import DataKey, seal_lead


def test_the_committed_event_documents_match_the_models() -> None:
    stale = [p.name for p, text in documents().items() if not p.exists() or p.read_text() != text]
    assert stale == [], f"run `make docs` and commit: {stale}"


def test_a_published_event_validates_against_its_json_schema() -> None:
    schema = json.loads((DOCS / "lead.received.v1.json").read_text())
    ev = LeadReceived(
        source="/leadrelay/intake",
        subject="L1",
        data=seal_lead(
            LeadData(
                lead_id="L1",
                email="jane@acme.io",
                source="web",
                received_at=datetime(2026, 11, 24, tzinfo=UTC),
            ),
            DataKey.new(),
        ),
    )
    jsonschema.validate(json.loads(serialize_event(ev)), schema)
