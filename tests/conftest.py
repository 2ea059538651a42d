"""Builders and fixtures every test may use; nothing here touches I/O."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.clock import FixedClock

pytest_plugins = ["tests.infra"]


def a_lead(**overrides: Any) -> dict[str, Any]:
    """A lead body for POST /v1/leads that the default contract qualifies."""
    body: dict[str, Any] = {
        "email": f"jane.{uuid.uuid4().hex[:10]}@acme-{uuid.uuid4().hex[:6]}.io",
        "first_name": "Jane",
        "last_name": "Doe",
        "company": "Acme",
        "job_title": "VP Marketing",
        "country": "US",
        "source": "web",
        "attributes": {"employees": 500},
        "touches": [
            {"type": "form_submit", "at": "2026-11-24T10:00:00Z", "detail": "pricing page"}
        ],
    }
    body.update(overrides)
    return body


@pytest.fixture
def fixed_clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 24, 15, 0, tzinfo=UTC))
