"""Scoring's wiring: the runtime, the contract cache, the consumer and the routes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from services.scoring import api, service, versions, worker
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
        scoring = service.Scoring(
            clock=clock or SystemClock(),
            contracts=versions.ContractCache(ttl=settings.contract_cache_seconds),
            page_size=settings.simulation_page_size,
        )
        app.state.runtime = runtime
        app.state.keys = KeyStore(
            Path(settings.keys_file),
            rate_per_second=settings.rate_limit_per_second,
            burst=settings.rate_limit_burst,
        )
        app.state.scoring = scoring
        worker.register(runtime, scoring)
        await runtime.migrate()
        document = await asyncio.to_thread(Path(settings.contract_file).read_text)
        async with transaction(runtime.sessionmaker) as session:
            await versions.ensure_active(session, document, clock=scoring.clock)
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = create_service_app(
        title="LeadRelay scoring",
        description="Qualifies leads against the marketing-sales contract and explains why. "
        "Contracts are versioned: propose a draft, simulate it against past leads, activate it.",
        service="scoring",
        max_body_bytes=settings.max_body_bytes,
        lifespan=lifespan,
    )
    app.include_router(api.router)
    return app
