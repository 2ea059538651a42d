"""Intake's wiring: settings in, FastAPI app out; the lifespan owns every connection."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI

from services.intake import api
from services.intake.service import Intake
from services.intake.settings import IntakeSettings
from services.intake.tables import plumbing
from shared.auth import KeyStore
from shared.clock import Clock, SystemClock
from shared.runtime import Runtime
from shared.web import create_service_app


def create_app(settings: IntakeSettings, *, clock: Clock | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = Runtime.build(settings, plumbing)
        app.state.runtime = runtime
        app.state.keys = KeyStore(Path(settings.keys_file))
        app.state.intake = Intake(
            clock=clock or SystemClock(),
            dedupe_window=timedelta(hours=settings.dedupe_window_hours),
        )
        await runtime.migrate()
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = create_service_app(
        title="LeadRelay intake",
        description="Takes leads from web forms, marketing automation and campaign lists.",
        service="intake",
        max_body_bytes=settings.max_body_bytes,
        lifespan=lifespan,
    )
    app.include_router(api.router)
    return app
