"""Which refusals count as rejected leads, on which channel, for which reason."""

from __future__ import annotations

import pytest

from services.intake.edge import channel_of, reason_of


@pytest.mark.parametrize(
    ("method", "path", "channel"),
    [
        ("POST", "/v1/leads", "api"),
        ("POST", "/v1/leads/batch", "batch"),
        ("POST", "/v1/forms/contact", "form"),
        ("POST", "/v1/hooks/mautic", "hook"),
        ("OPTIONS", "/v1/forms/contact", None),
        ("PUT", "/v1/forms/contact", None),
        ("GET", "/v1/forms", None),
        ("POST", "/v1/leadsx", None),
        ("GET", "/metrics", None),
    ],
)
def test_only_posts_on_lead_channels_are_counted(
    method: str, path: str, channel: str | None
) -> None:
    assert channel_of(method, path) == channel


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (202, None),
        (303, None),
        (400, "malformed"),
        (401, "unauthorized"),
        (413, "too_large"),
        (415, "unsupported_media_type"),
        (422, "invalid"),
        (429, "rate_limited"),
        (503, "unavailable"),
        (500, "error"),
        (418, "refused"),
    ],
)
def test_each_refusal_status_has_one_bounded_reason(status: int, reason: str | None) -> None:
    assert reason_of(status) == reason
