"""Kafka in: leads.scored -> assignment.receive_scored, through the one consume loop."""

from __future__ import annotations

from functools import partial

from services.handoff import assignment
from services.handoff.service import Handoff
from shared.events import TOPIC_SCORED
from shared.runtime import Runtime


def register(runtime: Runtime, handoff: Handoff) -> None:
    runtime.consume(
        [TOPIC_SCORED], group="handoff", handler=partial(assignment.receive_scored, handoff=handoff)
    )
