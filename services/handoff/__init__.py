"""Handoff: consumes leads.scored, routes qualified leads to reps, runs the SLA clocks,
records what sales reports back; publishes `lead.assigned` on leads.handoff and every
outcome on leads.feedback for marketing. Owns the reports."""
