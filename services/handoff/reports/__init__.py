"""Closed-loop reports, the system of record both sides trust: funnel, SLA, contribution,
quota, reject reasons, cost per qualified lead and the monthly business review.

`scope` (period and filters), `queries` (SQL), `figures` (PURE arithmetic and words),
`terms` (the contract's quota terms), `schemas` (HTTP models), `service` (one function per
report). Routes live in `services/handoff/reports_api.py`; docs in docs/reports.md.
"""
