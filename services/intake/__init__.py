"""Intake: takes leads from forms, automation and lists; validates, dedupes, stores, publishes
`lead.received` (and `lead.updated` for merged duplicates) on leads.received via its outbox."""
