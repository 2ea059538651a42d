"""Deciding what submissions do: create, merge into the same person, or replay a key."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from services.intake.dedupe import Remembered, Submission, merge_leads, plan_intake
from services.intake.schemas import LeadIn
from shared.events import LeadData

NOW = datetime(2026, 1, 20, 9, 30, tzinfo=UTC)


def a_submission(key: str | None = None, **fields: Any) -> Submission:
    return Submission(LeadIn.model_validate({"email": "ada@example.com", **fields}), key)


def plan(subs: list[Submission], **kwargs: Any) -> Any:
    ids = (f"lead-{n}" for n in itertools.count(1))
    defaults: dict[str, Any] = {
        "identities": [s.lead.email for s in subs],
        "earlier": {},
        "recent": {},
        "now": NOW,
        "channel": "api",
        "new_id": lambda: next(ids),
    }
    return plan_intake(subs, **{**defaults, **kwargs})


def a_stored_lead(**fields: Any) -> LeadData:
    lead = LeadIn.model_validate({"email": "ada@example.com", **fields})
    return lead.to_lead_data(lead_id="old-1", received_at=NOW, channel="api")


def test_a_new_person_is_inserted_and_received() -> None:
    p = plan([a_submission()])
    assert [o.answer.status for o in p.outcomes] == ["accepted"]
    assert list(p.inserts) == ["lead-1"]
    assert [(kind, lead.lead_id) for kind, lead in p.events] == [("received", "lead-1")]


def test_a_known_person_merges_into_the_original_lead_and_is_published_as_updated() -> None:
    touch = {"type": "webinar", "at": "2026-01-19T10:00:00Z"}
    p = plan(
        [a_submission(company="Acme", touches=[touch], attributes={"employees": 300})],
        recent={"ada@example.com": a_stored_lead(first_name="Ada")},
    )
    answer = p.outcomes[0].answer
    assert (answer.status, answer.lead_id, answer.duplicate_of) == ("duplicate", "old-1", "old-1")
    assert not p.inserts
    merged = p.updates["old-1"]
    assert (merged.first_name, merged.company, merged.revision) == ("Ada", "Acme", 2)
    assert merged.attributes == {"employees": 300}
    assert [t.type for t in merged.touches] == ["webinar"]
    assert p.events == [("updated", merged)]


def test_the_same_person_twice_in_one_call_is_one_lead_updated_once() -> None:
    p = plan([a_submission(first_name="Ada"), a_submission(company="Acme")])
    assert [o.answer.status for o in p.outcomes] == ["accepted", "duplicate"]
    assert p.outcomes[1].answer.duplicate_of == "lead-1"
    [(final, _)] = p.inserts.values()
    assert (final.first_name, final.company, final.revision) == ("Ada", "Acme", 2)
    assert [kind for kind, _ in p.events] == ["received", "updated"]
    assert p.events[0][1].revision == 1  # each event is the lead as it was then


def test_without_a_dedupe_window_the_same_person_makes_two_leads() -> None:
    p = plan([a_submission(), a_submission()], dedupe=False)
    assert [o.answer.status for o in p.outcomes] == ["accepted", "accepted"]
    assert len(p.inserts) == 2


def test_a_known_idempotency_key_replays_the_first_answer_and_writes_nothing() -> None:
    sub = a_submission("k1")
    first = {"lead_id": "old-1", "status": "accepted", "duplicate_of": None}
    p = plan([sub], earlier={"k1": Remembered(sub.fingerprint(), first)})
    [outcome] = p.outcomes
    assert outcome.replayed
    assert outcome.answer.lead_id == "old-1"
    assert (p.inserts, p.updates, p.events, p.remember) == ({}, {}, [], {})


def test_a_key_reused_for_a_different_lead_is_a_conflict() -> None:
    first = {"lead_id": "old-1", "status": "accepted", "duplicate_of": None}
    p = plan(
        [a_submission("k1", first_name="Bob")],
        earlier={"k1": Remembered("another fingerprint", first)},
    )
    assert p.outcomes[0].conflict
    assert p.outcomes[0].answer is None
    assert not p.events


def test_a_key_repeated_within_one_call_is_answered_once_and_remembered_once() -> None:
    p = plan([a_submission("k1"), a_submission("k1")])
    assert [o.replayed for o in p.outcomes] == [False, True]
    assert p.outcomes[1].answer == p.outcomes[0].answer
    assert list(p.remember) == ["k1"]
    assert len(p.events) == 1


def test_merging_keeps_known_touches_once_and_orders_them_by_time() -> None:
    old = a_stored_lead(touches=[{"type": "webinar", "at": "2026-01-10T10:00:00Z"}])
    new = a_stored_lead(
        touches=[
            {"type": "webinar", "at": "2026-01-10T10:00:00Z"},
            {"type": "form_submit", "at": "2026-01-05T10:00:00Z"},
        ]
    )
    merged = merge_leads(old, new)
    assert [t.type for t in merged.touches] == ["form_submit", "webinar"]
