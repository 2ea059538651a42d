"""`leadrelay up` (what `make run` starts), driven as a newcomer would: real processes,
real ports, the printed curl, an independent Kafka client, then Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from shared.tansu import free_port
from tests.infra import read_topic

pytestmark = pytest.mark.e2e


def _children(pid: int) -> set[int]:
    out = subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True, text=True).stdout
    tree: dict[int, list[int]] = {}
    for line in out.splitlines():
        child, parent = (int(x) for x in line.split())
        tree.setdefault(parent, []).append(child)
    found, todo = set(), [pid]
    while todo:
        for c in tree.get(todo.pop(), []):
            found.add(c)
            todo.append(c)
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")


@pytest.fixture(params=["sqlite", "postgresql"])
def stack_env(request: pytest.FixtureRequest) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADRELAY_")}
    if request.param == "postgresql":
        env["LEADRELAY_DATABASE_URL"] = str(request.getfixturevalue("pg_url"))
    return env


async def test_make_run_hands_off_the_printed_curl_lead_and_ctrl_c_leaves_nothing(
    tmp_path: Path, stack_env: dict[str, str]
) -> None:
    base, broker_port = free_port(), free_port()
    while base + 2 in (broker_port, broker_port - 1) or not all(
        _port_free(base + i) for i in range(3)
    ):
        base = free_port()
    started = time.monotonic()
    proc = subprocess.Popen(
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
        env=stack_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output = await asyncio.to_thread(_read_until_curl, proc)
        assert time.monotonic() - started < 90, "up within 90 s"
        key = re.search(r"^API key: (\S+)$", output, re.M)
        assert key, output
        curl = next(
            line.strip()
            for line in output.splitlines()
            if line.strip().startswith("curl -s -X POST")
        )
        posted = subprocess.run(shlex.split(curl), capture_output=True, text=True, check=True)
        lead_id = httpx.Response(200, text=posted.stdout).json()["lead_id"]

        auth = {"Authorization": f"Bearer {key.group(1)}"}
        deadline = time.monotonic() + 2.0
        status = None
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline and status != "assigned":
                r = await client.get(
                    f"http://127.0.0.1:{base + 2}/v1/leads/{lead_id}", headers=auth
                )
                status = r.json().get("status") if r.status_code == 200 else None
                await asyncio.sleep(0.05)
        assert status == "assigned", "shown assigned by handoff within 2 s"

        records = await read_topic(
            f"127.0.0.1:{broker_port}",
            "leads.handoff",
            until=lambda rs: any(r["key"] == lead_id for r in rs),
        )
        mine = [r["value"] for r in records if r["key"] == lead_id]
        assert len(mine) == 1
        assert mine[0]["type"] == "com.leadrelay.lead.assigned.v1"
        for attribute in ("id", "source", "type", "specversion", "time"):
            assert mine[0][attribute]

        family = _children(proc.pid)
        assert len(family) >= 4  # broker and three services
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=40)
        assert "stopped." in (proc.stdout.read() if proc.stdout else "")
        leftovers = [p for p in family if _alive(p)]
        assert leftovers == [], f"processes left behind: {leftovers}"
    finally:
        family = _children(proc.pid) if proc.poll() is None else set()
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for pid in family:  # whatever happened above, leave nothing running
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _read_until_curl(proc: subprocess.Popen[str]) -> str:
    lines: list[str] = []
    assert proc.stdout is not None
    deadline = time.monotonic() + 90
    for line in proc.stdout:
        lines.append(line)
        if "Ctrl-C stops everything." in line or time.monotonic() > deadline:
            break
    return "".join(lines)
