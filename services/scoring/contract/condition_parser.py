"""Turn a condition's YAML node into a Condition, recording every problem with its line."""

from __future__ import annotations

import re
from collections.abc import Callable

from yaml.nodes import Node

from services.scoring.contract.conditions import (
    OPERATORS,
    AllOf,
    AnyOf,
    Between,
    Compare,
    CompareOp,
    Condition,
    EmailDomainIn,
    Equals,
    FreeMail,
    JobLevelIn,
    Matches,
    Not,
    OneOf,
    Presence,
    TouchCount,
    key_of,
)
from services.scoring.contract.facts import canonical_field
from services.scoring.contract.job_levels import JOB_LEVELS
from services.scoring.contract.reader import Reader, child, item

MAX_DEPTH = 12
# Operators that read one field, and the field they read when the condition names none.
DEFAULT_FIELD = {"email_domain_in": "email", "free_mail": "email", "job_level_in": "job_title"}
_DOMAIN = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+")

Builder = Callable[[Reader, Node, str, str], Condition | None]


def parse_condition(
    r: Reader, node: Node, path: str, *, touches_ok: bool = True, depth: int = 0
) -> Condition | None:
    """`{field: country, in: [US, CA]}`, `{touches: {...}}` or `{all|any: [...]}` / `{not: ...}`."""
    if depth > MAX_DEPTH:
        r.problem(node, path, f"conditions nest at most {MAX_DEPTH} deep")
        return None
    before = len(r.issues)
    entries = r.mapping(node, path, allowed=(*OPERATORS, "field"), label="operator")
    if entries is None:
        return None
    operators = [k for k in entries if k != "field"]
    if len(operators) != 1:
        if not operators and len(r.issues) == before:
            r.problem(node, path, f"expected one operator: {', '.join(OPERATORS)}")
        elif operators:
            found = ", ".join(operators)
            r.problem(
                node,
                path,
                f"one operator per condition, found {found}; combine conditions with all: or any:",
            )
        return None
    op = operators[0]
    if op in ("all", "any", "not", "touches"):
        if "field" in entries:
            r.problem(entries["field"], child(path, "field"), f"{op} takes no field")
            return None
        return _combine(r, op, entries[op], child(path, op), touches_ok, depth)
    field = _field(r, entries, path, op)
    built = _BUILDERS[op](r, entries[op], child(path, op), field or "")
    return built if field is not None else None


def _combine(
    r: Reader, op: str, node: Node, path: str, touches_ok: bool, depth: int
) -> Condition | None:
    if op == "touches":
        if not touches_ok:
            r.problem(node, path, "routing cannot depend on touches; use fields")
            return None
        return _touches(r, node, path)
    if op == "not":
        inner = parse_condition(r, node, path, touches_ok=touches_ok, depth=depth + 1)
        return None if inner is None else Not(inner)
    nodes = r.sequence(node, path)
    if nodes is None:
        return None
    parsed = [
        parse_condition(r, n, item(path, i), touches_ok=touches_ok, depth=depth + 1)
        for i, n in enumerate(nodes)
    ]
    items = tuple(c for c in parsed if c is not None)
    if len(items) != len(parsed):
        return None
    return AllOf(items) if op == "all" else AnyOf(items)


def _field(r: Reader, entries: dict[str, Node], path: str, op: str) -> str | None:
    if "field" not in entries:
        if op in DEFAULT_FIELD:
            return DEFAULT_FIELD[op]
        r.problem(entries[op], child(path, "field"), f"{op} needs a field, like field: country")
        return None
    node = entries["field"]
    name = r.text(node, child(path, "field"))
    if name is None:
        return None
    try:
        return canonical_field(name)
    except ValueError as err:
        r.problem(node, child(path, "field"), str(err))
        return None


def _equals(r: Reader, node: Node, path: str, field: str) -> Condition | None:
    value = r.scalar(node, path)
    return None if value is None else Equals(field, value)


