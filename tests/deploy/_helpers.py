"""What the deploy tests share: repo paths, the exported metric names, PromQL name scanning."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PROMETHEUS = DEPLOY / "prometheus"
RULE_FILES = sorted((PROMETHEUS / "rules").glob("*.yml"))
PROMTOOL_TESTS = sorted((PROMETHEUS / "tests").glob("*.yml"))

# The metrics the services export (names are final; shared/metrics.py defines them).
COUNTERS = {
    "leadrelay_leads_received_total",
    "leadrelay_leads_rejected_total",
    "leadrelay_leads_duplicate_total",
    "leadrelay_decisions_total",
    "leadrelay_sla_outcomes_total",
    "leadrelay_sla_breaches_total",
    "leadrelay_sla_warnings_total",
    "leadrelay_contact_attempts_total",
    "leadrelay_outbox_published_total",
    "leadrelay_consumer_messages_total",
    "leadrelay_dlq_messages_total",
    "leadrelay_webhook_deliveries_total",
    "leadrelay_http_requests_total",
}
GAUGES = {
    "leadrelay_leads_awaiting_first_contact",
    "leadrelay_oldest_awaiting_first_contact_seconds",
    "leadrelay_first_contact_overdue_leads",
    "leadrelay_leads_queued_unassigned",
    "leadrelay_outbox_backlog",
    "leadrelay_outbox_oldest_age_seconds",
    "leadrelay_consumer_lag",
    "leadrelay_consumer_last_progress_timestamp_seconds",
}
HISTOGRAMS = {
    "leadrelay_lead_score",
    "leadrelay_pipeline_latency_seconds",
    "leadrelay_time_to_first_contact_seconds",
    "leadrelay_http_request_duration_seconds",
}
EXPORTED = (
    COUNTERS
    | GAUGES
    | {f"{h}{suffix}" for h in HISTOGRAMS for suffix in ("_bucket", "_sum", "_count")}
    | {"up"}  # Prometheus' own per-target series
)

_NOT_NAMES = {
    "and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
    "group_left", "group_right", "inf", "nan",
}  # fmt: skip


def metric_names(expr: str) -> set[str]:
    """Series names a PromQL expression selects (functions, labels and keywords removed)."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    s = re.sub(r"\{[^}]*\}", " ", s)  # label matchers
    s = re.sub(r"\[[^\]]*\]", " ", s)  # ranges and subqueries
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    s = re.sub(r"\$\{?\w+\}?", " ", s)  # Grafana variables such as $__rate_interval
    s = re.sub(r"\boffset\s+\w+", " ", s)
    names = set()
    for m in re.finditer(r"(?<![\w:.])[A-Za-z_:][\w:]*", s):
        if s[m.end() :].lstrip().startswith("("):
            continue  # a function or an aggregation
        if m.group().lower() not in _NOT_NAMES:
            names.add(m.group())
    return names


def load_rules() -> list[Any]:
    rules = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            rules.extend(group["rules"])
    return rules


def recorded_names() -> set[str]:
    return {r["record"] for r in load_rules() if "record" in r}


def require_tool(name: str, why: str) -> str:
    """The tool's path; skip without it, but fail under CI=true where the Makefile installs it."""
    path = shutil.which(name)
    if path is None:
        message = (
            f"{name} not installed ({why}); apt-get install -y prometheus prometheus-alertmanager"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message + " -- required when CI=true")
        pytest.skip(message)
    return path
