"""The Grafana dashboard and its provisioning: valid, wired up, querying known metrics only."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from tests.deploy._helpers import (
    COUNTERS,
    DEPLOY,
    EXPORTED,
    GAUGES,
    HISTOGRAMS,
    ROOT,
    metric_names,
    recorded_names,
)

GRAFANA = DEPLOY / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "leadrelay.json"


def dashboard() -> Any:
    return json.loads(DASHBOARD.read_text())


def panels() -> list[Any]:
    return [p for p in dashboard()["panels"] if p["type"] != "row"]


def targets() -> list[tuple[str, str]]:
    return [(p["title"], t["expr"]) for p in panels() for t in p.get("targets", [])]


def provisioned_datasource() -> Any:
    doc = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    (datasource,) = doc["datasources"]
    return datasource


def test_the_dashboard_has_a_stable_uid_and_unique_panel_ids() -> None:
    d = dashboard()
    assert d["uid"] == "leadrelay"
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids))


def test_panels_fit_the_grid_without_overlapping() -> None:
    taken: set[tuple[int, int]] = set()
    for p in dashboard()["panels"]:
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24, p["title"]
        cells = {
            (x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])
        }
        assert not cells & taken, f"{p['title']} overlaps another panel"
        taken |= cells


def test_every_panel_queries_the_provisioned_prometheus() -> None:
    datasource = provisioned_datasource()
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    for p in panels():
        assert p["datasource"] == {"type": "prometheus", "uid": datasource["uid"]}, p["title"]
        assert p["targets"], f"{p['title']} has no query"


@pytest.mark.parametrize(("title", "expr"), targets(), ids=[t for t, _ in targets()])
def test_queries_read_only_exported_metrics_or_recorded_series(title: str, expr: str) -> None:
    names = metric_names(expr)
    assert names, f"{title}: no metric found in {expr!r}"
    unknown = names - EXPORTED - recorded_names()
    assert not unknown, f"{title}: not exported and not recorded: {sorted(unknown)}"


def test_the_dashboard_covers_what_sres_asked_for() -> None:
    text = " ".join(expr for _, expr in targets())
    for wanted in (
        "pipeline_latency_seconds:p50",
        "pipeline_latency_seconds:p99",
        "time_to_first_contact_seconds:p50",
        "time_to_first_contact_seconds:p90",
        "leadrelay_sla_breaches_total",
        "leads_awaiting_first_contact",
        "oldest_awaiting_first_contact_seconds",
        "consumer_lag",
        "outbox_backlog",
        "leadrelay_dlq_messages_total",
        "leadrelay_decisions_total",
        "leadrelay_http_requests_total",
        "http_requests_errors",
    ):
        assert wanted in text, wanted


def test_the_dashboard_provider_reads_the_folder_compose_mounts() -> None:
    doc = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "leadrelay.yml").read_text())
    (provider,) = doc["providers"]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./deploy/grafana/dashboards:{provider['options']['path']}:ro" in mounts


def test_the_metric_list_matches_the_code() -> None:
    """The names the deploy files assume are the names shared/metrics.py exports."""
    source = ROOT / "shared" / "metrics.py"
    if not source.exists():
        pytest.skip("shared/metrics.py not written yet")
    defined = set(re.findall(r'"(leadrelay_[a-z0-9_]+)"', source.read_text()))
    missing = (COUNTERS | GAUGES | HISTOGRAMS) - defined
    assert not missing, f"deploy/ relies on metrics the code does not define: {sorted(missing)}"
