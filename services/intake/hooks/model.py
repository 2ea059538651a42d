"""PURE: what every webhook adapter provides, and the signature scheme most tools share."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class HookItem:
    """One event of a delivery: a raw lead for `LeadIn`, or why the event is not a lead."""

    index: int
    event: str
    data: dict[str, Any] | None
    skipped: str | None = None


@dataclass(frozen=True)
class Adapter:
    """A tool: its name (the URL's `{tool}`), how it signs, and how its events map to leads.

    `items(payload, received_at)` must never raise for any JSON value: a shape it does not
    understand is a skipped item with the reason."""

    name: str
    signature_header: str
    verify: Callable[[str, bytes, str | None], bool]
    items: Callable[[Any, datetime], list[HookItem]]


def hmac_sha256_base64(secret: str, body: bytes) -> str:
    """The signature most tools send: base64 of HMAC-SHA256 over the raw body."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def verify_hmac_sha256_base64(secret: str, body: bytes, signature: str | None) -> bool:
    """Constant-time comparison, so the signature cannot be guessed byte by byte."""
    if not signature:
        return False
    expected = hmac_sha256_base64(secret, body)
    return hmac.compare_digest(expected.encode(), signature.strip().encode("utf-8", "replace"))
