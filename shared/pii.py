"""Crypto-shredding: each lead's personal fields travel sealed with the lead's own key.

Kafka topics are append-only, so personal data never goes on one in plaintext. Intake draws
a 32-byte key per lead (published on `leads.keys`, compacted) and seals the personal fields
of each `LeadData` once per event (AES-256-GCM, the lead id as associated data, so a sealed
blob cannot be moved to another lead). Consumers open events on entry, so their code works
with plaintext objects, and pass the sealed blob on unchanged. Erasing a lead deletes its
key everywhere (a tombstone on `leads.keys`): every copy left on any topic is unreadable.

What is sealed (`SEALED_FIELDS` and every touch's `detail`): email, first and last name,
phone, company, job title, the free-form attributes and the touches' free text. What stays
in clear is what counts and reports need: ids, source, channel, campaign, country, UTM,
consent, the touches' types and times, revision and timestamps.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared import ids
from shared.events import (
    SEALED_FIELDS,
    Event,
    LeadAssigned,
    LeadAssignedData,
    LeadData,
    LeadKeyData,
    LeadReceived,
    LeadScored,
    LeadUpdated,
    Sealed,
)

KEY_BYTES = 32
NONCE_BYTES = 12
_TOUCH_DETAILS = "touch_details"


class SealError(ValueError):
    """A sealed blob that does not open with the key given (wrong key, lead or tampering)."""


@dataclass(frozen=True, slots=True)
class DataKey:
    """One lead's data key and its id."""

    kid: str
    key: bytes

    @classmethod
    def new(cls) -> DataKey:
        return cls(kid=ids.token_hex(8), key=ids.random_bytes(KEY_BYTES))

    @classmethod
    def of(cls, data: LeadKeyData) -> DataKey:
        try:
            key = _unb64(data.key)
        except (ValueError, binascii.Error) as exc:
            raise SealError(f"lead {data.lead_id}: the key is not base64url") from exc
        if len(key) != KEY_BYTES:
            raise SealError(f"lead {data.lead_id}: a key is {KEY_BYTES} bytes, not {len(key)}")
        return cls(kid=data.kid, key=key)

    def record(self, lead_id: str, created_at: datetime) -> LeadKeyData:
        return LeadKeyData(lead_id=lead_id, kid=self.kid, key=_b64(self.key), created_at=created_at)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def seal(key: DataKey, fields: Mapping[str, Any], *, aad: str) -> Sealed:
    """`fields` as compact JSON, encrypted and authenticated; `aad` binds it to one lead."""
    plaintext = json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode()
    nonce = ids.random_bytes(NONCE_BYTES)
    ct = AESGCM(key.key).encrypt(nonce, plaintext, aad.encode())
    return Sealed.model_construct(kid=key.kid, alg="A256GCM", ct=_b64(nonce + ct))  # ours: valid


def unseal(key: DataKey, sealed: Sealed, *, aad: str) -> dict[str, Any]:
    if sealed.kid != key.kid:
        raise SealError(f"sealed with key {sealed.kid}, not {key.kid}")
    try:
        raw = _unb64(sealed.ct)
        plaintext = AESGCM(key.key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad.encode())
        fields = json.loads(plaintext)
    except (InvalidTag, ValueError, binascii.Error) as exc:
        raise SealError(f"the sealed data of {aad} does not open") from exc
    if not isinstance(fields, dict):
        raise SealError(f"the sealed data of {aad} is not an object")
    return fields


# --- leads -------------------------------------------------------------------------------


def seal_lead(lead: LeadData, key: DataKey) -> LeadData:
    """The lead with its personal fields sealed in `personal` (plaintext kept in memory)."""
    fields: dict[str, Any] = {}
    for name in SEALED_FIELDS:
        value = getattr(lead, name)
        if value:
            fields[name] = value
    details = [t.detail for t in lead.touches]
    if any(details):
        fields[_TOUCH_DETAILS] = details
    return lead.model_copy(update={"personal": seal(key, fields, aad=lead.lead_id)})


