"""Kafka in: leads.received -> score_leads, a batch at a time, through the one consume loop."""

from __future__ import annotations

from functools import partial

from services.scoring import service
from shared.events import TOPIC_RECEIVED
from shared.runtime import Runtime


def register(runtime: Runtime, scoring: service.Scoring) -> None:
    runtime.consume(
        [TOPIC_RECEIVED],
        group="scoring",
        batch_handler=partial(service.score_leads, scoring=scoring),
    )
