"""Kafka in: leads.received -> receive_batch (open the leads, score_leads, erasures) and
leads.keys -> the leads' data keys, a batch at a time, through the one consume loop."""

from __future__ import annotations

from functools import partial

from services.scoring import service
from services.scoring.tables import keyring
from shared.events import TOPIC_KEYS, TOPIC_RECEIVED
from shared.runtime import Runtime


def register(runtime: Runtime, scoring: service.Scoring) -> None:
    keyring.wait_seconds = runtime.settings.key_wait_seconds
    runtime.consume(
        [TOPIC_RECEIVED],
        group="scoring",
        batch_handler=partial(service.receive_batch, scoring=scoring),
    )
    runtime.consume(  # its own consumer: see shared/keyring.py
        [TOPIC_KEYS],
        group="scoring-keys",
        batch_handler=partial(keyring.store_keys, clock=scoring.clock),
        on_commit=keyring.stored,
        peek=keyring.fetched,
        idempotent=True,  # keys are stored with ON CONFLICT DO NOTHING, deletions are upserts
    )
