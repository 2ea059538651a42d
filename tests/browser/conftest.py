"""The dashboard in a real browser: Debian's chromium driven by Playwright for Python.

Chromium comes from the system (`apt-get install chromium`), never from `playwright
install`. Without it (or without the playwright package) the tests skip with the reason,
except under CI=true, where they fail.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.infra import IN_CI

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def _missing(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (required under CI=true)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None or not Path(path).exists():
        _missing("chromium is not installed: apt-get install -y chromium")
    assert path is not None
    return path


@pytest.fixture
async def browser(chromium_path: str) -> AsyncIterator[Any]:
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        _missing("the playwright package is not installed (pip install playwright)")
    async with async_playwright() as p:
        instance = await p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            await instance.close()


@dataclass
class Served:
    url: str
    server: Any
    thread: Any


@pytest.fixture
def serve() -> Iterator[Any]:
    """Serve an app on a free local port from its own thread (its own event loop)."""
    import threading
    import time

    import uvicorn

    from shared.tansu import free_port

    started: list[Served] = []

    def start(app: Any) -> str:
        port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 60
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError(f"the app on port {port} did not start")
            time.sleep(0.05)
        served = Served(f"http://127.0.0.1:{port}", server, thread)
        started.append(served)
        return served.url

    yield start
    for s in reversed(started):
        s.server.should_exit = True
    for s in reversed(started):
        s.thread.join(timeout=30)
