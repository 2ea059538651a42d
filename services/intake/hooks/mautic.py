"""PURE: Mautic's webhook deliveries -> leads, with the contact's points, stage and touches.

Mautic posts JSON whose keys are event names, each holding a list of events:

    {"mautic.lead_post_save_new": [{"contact": {...}, "timestamp": "..."}],
     "mautic.form_on_submit": [{"submission": {"form": {...}, "lead": {...},
                                               "results": {...}, "dateSubmitted": "..."}}],
     "timestamp": "..."}

and signs the raw body: `Webhook-Signature: base64(HMAC-SHA256(secret, body))`. A contact
carries `id`, `points`, `fields` grouped (`core`, `social`, `personal`, `professional`,
each `{alias: {"value": ...}}`; `fields.all` is a flat `{alias: value}` when present),
`tags`, `utmtags`, `stage` and `doNotContact`. Older Mautic versions name the contact
`lead`; both are read. The assumptions are listed in docs/intake-hooks.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from services.intake.batch import column_for
from services.intake.hooks.model import Adapter, HookItem, verify_hmac_sha256_base64
from services.intake.schemas import MAX_ATTRIBUTE_TEXT

NEW_CONTACT = "mautic.lead_post_save_new"
FORM_SUBMIT = "mautic.form_on_submit"

# Mautic contact field alias -> lead field.
CONTACT_FIELDS = {
    "email": "email",
    "firstname": "first_name",
    "lastname": "last_name",
    "company": "company",
    "position": "job_title",
    "country": "country",
}
PHONE_FIELDS = ("phone", "mobile")
# Core fields that describe Mautic's bookkeeping or address lines, not the buyer.
IGNORED_FIELDS = frozenset(
    {"title", "address1", "address2", "attribution", "attribution_date", "last_active"}
)
GROUPS = ("core", "social", "personal", "professional")
MAX_MAUTIC_ATTRIBUTES = 40
"""LeadIn allows 50 attributes; the adapter's own four (id, points, stage, tags) come on top."""

DNC_CONSENT = {"email": "marketing_email", "sms": "marketing_sms"}
_ATTRIBUTE_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def items(payload: Any, received_at: datetime) -> list[HookItem]:
    """Every event of a delivery, in order; the events this adapter does not map are skipped."""
    out: list[HookItem] = []
    if not isinstance(payload, dict):
        return out
    for event, entries in payload.items():
        if event == "timestamp":
            continue
        if not isinstance(entries, list):
            entries = [entries]
        for entry in entries:
            out.append(_item(len(out), str(event)[:100], entry, received_at))
    return out


def _item(index: int, event: str, entry: Any, received_at: datetime) -> HookItem:
    if not isinstance(entry, dict):
        return HookItem(index, event, None, skipped="the event is not a JSON object")
    if event == NEW_CONTACT:
        contact = _object(entry.get("contact")) or _object(entry.get("lead"))
        if not contact:
            return HookItem(index, event, None, skipped="the event has no contact")
        created = _time(entry.get("timestamp")) or _time(contact.get("dateAdded"))
        touch = {
            "type": "mautic_contact_created",
            "at": created or received_at,
            "detail": "Mautic contact",
        }
        return _lead(index, event, contact, {}, touch, source="campaign")
    if event == FORM_SUBMIT:
        submission = _object(entry.get("submission"))
        if not submission:
            return HookItem(index, event, None, skipped="the event has no submission")
        contact = _object(submission.get("lead")) or _object(submission.get("contact"))
        form = _object(submission.get("form"))
        submitted = _time(submission.get("dateSubmitted")) or _time(entry.get("timestamp"))
        touch = {
            "type": "form_submit",
            "at": submitted or received_at,
            "detail": _text(form.get("name")) or f"Mautic form {_text(form.get('id'))}",
        }
        results = _object(submission.get("results"))
        return _lead(index, event, contact, results, touch, source="web")
    return HookItem(index, event, None, skipped="LeadRelay does not map this event")