def open_lead(lead: LeadData, key: DataKey) -> LeadData:
    """The lead with its personal fields opened; `personal` stays, to be passed on as is."""
    if lead.personal is None:
        return lead
    fields = unseal(key, lead.personal, aad=lead.lead_id)
    details = fields.pop(_TOUCH_DETAILS, None)
    update: dict[str, Any] = {k: v for k, v in fields.items() if k in SEALED_FIELDS}
    if isinstance(details, list) and len(details) == len(lead.touches):
        update["touches"] = tuple(
            t.model_copy(update={"detail": d}) for t, d in zip(lead.touches, details, strict=True)
        )
    return lead.model_copy(update=update)


def erase_lead(lead: LeadData) -> LeadData:
    """What is left of a lead once its personal data is erased: the anonymous facts."""
    update: dict[str, Any] = dict.fromkeys(SEALED_FIELDS)
    update.update(email="", attributes={}, personal=None)
    update["touches"] = tuple(t.model_copy(update={"detail": None}) for t in lead.touches)
    return lead.model_copy(update=update)


def for_wire(lead: LeadData) -> LeadData:
    """A lead fit for a topic: sealed, or without personal data. A lead that came without
    a seal (published before sealing existed) goes on anonymous rather than in clear."""
    if lead.personal is not None or not lead.has_personal_data():
        return lead
    return erase_lead(lead)


def seal_brief(data: LeadAssignedData, key: DataKey | None) -> LeadAssignedData:
    """The rep's brief sealed with the lead's key; dropped if the key is gone (erased)."""
    if not data.brief:
        return data
    if key is None:
        return data.model_copy(update={"brief": None, "personal": None})
    sealed = seal(key, {"brief": data.brief}, aad=data.lead_id)
    return data.model_copy(update={"personal": sealed})


# --- events on entry ---------------------------------------------------------------------


class KeyNotYetKnown(LookupError):
    """The event's lead has no key here yet (it travels on another topic): retry later."""


ERASED = None
"""A keyring's value for a lead whose key was deleted: its events have nothing to open."""


def lead_of(event: Event) -> LeadData | None:
    """The LeadData an event carries, if any."""
    if isinstance(event, LeadReceived | LeadUpdated):
        return event.data
    if isinstance(event, LeadScored | LeadAssigned):
        return event.data.lead
    return None


def needs_key(event: Event) -> bool:
    lead = lead_of(event)
    sealed_brief = isinstance(event, LeadAssigned) and event.data.personal is not None
    return sealed_brief or (lead is not None and lead.personal is not None)


def open_event(event: Event, keys: Mapping[str, DataKey | None]) -> Event | None:
    """The event with its lead's personal fields opened; None if the lead was erased (its
    key deleted: nothing left to process). Raises KeyNotYetKnown if the key is not here."""
    if not needs_key(event):
        return event
    lead_id = event.subject or ""
    if lead_id not in keys:
        raise KeyNotYetKnown(f"no key for lead {lead_id} yet")
    key = keys[lead_id]
    if key is None:
        return None
    if isinstance(event, LeadReceived | LeadUpdated):
        return event.model_copy(update={"data": open_lead(event.data, key)})
    if isinstance(event, LeadScored):
        data = event.data.model_copy(update={"lead": open_lead(event.data.lead, key)})
        return event.model_copy(update={"data": data})
    if isinstance(event, LeadAssigned):
        assigned = event.data.model_copy(update={"lead": open_lead(event.data.lead, key)})
        if assigned.personal is not None:
            brief = unseal(key, assigned.personal, aad=assigned.lead_id).get("brief")
            assigned = assigned.model_copy(update={"brief": brief})
        return event.model_copy(update={"data": assigned})
    return event


def seal_event(event: Event, key: DataKey) -> Event:
    """The event with its lead's personal fields (and a rep's brief) sealed under `key`."""
    if isinstance(event, LeadReceived | LeadUpdated):
        return event.model_copy(update={"data": seal_lead(event.data, key)})
    if isinstance(event, LeadScored):
        data = event.data.model_copy(update={"lead": seal_lead(event.data.lead, key)})
        return event.model_copy(update={"data": data})
    if isinstance(event, LeadAssigned):
        assigned = event.data.model_copy(update={"lead": seal_lead(event.data.lead, key)})
        return event.model_copy(update={"data": seal_brief(assigned, key)})
    return event
