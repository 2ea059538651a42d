"""A served service moves its startup heap out of the collector's reach once started."""

from __future__ import annotations

import gc
from typing import Any

from shared.web import _freeze_heap_once_started


async def test_the_heap_is_frozen_after_startup_and_requests_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])
        if scope["type"] == "lifespan":
            assert gc.get_freeze_count() == 0  # not before the startup completed
            await send({"type": "lifespan.startup.complete"})

    async def send(message: Any) -> None:
        seen.append(message["type"])

    async def receive() -> Any:
        return {}

    wrapped = _freeze_heap_once_started(app)
    gc.unfreeze()
    try:
        await wrapped({"type": "http"}, receive, send)
        assert gc.get_freeze_count() == 0
        await wrapped({"type": "lifespan"}, receive, send)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
    assert seen == ["http", "lifespan", "lifespan.startup.complete"]
