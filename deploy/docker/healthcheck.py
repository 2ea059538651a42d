"""Container HEALTHCHECK: GET /healthz of the service this container runs; exit 0 if 200.

One image runs all three services (`leadrelay serve intake|scoring|handoff`), so the port
is found from PID 1's command line: the word after `serve` names the service, and its
port is LEADRELAY_<SERVICE>_PORT or the default. Standard library only.
"""

from __future__ import annotations

import os
import sys
import urllib.request

DEFAULT_PORTS = {"intake": 8001, "scoring": 8002, "handoff": 8003}


def service_from_cmdline(args: list[str]) -> str:
    """The word after `serve` in a command line; the image's default CMD serves intake."""
    for i, arg in enumerate(args[:-1]):
        if arg == "serve" and args[i + 1] in DEFAULT_PORTS:
            return args[i + 1]
    return "intake"


def pid1_cmdline() -> list[str]:
    try:
        with open("/proc/1/cmdline", "rb") as f:
            return [a.decode() for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def main() -> int:
    service = service_from_cmdline(pid1_cmdline())
    port = os.environ.get(f"LEADRELAY_{service.upper()}_PORT", str(DEFAULT_PORTS[service]))
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return 0 if response.status == 200 else 1
    except Exception as exc:  # any failure means unhealthy
        sys.stderr.write(f"{url}: {exc}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