def _one_of(negate: bool) -> Builder:
    def build(r: Reader, node: Node, path: str, field: str) -> Condition | None:
        nodes = r.sequence(node, path)
        if nodes is None:
            return None
        values = [r.scalar(n, item(path, i)) for i, n in enumerate(nodes)]
        if None in values:
            return None
        return OneOf(field, frozenset(key_of(v) for v in values if v is not None), negate)

    return build


def _compare(op: CompareOp) -> Builder:
    def build(r: Reader, node: Node, path: str, field: str) -> Condition | None:
        bound = r.number(node, path)
        return None if bound is None else Compare(field, op, bound)

    return build


def _between(r: Reader, node: Node, path: str, field: str) -> Condition | None:
    nodes = r.sequence(node, path)
    if nodes is None:
        return None
    if len(nodes) != 2:
        r.problem(node, path, f"expected [low, high], got {len(nodes)} items")
        return None
    low, high = (r.number(n, item(path, i)) for i, n in enumerate(nodes))
    if low is None or high is None:
        return None
    if low > high:
        r.problem(node, path, f"low must not exceed high, got [{low:g}, {high:g}]")
        return None
    return Between(field, low, high)


def _matches(r: Reader, node: Node, path: str, field: str) -> Condition | None:
    text = r.text(node, path)
    if text is None:
        return None
    try:
        return Matches(field, re.compile(str(getattr(node, "value", text))))
    except (re.error, RecursionError, OverflowError) as err:
        r.problem(node, path, f"invalid regular expression: {err}")
        return None


def _presence(present: bool) -> Builder:
    def build(r: Reader, node: Node, path: str, field: str) -> Condition | None:
        flag = r.flag(node, path)
        return None if flag is None else Presence(field, flag == present)

    return build


def _email_domains(r: Reader, node: Node, path: str, field: str) -> Condition | None:
    domains = r.texts(node, path)
    if domains is None:
        return None
    cleaned = [d.lower().lstrip("@").strip(".") for d in domains]
    bad = [d for d in cleaned if not _DOMAIN.fullmatch(d)]
    if bad:
        r.problem(node, path, f"expected domains like acme.com, got {bad[0]!r}")
        return None
    return EmailDomainIn(field, frozenset(cleaned))


def _free_mail(r: Reader, node: Node, path: str, field: str) -> Condition | None:
    flag = r.flag(node, path)
    return None if flag is None else FreeMail(field, flag)


def _job_levels(r: Reader, node: Node, path: str, field: str) -> Condition | None:
    levels = r.texts(node, path, single_ok=True)
    if levels is None:
        return None
    unknown = [lv for lv in levels if lv not in JOB_LEVELS]
    if unknown:
        r.problem(node, path, f"unknown job level {unknown[0]!r}; levels: {', '.join(JOB_LEVELS)}")
        return None
    return JobLevelIn(field, frozenset(levels))


def _touches(r: Reader, node: Node, path: str) -> Condition | None:
    entries = r.mapping(node, path, allowed=("type", "min_count", "within"))
    if entries is None:
        return None
    types = (
        r.texts(entries["type"], child(path, "type"), single_ok=True) if "type" in entries else []
    )
    min_count = (
        r.integer(entries["min_count"], child(path, "min_count"), minimum=1)
        if "min_count" in entries
        else 1
    )
    within = r.duration(entries["within"], child(path, "within")) if "within" in entries else None
    if types is None or min_count is None or ("within" in entries and within is None):
        return None
    return TouchCount(frozenset(t.lower() for t in types) or None, min_count, within)


_BUILDERS: dict[str, Builder] = {
    "equals": _equals,
    "in": _one_of(negate=False),
    "not_in": _one_of(negate=True),
    "gt": _compare("gt"),
    "gte": _compare("gte"),
    "lt": _compare("lt"),
    "lte": _compare("lte"),
    "between": _between,
    "matches": _matches,
    "exists": _presence(present=True),
    "missing": _presence(present=False),
    "email_domain_in": _email_domains,
    "free_mail": _free_mail,
    "job_level_in": _job_levels,
}
