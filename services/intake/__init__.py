"""Intake: takes leads from JSON posts, batch uploads (NDJSON, CSV), web forms and
marketing-automation webhooks; validates, dedupes, stores, and publishes `lead.received`
(and `lead.updated` for merged duplicates) on leads.received via its outbox."""
