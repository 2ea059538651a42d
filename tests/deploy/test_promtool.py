"""Prometheus rules, alerts and config: promtool checks them, and every alert is unit-tested."""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest
import yaml

from tests.deploy._helpers import (
    DEPLOY,
    EXPORTED,
    PROMETHEUS,
    PROMTOOL_TESTS,
    RULE_FILES,
    load_rules,
    metric_names,
    recorded_names,
    require_tool,
)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def promtool() -> str:
    return require_tool("promtool", "checks and unit-tests the alert rules")


def alerts() -> list[Any]:
    return [r for r in load_rules() if "alert" in r]


def test_rule_files_pass_promtool_check(promtool: str) -> None:
    result = run(promtool, "check", "rules", *map(str, RULE_FILES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_pass(promtool: str) -> None:
    assert PROMTOOL_TESTS, "no promtool tests in deploy/prometheus/tests"
    result = run(promtool, "test", "rules", *map(str, PROMTOOL_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_config_is_valid_and_loads_the_rules(promtool: str) -> None:
    result = run(promtool, "check", "config", str(PROMETHEUS / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    for path in RULE_FILES:
        assert str(path.relative_to(PROMETHEUS)) in result.stdout


def test_alertmanager_config_is_valid() -> None:
    amtool = require_tool("amtool", "checks the Alertmanager config")
    result = run(amtool, "check-config", str(DEPLOY / "alertmanager" / "alertmanager.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_requested_alerts_exist() -> None:
    exprs = {r["alert"]: r["expr"] for r in alerts()}
    assert {
        "LeadRelaySLABudgetBurnFast",
        "LeadRelaySLABudgetBurnSlow",
        "LeadRelaySLABudgetBurnTicket",
        "LeadRelayFirstContactOverdue",
        "LeadRelayOutboxBacklogGrowing",
        "LeadRelayConsumerLagGrowing",
        "LeadRelayConsumerStalled",
        "LeadRelayDeadLetters",
        "LeadRelayServiceDown",
    } <= set(exprs)
    assert "14.4" in exprs["LeadRelaySLABudgetBurnFast"]
    assert "6 *" in exprs["LeadRelaySLABudgetBurnSlow"]


@pytest.mark.parametrize("rule", alerts(), ids=lambda r: r["alert"])
def test_every_alert_has_severity_and_annotations(rule: dict[str, Any]) -> None:
    assert rule["labels"]["severity"] in {"page", "ticket"}
    assert {"summary", "description", "runbook"} <= set(rule["annotations"])


@pytest.mark.parametrize("rule", alerts(), ids=lambda r: r["alert"])
def test_every_runbook_link_points_at_a_runbook_section(rule: dict[str, Any]) -> None:
    path, _, anchor = rule["annotations"]["runbook"].partition("#")
    headings = re.findall(r"^#+\s+(.+)$", (DEPLOY.parent / path).read_text(), re.M)
    anchors = {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}
    assert anchor in anchors


def _unit_test_cases() -> dict[str, set[str]]:
    """Alert name -> {"firing", "quiet"} as covered by the promtool test files."""
    covered: dict[str, set[str]] = {}
    for path in PROMTOOL_TESTS:
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                kind = "firing" if case.get("exp_alerts") else "quiet"
                covered.setdefault(case["alertname"], set()).add(kind)
    return covered


@pytest.mark.parametrize("rule", alerts(), ids=lambda r: r["alert"])
def test_every_alert_is_unit_tested_firing_and_quiet(rule: dict[str, Any]) -> None:
    assert _unit_test_cases().get(rule["alert"]) == {"firing", "quiet"}


@pytest.mark.parametrize("rule", load_rules(), ids=lambda r: r.get("alert") or r.get("record"))
def test_rules_read_only_exported_metrics_or_recorded_series(rule: dict[str, Any]) -> None:
    unknown = metric_names(rule["expr"]) - EXPORTED - recorded_names()
    assert not unknown, f"not exported and not recorded: {sorted(unknown)}"
