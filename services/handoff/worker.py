"""Kafka in: leads.scored -> assignment.receive_scored_batch, through the one consume loop
(a batch of events in one transaction; a poison event is retried alone and dead-lettered)."""

from __future__ import annotations

from functools import partial

from services.handoff import assignment
from services.handoff.service import Handoff
from shared.events import TOPIC_SCORED
from shared.runtime import Runtime


def register(runtime: Runtime, handoff: Handoff) -> None:
    runtime.consume(
        [TOPIC_SCORED],
        group="handoff",
        batch_handler=partial(assignment.receive_scored_batch, handoff=handoff),
    )
