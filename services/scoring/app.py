"""Scoring's wiring."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from services.scoring import api, service, worker
from services.scoring.settings import ScoringSettings
from services.scoring.tables import plumbing
from shared.auth import KeyStore
from shared.clock import Clock, SystemClock
from shared.db import transaction
from shared.runtime import Runtime
from shared.web import create_service_app


def create_app(settings: ScoringSettings, *, clock: Clock | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = Runtime.build(settings, plumbing)
        scoring = service.Scoring(clock=clock or SystemClock())
        app.state.runtime = runtime
        app.state.keys = KeyStore(Path(settings.keys_file))
        app.state.scoring = scoring
        worker.register(runtime, scoring)
        await runtime.migrate()
        async with transaction(runtime.sessionmaker) as session:
            await service.ensure_active_contract(
                session, await asyncio.to_thread(Path(settings.contract_file).read_text), scoring
            )
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = create_service_app(
        title="LeadRelay scoring",
        description="Qualifies leads against the marketing-sales contract and explains why.",
        service="scoring",
        max_body_bytes=settings.max_body_bytes,
        lifespan=lifespan,
    )
    app.include_router(api.router)
    return app
