"""Kafka in: leads.scored -> erasure.receive_batch (open the leads, then
assignment.receive_scored_batch and erasures) and leads.keys -> the leads' data keys,
through the one consume loop
(a batch of events in one transaction; a poison event is retried alone and dead-lettered)."""

from __future__ import annotations

from functools import partial

from services.handoff import erasure
from services.handoff.service import Handoff
from services.handoff.tables import keyring
from shared.events import TOPIC_KEYS, TOPIC_SCORED
from shared.runtime import Runtime


def register(runtime: Runtime, handoff: Handoff) -> None:
    keyring.wait_seconds = runtime.settings.key_wait_seconds
    runtime.consume(
        [TOPIC_SCORED],
        group="handoff",
        batch_handler=partial(erasure.receive_batch, handoff=handoff),
    )
    runtime.consume(  # its own consumer: see shared/keyring.py
        [TOPIC_KEYS],
        group="handoff-keys",
        batch_handler=partial(keyring.store_keys, clock=handoff.clock),
        on_commit=keyring.stored,
        peek=keyring.fetched,
        idempotent=True,  # keys are stored with ON CONFLICT DO NOTHING, deletions are upserts
    )
