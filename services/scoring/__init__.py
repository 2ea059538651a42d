"""Scoring: consumes leads.received, applies the active contract version, publishes
`lead.scored` (decision, score, fired rules, missing attributes, SLA terms, route hint).
Contracts are versioned (propose, activate, retire) and a draft can be simulated against
past leads before it is activated; docs/scoring.md."""
