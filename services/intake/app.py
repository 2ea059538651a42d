"""Intake's wiring: settings in, FastAPI app out; the lifespan owns every connection."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import partial
from pathlib import Path

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError

from services.intake import api, erasure, erasure_api, forms_api, service
from services.intake.committer import GroupCommitter
from services.intake.edge import RejectionMetrics
from services.intake.forms import FormConfig, load_forms
from services.intake.settings import IntakeSettings
from services.intake.tables import plumbing
from shared.auth import KeyStore
from shared.clock import Clock, SystemClock
from shared.consumer import Consumer
from shared.db import transaction
from shared.events import TOPIC_HANDOFF, LeadErased
from shared.runtime import Runtime
from shared.web import create_service_app

log = logging.getLogger(__name__)

DESCRIPTION = """Takes leads from web forms, marketing automation and campaign lists.

Every channel validates and normalises a lead the same way, deduplicates it (an
`Idempotency-Key`, and the same person within a window), stores it with an outbox row in
one transaction and publishes `lead.received` (or `lead.updated` for a merge) on
`leads.received`, its personal fields sealed with the lead's own key (on `leads.keys`).
Admins erase a lead or a person (`DELETE /v1/leads/{id}`, `POST /v1/erasures`) in every
service. Errors are `application/problem+json` naming every field at fault."""


def read_forms_file(path: Path) -> dict[str, FormConfig]:
    """The forms file's forms; none when there is no file. An invalid file stops the start."""
    if not path.is_file():
        log.info("no forms file at %s; forms come from the API only", path)
        return {}
    return load_forms(path.read_text(encoding="utf-8"))


def create_app(settings: IntakeSettings, *, clock: Clock | None = None) -> FastAPI:
    the_clock = clock or SystemClock()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        defined = read_forms_file(Path(settings.forms_file))
        runtime = Runtime.build(settings, plumbing)
        app.state.runtime = runtime
        app.state.keys = KeyStore(
            Path(settings.keys_file),
            rate_per_second=settings.rate_limit_per_second,
            burst=settings.rate_limit_burst,
        )
        app.state.max_batch_bytes = settings.max_batch_bytes
        app.state.intake = service.Intake(
            clock=the_clock,
            dedupe_window=timedelta(hours=settings.dedupe_window_hours),
            sessionmaker=runtime.sessionmaker,
            on_commit=runtime.relay.wake,
            chunk_rows=settings.batch_chunk_rows,
            hook_secrets={k: v.get_secret_value() for k, v in settings.hook_secrets.items()},
        )
        # Handoff's lead.erased on leads.handoff completes an erasure request. Not part of
        # readiness: intake takes leads whether or not confirmations are flowing (its lag
        # and progress are exported like every consumer's).
        confirmations = Consumer(
            settings=settings,
            topics=[TOPIC_HANDOFF],
            group="intake-erasures",
            batch_handler=partial(erasure.confirm_erasures, clock=the_clock),
            wants={LeadErased.TYPE},  # the rest of leads.handoff costs intake nothing
            background=True,  # a confirmation may take a quarter second longer
            sessionmaker=runtime.sessionmaker,
            inbox=plumbing.inbox,
            outbox=plumbing.outbox,
        )
        await runtime.migrate()
        async with transaction(runtime.sessionmaker) as session:
            await service.apply_forms_file(session, defined, the_clock.now())
        committer = GroupCommitter(
            sessionmaker=runtime.sessionmaker, ctx=app.state.intake, on_commit=runtime.relay.wake
        )
        app.state.committer = committer
        runtime.background(committer.run(), name="group-commit")
        await runtime.start()
        runtime.background(confirmations.run(), name="consumer-intake-erasures")
        try:
            yield
        finally:
            confirmations.stop()
            await committer.drain()
            await runtime.stop()

    app = create_service_app(
        title="LeadRelay intake",
        description=DESCRIPTION,
        service="intake",
        max_body_bytes=settings.max_body_bytes,
        body_limits={"/v1/leads/batch": settings.max_batch_bytes},
        lifespan=lifespan,
    )
    app.add_exception_handler(RequestValidationError, api.on_invalid_request)
    app.add_middleware(RejectionMetrics)
    app.include_router(api.router)
    app.include_router(forms_api.router)
    app.include_router(erasure_api.router)
    return app
