"""PURE: how a duplicate submission of the same person merges into the lead we already have."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from shared.events import LeadData

_CONTACT_FIELDS = ("first_name", "last_name", "phone", "company", "job_title", "country")


def merge_leads(existing: LeadData, incoming: LeadData) -> LeadData:
    """Keep the original id and first-touch facts; add new touches; newer non-empty values win."""
    seen = {(t.type, t.at, t.detail) for t in existing.touches}
    touches = list(existing.touches) + [
        t for t in incoming.touches if (t.type, t.at, t.detail) not in seen
    ]
    touches.sort(key=lambda t: t.at)
    update: dict[str, Any] = {
        "touches": tuple(touches),
        "attributes": {
            **existing.attributes,
            **{k: v for k, v in incoming.attributes.items() if v is not None},
        },
        "utm": {**existing.utm, **incoming.utm},
        "consent": {**existing.consent, **incoming.consent},
        "revision": existing.revision + 1,
    }
    for name in _CONTACT_FIELDS:
        value = getattr(incoming, name)
        if value:
            update[name] = value
    return existing.model_copy(update=update)


def request_fingerprint(body: Any) -> str:
    """A stable hash of a request body, to tell a replay from a different reuse of a key."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
