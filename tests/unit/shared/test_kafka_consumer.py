"""A consumer's request timeout outlasts a JoinGroup the broker holds for a rebalance
(aiokafka's rebalance timeout is the session timeout)."""

from __future__ import annotations

import pytest

from shared.kafka import new_consumer
from shared.settings import ServiceSettings


@pytest.mark.parametrize(("session_ms", "at_least"), [(10_000, 40_000), (45_000, 50_000)])
async def test_the_request_timeout_outlasts_a_rebalance(session_ms: int, at_least: int) -> None:
    settings = ServiceSettings(service="t", kafka_session_timeout_ms=session_ms)
    consumer = new_consumer(settings, group="g")
    assert consumer._client._request_timeout_ms >= at_least
    assert consumer._client._request_timeout_ms > session_ms
