"""PURE: what a set of submissions does to the leads we have: create, merge, or replay.

The shell (`service.accept_leads`) gathers the facts in one transaction (earlier answers to
idempotency keys, the recent lead of each person) and applies the plan this module returns.
A chunk of a batch and a single POST take the same path, so they behave the same.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from services.intake.schemas import LeadAccepted, LeadIn
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


@dataclass(frozen=True)
class Submission:
    """One validated lead, and the key (already namespaced by the caller) that marks a replay."""

    lead: LeadIn
    idempotency_key: str | None = None

    def fingerprint(self) -> str:
        return request_fingerprint(self.lead.model_dump(mode="json"))


@dataclass(frozen=True)
class Outcome:
    """The answer to one submission, or why it was refused (its key was used for another)."""

    answer: LeadAccepted | None
    replayed: bool = False
    conflict: bool = False


@dataclass(frozen=True)
class Remembered:
    """An idempotency key's first answer, as stored."""

    fingerprint: str
    answer: dict[str, Any]


EventKind = Literal["received", "updated"]


@dataclass
class Plan:
    """What to write in the one transaction: rows, events (in order) and answers."""

    outcomes: list[Outcome] = field(default_factory=list)
    inserts: dict[str, tuple[LeadData, str]] = field(default_factory=dict)
    updates: dict[str, LeadData] = field(default_factory=dict)
    events: list[tuple[EventKind, LeadData]] = field(default_factory=list)
    remember: dict[str, Remembered] = field(default_factory=dict)


def plan_intake(
    submissions: Sequence[Submission],
    *,
    identities: Sequence[str],
    earlier: Mapping[str, Remembered],
    recent: Mapping[str, LeadData],
    now: datetime,
    channel: str,
    new_id: Callable[[], str],
    dedupe: bool = True,
) -> Plan:
    """Decide, in submission order, what each submission does.

    `identities[i]` is submission i's person key; `earlier` the stored answers of the keys
    given; `recent` each person's lead inside the dedupe window. A person seen twice in one
    call merges the second time into the lead the first created, like two posts would.
    """
    plan = Plan()
    answered = dict(earlier)
    people = dict(recent) if dedupe else {}
    for sub, identity in zip(submissions, identities, strict=True):
        key = sub.idempotency_key
        fingerprint = sub.fingerprint() if key else ""
        if key is not None and key in answered:
            first = answered[key]
            if first.fingerprint != fingerprint:
                plan.outcomes.append(Outcome(None, conflict=True))
            else:
                answer = LeadAccepted.model_validate(first.answer)
                plan.outcomes.append(Outcome(answer, replayed=True))
            continue
        incoming = sub.lead.to_lead_data(lead_id=new_id(), received_at=now, channel=channel)
        existing = people.get(identity)
        if existing is None:
            plan.inserts[incoming.lead_id] = (incoming, identity)
            plan.events.append(("received", incoming))
            answer = LeadAccepted(lead_id=incoming.lead_id, status="accepted")
            current = incoming
        else:
            current = merge_leads(existing, incoming)
            if current.lead_id in plan.inserts:
                plan.inserts[current.lead_id] = (current, identity)
            else:
                plan.updates[current.lead_id] = current
            plan.events.append(("updated", current))
            answer = LeadAccepted(
                lead_id=current.lead_id, status="duplicate", duplicate_of=current.lead_id
            )
        if dedupe:
            people[identity] = current
        plan.outcomes.append(Outcome(answer))
        if key is not None:
            remembered = Remembered(fingerprint, answer.model_dump(mode="json"))
            answered[key] = remembered
            plan.remember[key] = remembered
    return plan
