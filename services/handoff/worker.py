"""Kafka in: leads.scored -> receive_scored, through the one consume loop."""

from __future__ import annotations

from functools import partial

from services.handoff import service
from shared.events import TOPIC_SCORED
from shared.runtime import Runtime


def register(runtime: Runtime, handoff: service.Handoff) -> None:
    runtime.consume(
        [TOPIC_SCORED], group="handoff", handler=partial(service.receive_scored, handoff=handoff)
    )
