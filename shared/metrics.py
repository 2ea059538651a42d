"""Every metric LeadRelay exports, defined once. Base units, `_total` counters, no PII labels.

Labels are bounded: source, channel, reason, decision, tier, team, kind, topic, service.
Never a lead id, a rep id or an email.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
CONTACT_BUCKETS = (60, 300, 900, 1800, 3600, 4 * 3600, 8 * 3600, 86400, 3 * 86400, 7 * 86400)

LEADS_RECEIVED = Counter(
    "leadrelay_leads_received_total", "Leads accepted by intake", ["source", "channel"]
)
LEADS_REJECTED = Counter(
    "leadrelay_leads_rejected_total", "Leads refused by intake", ["channel", "reason"]
)
LEADS_DUPLICATE = Counter(
    "leadrelay_leads_duplicate_total",
    "Duplicate submissions merged or replayed",
    ["channel", "kind"],
)
DECISIONS = Counter("leadrelay_decisions_total", "Scoring decisions", ["decision", "tier"])
LEAD_SCORE = Histogram(
    "leadrelay_lead_score",
    "Total score of scored leads",
    buckets=(0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 150),
)
PIPELINE_LATENCY = Histogram(
    "leadrelay_pipeline_latency_seconds",
    "From intake's accept to handoff's assignment",
    buckets=LATENCY_BUCKETS,
)
TIME_TO_FIRST_CONTACT = Histogram(
    "leadrelay_time_to_first_contact_seconds",
    "From assignment to the first contact attempt",
    ["team", "tier"],
    buckets=CONTACT_BUCKETS,
)
SLA_OUTCOMES = Counter(
    "leadrelay_sla_outcomes_total",
    "SLA clocks settled, met or breached",
    ["team", "tier", "kind", "outcome"],
)
SLA_BREACHES = Counter("leadrelay_sla_breaches_total", "SLA breaches", ["team", "tier", "kind"])
SLA_WARNINGS = Counter("leadrelay_sla_warnings_total", "SLA warnings sent", ["team", "tier"])
AWAITING_FIRST_CONTACT = Gauge(
    "leadrelay_leads_awaiting_first_contact",
    "Assigned leads not yet contacted",
    ["team", "tier"],
)
OLDEST_AWAITING = Gauge(
    "leadrelay_oldest_awaiting_first_contact_seconds",
    "Age of the oldest assigned lead not yet contacted",
    ["team", "tier"],
)
FIRST_CONTACT_OVERDUE = Gauge(
    "leadrelay_first_contact_overdue_leads",
    "Uncontacted leads past their first-contact due time",
    ["team", "tier"],
)
QUEUED_UNASSIGNED = Gauge(
    "leadrelay_leads_queued_unassigned", "Qualified leads waiting for an available rep", ["team"]
)
CONTACT_ATTEMPTS = Counter(
    "leadrelay_contact_attempts_total",
    "Contact attempts reported by sales",
    ["channel", "outcome"],
)
OUTBOX_BACKLOG = Gauge("leadrelay_outbox_backlog", "Outbox rows not yet published", ["service"])
OUTBOX_OLDEST_AGE = Gauge(
    "leadrelay_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox row", ["service"]
)
OUTBOX_PUBLISHED = Counter(
    "leadrelay_outbox_published_total", "Outbox rows published", ["service", "topic"]
)
CONSUMER_LAG = Gauge(
    "leadrelay_consumer_lag", "Messages behind the end of the topic", ["service", "topic"]
)
CONSUMER_MESSAGES = Counter(
    "leadrelay_consumer_messages_total", "Messages consumed", ["service", "topic", "result"]
)
CONSUMER_PROGRESS = Gauge(
    "leadrelay_consumer_last_progress_timestamp_seconds",
    "Unix time the consumer last committed progress",
    ["service", "topic"],
)
DLQ_MESSAGES = Counter(
    "leadrelay_dlq_messages_total", "Messages sent to a dead-letter topic", ["service", "topic"]
)
WEBHOOK_DELIVERIES = Counter(
    "leadrelay_webhook_deliveries_total", "Webhook delivery attempts", ["result"]
)
HTTP_REQUESTS = Counter(
    "leadrelay_http_requests_total", "HTTP requests", ["service", "method", "route", "status"]
)
HTTP_DURATION = Histogram(
    "leadrelay_http_request_duration_seconds",
    "HTTP request duration",
    ["service", "method", "route"],
    buckets=LATENCY_BUCKETS,
)
ASSIGNMENTS = Counter(
    "leadrelay_assignments_total", "Leads assigned to a rep, by why", ["team", "reason"]
)
SLA_ACTIONS = Counter(
    "leadrelay_sla_actions_total",
    "Breach actions carried out: reassign, escalate, recycle",
    ["team", "tier", "action"],
)
LEAD_FEEDBACK = Counter(
    "leadrelay_lead_feedback_total", "Feedback events published for marketing", ["kind"]
)
WEBHOOK_BACKLOG = Gauge(
    "leadrelay_webhook_backlog", "Webhook deliveries waiting to be sent (not yet delivered or dead)"
)
