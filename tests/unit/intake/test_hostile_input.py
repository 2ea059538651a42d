"""Hostile input never gets past the documented errors: row errors and ValidationError."""

from __future__ import annotations

import random
from typing import Any

from pydantic import ValidationError

from services.intake.batch import BatchParser, LineTooLong
from services.intake.schemas import LeadIn, field_errors

FIELDS = [
    "email", "first_name", "last_name", "phone", "company", "job_title", "country", "source",
    "campaign_id", "utm", "consent", "attributes", "touches", "unknown",
]  # fmt: skip

NASTY: list[Any] = [
    None, True, 0, -1, 2**64, 1.5, float("nan"), "", " ", "\x00", "\ud800", "\u202e", "a" * 5000,
    "ada@example.com", "+49 30 1234567", "DE", "Germany", "web", "2026-01-20T10:00:00Z",
    [], [None], {}, {"": 1}, {"utm_source": None}, {"a": {"b": {"c": []}}},
    [{"type": "x", "at": "yesterday"}], [{"type": None}], "💥" * 300, "0" * 400,
]  # fmt: skip


def a_hostile_lead(rng: random.Random) -> dict[str, Any]:
    """A lead of random fields, each a value chosen to break naive code."""
    return {rng.choice(FIELDS): rng.choice(NASTY) for _ in range(rng.randint(0, 8))}


def validate(data: Any) -> None:
    """Validation either succeeds or raises ValidationError whose errors convert cleanly."""
    try:
        LeadIn.model_validate(data)
    except ValidationError as exc:
        errors = field_errors(exc)
        assert errors
        assert all(e.message for e in errors)


def test_random_hostile_leads_only_ever_raise_validation_errors() -> None:
    rng = random.Random(20260120)
    for _ in range(2000):
        validate(a_hostile_lead(rng))


def test_random_bytes_through_both_parsers_only_yield_rows() -> None:
    rng = random.Random(7)
    alphabet = b'ab,;"\n\r\t\x00\xff\xfe{}[]:@. 0123456789'
    for kind in ("csv", "ndjson"):
        for _ in range(300):
            body = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 400)))
            if kind == "csv" and rng.random() < 0.5:
                body = b"email,first_name,notes\n" + body
            parser = BatchParser(kind, max_line_bytes=200)
            try:
                rows = parser.feed(body) + parser.close()
            except LineTooLong:
                continue
            for row in rows:
                assert (row.data is None) == bool(row.errors)
                if row.data is not None:
                    validate(row.data)
