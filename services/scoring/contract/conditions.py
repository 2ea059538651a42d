"""The operators of a contract's conditions; each is a small frozen object that tests a lead.

Only `exists` and `missing` look at absent fields: every other operator is false when the
lead lacks the field (so a missing country never trips a `not_in` disqualifier; the
contract's `required` list is what handles missing data).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

from services.scoring.contract.facts import LeadFacts, Scalar, age
from services.scoring.contract.freemail import FREE_MAIL_DOMAINS
from services.scoring.contract.job_levels import job_level

FIELD_OPERATORS = (
    "equals", "in", "not_in", "gt", "gte", "lt", "lte", "between", "matches", "exists",
    "missing", "email_domain_in", "free_mail", "job_level_in",
)  # fmt: skip
COMBINATORS = ("all", "any", "not")
TOUCHES = "touches"
OPERATORS = (*FIELD_OPERATORS, TOUCHES, *COMBINATORS)

CompareOp = Literal["gt", "gte", "lt", "lte"]
Key = tuple[str, object]


class Condition(Protocol):
    def holds(self, lead: LeadFacts, now: datetime) -> bool: ...


def number_of(value: Scalar) -> float | None:
    """Numbers and numeric text compare as numbers (`"500"` is 500); booleans never do."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        parsed = float(value.strip())
    except ValueError:
        return None
    return parsed if math.isfinite(parsed) else None


def key_of(value: Scalar) -> Key:
    """Equality key: numbers by value, text case-insensitively, booleans as themselves."""
    if isinstance(value, bool):
        return ("bool", value)
    number = number_of(value)
    if number is not None:
        return ("number", number)
    return ("text", str(value).strip().casefold())


def domain_of(value: Scalar) -> str:
    """The domain of an email address, or the value itself when it is already a domain."""
    return str(value).rpartition("@")[2].strip().strip(".").lower()


@dataclass(frozen=True, slots=True)
class Equals:
    field: str
    value: Scalar

    def holds(self, lead: LeadFacts, now: datetime) -> bool:
        value = lead.get(self.field)
        return value is not None and key_of(value) == key_of(self.value)


@dataclass(frozen=True, slots=True)
class OneOf:
    field: str
    keys: frozenset[Key]
    negate: bool = False

    def holds(self, lead: LeadFacts, now: datetime) -> bool:
        value = lead.get(self.field)
        return value is not None and (key_of(value) in self.keys) != self.negate


@dataclass(frozen=True, slots=True)
class Compare:
    field: str
    op: CompareOp
    bound: float

    def holds(self, lead: LeadFacts, now: datetime) -> bool:
        value = lead.get(self.field)
        number = None if value is None else number_of(value)
        if number is None:
            return False
        if self.op == "gt":
            return number > self.bound
        if self.op == "gte":
            return number >= self.bound
        if self.op == "lt":
            return number < self.bound
        return number <= self.bound


@dataclass(frozen=True, slots=True)
class Between:
    """Inclusive at both ends: `between: [20, 199]` holds for 20 and for 199."""

    field: str
    low: float
    high: float

    def holds(self, lead: LeadFacts, now: datetime) -> bool:
        value = lead.get(self.field)
        number = None if value is None else number_of(value)
        return number is not None and self.low <= number <= self.high


@dataclass(frozen=True, slots=True)
class Matches:
    """Python `re.search` on the value as text; add `(?i)` for case-insensitive patterns."""

    field: str
    pattern: re.Pattern[str]

    def holds(self, lead: LeadFacts, now: datetime) -> bool:
        value = lead.get(self.field)
        if value is None or isinstance(value, bool):
            return False
        return self.pattern.search(str(value)) is not None


@dataclass(frozen=True, slots=True)
class Presence:
    field: str
    present: bool

    def holds(self, lead: LeadFacts, now: datetime) -> bool:
        return lead.has(self.field) == self.present


@dataclass(frozen=True, slots=True)
class EmailDomainIn:
    """The domain or any of its subdomains (`eu.acme.com` is in `acme.com`)."""

    field: str
    domains: frozenset[str]

    def holds(self, lead: LeadFacts, now: datetime) -> bool:
        value = lead.get(self.field)
        if value is None or isinstance(value, bool):
            return False
        domain = domain_of(value)
        return any(domain == d or domain.endswith("." + d) for d in self.domains)


@dataclass(frozen=True, slots=True)
class FreeMail:
    field: str
    expected: bool

    def holds(self, lead: LeadFacts, now: datetime) -> bool:
        value = lead.get(self.field)
        if value is None or isinstance(value, bool):
            return False
        return (domain_of(value) in FREE_MAIL_DOMAINS) == self.expected


@dataclass(frozen=True, slots=True)
class JobLevelIn:
    field: str
    levels: frozenset[str]

    def holds(self, lead: LeadFacts, now: datetime) -> bool:
        value = lead.get(self.field)
        if value is None or isinstance(value, bool):
            return False
        return job_level(str(value)) in self.levels


@dataclass(frozen=True, slots=True)
class TouchCount:
    """At least `min_count` touches of these types (any type when None), within a period."""

    types: frozenset[str] | None
    min_count: int
    within: timedelta | None

    def holds(self, lead: LeadFacts, now: datetime) -> bool:
        count = sum(
            1
            for t in lead.touches
            if (self.types is None or t.type.lower() in self.types)
            and (self.within is None or age(t.at, now) <= self.within)
        )
        return count >= self.min_count


@dataclass(frozen=True, slots=True)
class AllOf:
    items: tuple[Condition, ...]

    def holds(self, lead: LeadFacts, now: datetime) -> bool:
        return all(c.holds(lead, now) for c in self.items)


@dataclass(frozen=True, slots=True)
class AnyOf:
    items: tuple[Condition, ...]

    def holds(self, lead: LeadFacts, now: datetime) -> bool:
        return any(c.holds(lead, now) for c in self.items)


@dataclass(frozen=True, slots=True)
class Not:
    item: Condition

    def holds(self, lead: LeadFacts, now: datetime) -> bool:
        return not self.item.holds(lead, now)
