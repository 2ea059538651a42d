"""Handoff's wiring."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from services.handoff import api, service, worker
from services.handoff.settings import HandoffSettings
from services.handoff.tables import plumbing
from shared.auth import KeyStore
from shared.clock import Clock, SystemClock
from shared.db import transaction
from shared.runtime import Runtime
from shared.web import create_service_app


def create_app(settings: HandoffSettings, *, clock: Clock | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = Runtime.build(settings, plumbing)
        handoff = service.Handoff(clock=clock or SystemClock(), default_team=settings.default_team)
        app.state.runtime = runtime
        app.state.keys = KeyStore(Path(settings.keys_file))
        app.state.handoff = handoff
        worker.register(runtime, handoff)
        await runtime.migrate()
        seed = await asyncio.to_thread(_read_if_exists, Path(settings.reps_file))
        if seed is not None:
            async with transaction(runtime.sessionmaker) as session:
                await service.seed_reps(session, seed, handoff=handoff)
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = create_service_app(
        title="LeadRelay handoff",
        description="Routes qualified leads to reps, runs the SLA clocks, reports back.",
        service="handoff",
        max_body_bytes=settings.max_body_bytes,
        lifespan=lifespan,
    )
    app.include_router(api.router)
    return app


def _read_if_exists(path: Path) -> str | None:
    return path.read_text() if path.exists() else None
