"""The child processes the bench starts (broker, services, baseline app): started with a
log file each, stopped in reverse order, always, including on errors and Ctrl-C."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

STOP_SECONDS = 10.0


class NotReady(RuntimeError):
    """A child exited or did not answer /readyz in time; the message carries its log's tail."""


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    port: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_tail(self, lines: int = 20) -> str:
        """The end of the child's log, JSON log records rendered as their message."""
        try:
            raw = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        text = "\n".join(_message(line) for line in raw[-200:])
        return "\n".join(text.splitlines()[-lines:])

    def last_error(self) -> str:
        """The last exception line in the log, e.g. "ImportError: cannot import name ..."."""
        found = [m.group(0) for m in _EXCEPTION.finditer(self.log_tail(400))]
        return found[-1][:300] if found else ""


_EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception|Exit)\b.*$", re.MULTILINE)


def _message(line: str) -> str:
    try:
        return str(json.loads(line)["msg"])
    except (ValueError, KeyError, TypeError):
        return line


@dataclass
class Processes:
    """Every child started through here, so one `stop_all` leaves nothing behind."""

    children: list[Child] = field(default_factory=list)

    def start(
        self,
        name: str,
        argv: list[str],
        *,
        log: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        port: int | None = None,
    ) -> Child:
        with log.open("ab") as out:  # the child keeps its own copy of the descriptor
            proc = subprocess.Popen(
                argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        child = Child(name, proc, log, port)
        self.children.append(child)
        return child

    def adopt(self, name: str, proc: subprocess.Popen[bytes], log: Path) -> Child:
        child = Child(name, proc, log)
        self.children.append(child)
        return child

    def stop(self, *children: Child) -> None:
        """SIGTERM (a graceful uvicorn shutdown), bounded; then SIGKILL."""
        for c in children:
            if c.proc.poll() is None:
                c.proc.terminate()
        deadline = time.monotonic() + STOP_SECONDS
        for c in children:
            try:
                c.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                c.proc.kill()
                c.proc.wait()
            if c in self.children:
                self.children.remove(c)

    def stop_all(self) -> None:
        self.stop(*reversed(self.children))


async def wait_ready(child: Child, *, timeout: float = 90.0, interval: float = 0.05) -> float:
    """Poll /readyz until 200; return the perf_counter() time that probe was sent (a busy
    service answers late; the send time is the conservative start for a rate)."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if child.proc.poll() is not None:
                raise NotReady(
                    f"{child.name} exited with {child.proc.returncode}: {child.last_error()}"
                    f"\n{child.log_tail()}"
                )
            sent = time.perf_counter()
            try:
                r = await client.get(f"{child.url}/readyz")
                if r.status_code == 200:
                    return sent
            except httpx.HTTPError:
                pass
            await asyncio.sleep(interval)
    raise NotReady(
        f"{child.name} not ready after {timeout:.0f}s: {child.last_error()}\n{child.log_tail()}"
    )


def rss_mb(pid: int) -> float | None:
    """VmRSS of a process in MiB, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None
