"""Scoring: consumes leads.received, applies the active contract version, publishes
`lead.scored` (decision, score, fired rules, missing attributes, SLA terms, route hint)."""
