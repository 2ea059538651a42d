"""Handoff's wiring: the runtime (outbox relay, leads.scored consumer), the reps seed, the
SLA scanner and the webhook sender, all built here and stopped here."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI

from services.handoff import api, reports_api, reps, worker
from services.handoff.scanner import Scanner
from services.handoff.service import Handoff
from services.handoff.settings import HandoffSettings
from services.handoff.tables import plumbing
from services.handoff.webhooks import Sender, SenderConfig
from shared.auth import KeyStore
from shared.clock import Clock, SystemClock
from shared.db import transaction
from shared.runtime import Runtime
from shared.web import create_service_app


def create_app(
    settings: HandoffSettings,
    *,
    clock: Clock | None = None,
    webhook_client: httpx.AsyncClient | None = None,
    webhook_clock: Clock | None = None,
    webhook_rng: random.Random | None = None,
) -> FastAPI:
    """Build the app; nothing connects until its lifespan starts.

    `clock` drives routing and the SLA clocks (tests pin it). Webhook signatures and retries
    run on `webhook_clock`, the wall clock by default, because receivers check the
    `webhook-timestamp` against their own wall clock.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = Runtime.build(settings, plumbing)
        handoff = Handoff(
            clock=clock or SystemClock(),
            default_team=settings.default_team,
            attempt_clock_skew=timedelta(seconds=settings.attempt_clock_skew_seconds),
        )
        app.state.runtime = runtime
        app.state.keys = KeyStore(
            Path(settings.keys_file),
            rate_per_second=settings.rate_limit_per_second,
            burst=settings.rate_limit_burst,
        )
        app.state.handoff = handoff
        worker.register(runtime, handoff)
        await runtime.migrate()
        seed = await asyncio.to_thread(_read_if_exists, Path(settings.reps_file))
        if seed is not None:
            async with transaction(runtime.sessionmaker) as session:
                await reps.seed_reps(session, seed, handoff=handoff)
        client = webhook_client or httpx.AsyncClient()
        sender = Sender(
            sessionmaker=runtime.sessionmaker,
            client=client,
            config=SenderConfig(
                max_attempts=settings.webhook_max_attempts,
                backoff_seconds=settings.webhook_backoff_seconds,
                backoff_max_seconds=settings.webhook_backoff_max_seconds,
                timeout_seconds=settings.webhook_timeout_seconds,
                batch_size=settings.webhook_batch_size,
                concurrency=settings.webhook_concurrency,
                poll_seconds=settings.webhook_poll_seconds,
            ),
            clock=webhook_clock or SystemClock(),
            rng=webhook_rng or random.Random(),
        )
        scanner = Scanner(
            sessionmaker=runtime.sessionmaker,
            handoff=handoff,
            interval=settings.scan_seconds,
            batch_size=settings.scan_batch_size,
            on_commit=runtime.relay.wake,
        )
        app.state.scanner = scanner
        app.state.webhook_sender = sender
        await runtime.start()
        runtime.background(scanner.run(), name="sla-scanner")
        runtime.background(sender.run(), name="webhook-sender")
        try:
            yield
        finally:
            scanner.stop()
            sender.stop()
            await runtime.stop()
            if webhook_client is None:
                await client.aclose()

    app = create_service_app(
        title="LeadRelay handoff",
        description=(
            "Routes qualified leads to reps, runs the SLA clocks, records what sales reports "
            "back and tells marketing on leads.feedback and signed webhooks."
        ),
        service="handoff",
        max_body_bytes=settings.max_body_bytes,
        lifespan=lifespan,
    )
    app.include_router(api.router)
    app.include_router(reports_api.router)
    app.mount(reports_api.STATIC_PATH, reports_api.static_files(), name="static")
    return app


def _read_if_exists(path: Path) -> str | None:
    return path.read_text() if path.exists() else None
