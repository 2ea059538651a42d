"""A real Prometheus scrapes the three services during a short flow; time to first contact
and SLA breaches are read back through its HTTP API. `promtool check metrics` on each
service's /metrics. Runs the stack with `leadrelay up`, as a newcomer would."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.tansu import free_port
from tests.conftest import a_lead
from tests.infra import eventually

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() == "true"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        if IN_CI:
            pytest.fail(f"{tool} is missing under CI=true (make test installs it)")
        pytest.skip(f"{tool} not installed (Debian package prometheus; make test installs it)")
    return path


def _fast_sla_contract(tmp: Path) -> Path:
    """The default contract with a 2-second wall-clock first-contact SLA for hot leads."""
    text = (ROOT / "contracts" / "default.yaml").read_text()
    text, n = re.subn(
        r"hot: \{within: 5m, business_hours: true, warn_at: 0\.8\}",
        "hot: {within: 2s, business_hours: false, warn_at: 0.5}",
        text,
    )
    assert n == 1, "the default contract's hot SLA line changed; update this test"
    path = tmp / "contract.yaml"
    path.write_text(text.replace('version: "2026.1"', 'version: "prom-test"'))
    return path


async def test_prometheus_reads_sla_figures_and_logs_follow_one_correlation_id(
    tmp_path: Path,
) -> None:
    prometheus, promtool = _need("prometheus"), _need("promtool")
    base, broker_port, prom_port = free_port(), free_port(), free_port()
    while len({base, base + 1, base + 2, broker_port, prom_port}) < 5:
        base = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADRELAY_")}
    env["LEADRELAY_SCORING_CONTRACT_FILE"] = str(_fast_sla_contract(tmp_path))
    env["LEADRELAY_HANDOFF_SCAN_SECONDS"] = "0.5"
    stack = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "services.cli",
            "up",
            "--data-dir",
            str(tmp_path / "data"),
            "--broker-port",
            str(broker_port),
            "--base-port",
            str(base),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )
    config = tmp_path / "prometheus.yml"
    targets = {"intake": base, "scoring": base + 1, "handoff": base + 2}
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\nscrape_configs:\n"
        + "".join(
            f"  - job_name: {job}\n    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n"
            for job, port in targets.items()
        )
    )
    prom = subprocess.Popen(
        [
            prometheus,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        key = await asyncio.to_thread(_api_key_from, stack)
        auth = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(timeout=10) as client:
            contacted = await _assigned_lead(client, base, auth)
            breached = await _assigned_lead(client, base, auth)
            r = await client.post(
                f"http://127.0.0.1:{base + 2}/v1/leads/{contacted['lead_id']}/attempts",
                headers=auth,
                json={
                    "attempt_id": "a1",
                    "rep_id": contacted["rep_id"],
                    "channel": "call",
                    "outcome": "connected",
                    "at": datetime.now(UTC).isoformat(),
                },
            )
            assert r.status_code == 201, r.text

            async def query(expr: str) -> float:
                q = await client.get(
                    f"http://127.0.0.1:{prom_port}/api/v1/query", params={"query": expr}
                )
                result = q.json()["data"]["result"] if q.status_code == 200 else []
                return float(result[0]["value"][1]) if result else 0.0

            assert (
                await eventually(
                    lambda: query("sum(leadrelay_time_to_first_contact_seconds_count)"), timeout=30
                )
                == 1
            )
            assert (
                await eventually(
                    lambda: query('sum(leadrelay_sla_breaches_total{kind="first_contact"})'),
                    timeout=30,
                )
                >= 1
            )
            assert (
                await eventually(
                    lambda: query('sum(up{job=~"intake|scoring|handoff"})'), timeout=30
                )
                == 3
            )
            view = (
                await client.get(
                    f"http://127.0.0.1:{base + 2}/v1/leads/{breached['lead_id']}", headers=auth
                )
            ).json()
            assert view["breaches"] >= 1

            for port in targets.values():
                text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
                check = subprocess.run(
                    [promtool, "check", "metrics"], input=text, capture_output=True, text=True
                )
                assert check.returncode == 0, check.stdout + check.stderr
                assert "@" not in text, "no email (PII) in metrics"
    finally:
        prom.terminate()
        prom.wait(timeout=20)
        stack.send_signal(signal.SIGINT)
        try:
            stack.wait(timeout=40)
        except subprocess.TimeoutExpired:
            stack.kill()


async def _assigned_lead(
    client: httpx.AsyncClient, base: int, auth: dict[str, str]
) -> dict[str, Any]:
    body = a_lead()
    r = await client.post(
        f"http://127.0.0.1:{base}/v1/leads",
        json=body,
        headers={**auth, "traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"},
    )
    assert r.status_code == 202, r.text
    lead_id = r.json()["lead_id"]

    async def assigned() -> dict[str, Any] | None:
        v = await client.get(f"http://127.0.0.1:{base + 2}/v1/leads/{lead_id}", headers=auth)
        body = v.json() if v.status_code == 200 else {}
        return body if body.get("status") == "assigned" else None

    view = await eventually(assigned, timeout=15)
    assert view["tier"] == "hot"
    return {"lead_id": lead_id, "rep_id": view["rep_id"], "email": body["email"]}


def _api_key_from(stack: subprocess.Popen[str]) -> str:
    assert stack.stdout is not None
    deadline = time.monotonic() + 90
    lines = []
    for line in stack.stdout:
        lines.append(line)
        m = re.match(r"^API key: (\S+)$", line.strip())
        if m:
            return m.group(1)
        if time.monotonic() > deadline:
            break
    raise AssertionError("leadrelay up printed no API key:\n" + "".join(lines))