def _lead(
    index: int,
    event: str,
    contact: Mapping[str, Any],
    results: Mapping[str, Any],
    touch: dict[str, Any],
    *,
    source: str,
) -> HookItem:
    """A raw lead from a contact (and a form's results for what the contact lacks)."""
    fields = contact_fields(contact)
    data: dict[str, Any] = {"source": source}
    for alias, target in CONTACT_FIELDS.items():
        if _text(fields.get(alias)):
            data[target] = _text(fields[alias])
    phone = next((_text(fields[a]) for a in PHONE_FIELDS if _text(fields.get(a))), None)
    if phone:
        data["phone"] = phone
    for name, value in results.items():
        kind, target = column_for(str(name), 0)
        if kind == "field" and target not in data and _text(value):
            data[target] = _text(value)
    if not data.get("email"):
        return HookItem(index, event, None, skipped="no email address (an anonymous visitor)")
    data["attributes"] = _attributes(contact, fields)
    data["touches"] = [_iso(touch), *_utm_touches(contact)]
    utm = _latest_utm(contact)
    if utm:
        data["utm"] = utm
    consent = {
        DNC_CONSENT[c]: False
        for c in (_text(_object(d).get("channel")) for d in _list(contact.get("doNotContact")))
        if c in DNC_CONSENT
    }
    if consent:
        data["consent"] = consent
    return HookItem(index, event, data)


def contact_fields(contact: Mapping[str, Any]) -> dict[str, Any]:
    """alias -> value, from `fields.all` or the grouped `fields.<group>.<alias>.value`."""
    fields = _object(contact.get("fields"))
    flat = _object(fields.get("all"))
    if flat:
        return {str(k): v for k, v in flat.items() if _scalar(v)}
    out: dict[str, Any] = {}
    for group in GROUPS:
        for alias, field in _object(fields.get(group)).items():
            value = _object(field).get("value") if isinstance(field, dict) else field
            if _scalar(value):
                out[str(alias)] = value
    return out


def _attributes(contact: Mapping[str, Any], fields: Mapping[str, Any]) -> dict[str, Any]:
    """Mautic's id, points, stage and tags, then its other contact fields by alias."""
    attrs: dict[str, Any] = {}
    known = set(CONTACT_FIELDS) | set(PHONE_FIELDS) | IGNORED_FIELDS
    for alias in sorted(fields):
        value = fields[alias]
        key = alias.lower()
        if key in known or value in (None, "") or not _ATTRIBUTE_KEY.fullmatch(key):
            continue
        if len(attrs) >= MAX_MAUTIC_ATTRIBUTES:
            break
        attrs[key] = value[:MAX_ATTRIBUTE_TEXT] if isinstance(value, str) else value
    if _int(contact.get("id")) is not None:
        attrs["mautic_contact_id"] = _int(contact.get("id"))
    if _int(contact.get("points")) is not None:
        attrs["mautic_points"] = _int(contact.get("points"))
    stage = _object(contact.get("stage"))
    if _text(stage.get("name")):
        attrs["mautic_stage"] = _text(stage.get("name"))[:MAX_ATTRIBUTE_TEXT]
    tags = [_text(_object(t).get("tag")) or _text(t) for t in _list(contact.get("tags"))]
    if any(tags):
        attrs["mautic_tags"] = ",".join(t for t in tags if t)[:MAX_ATTRIBUTE_TEXT]
    return attrs


_UTM = {
    "utmSource": "utm_source",
    "utmMedium": "utm_medium",
    "utmCampaign": "utm_campaign",
    "utmTerm": "utm_term",
    "utmContent": "utm_content",
}


def _latest_utm(contact: Mapping[str, Any]) -> dict[str, str]:
    tags = [_object(t) for t in _list(contact.get("utmtags"))]
    if not tags:
        return {}
    last = tags[-1]
    return {
        ours: _text(last.get(theirs)) for theirs, ours in _UTM.items() if _text(last.get(theirs))
    }


def _utm_touches(contact: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each recorded UTM visit is a touch: the campaign (or URL) the contact came through."""
    out = []
    for tag in (_object(t) for t in _list(contact.get("utmtags"))[:50]):
        at = _time(tag.get("dateAdded"))
        detail = _text(tag.get("utmCampaign")) or _text(tag.get("url"))
        if at is not None:
            out.append(_iso({"type": "campaign_visit", "at": at, "detail": detail[:1000] or None}))
    return out


def _iso(touch: dict[str, Any]) -> dict[str, Any]:
    return {**touch, "at": touch["at"].isoformat()}


def _time(value: Any) -> datetime | None:
    """Mautic writes ISO 8601 with an offset; older versions write "Y-m-d H:i:s" in UTC."""
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _text(value: Any) -> str:
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        return ""
    return str(value).strip()


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value) < 19:
        return int(value)
    return None


ADAPTER = Adapter(
    name="mautic",
    signature_header="Webhook-Signature",
    verify=verify_hmac_sha256_base64,
    items=items,
)
