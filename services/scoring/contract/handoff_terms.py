"""Read the contract's sections for sales: SLA terms per tier and routing to teams."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection
from datetime import timedelta
from typing import TypeVar

from yaml.nodes import Node, ScalarNode

from services.scoring.contract.condition_parser import parse_condition
from services.scoring.contract.model import (
    BREACH_ACTIONS,
    BreachAction,
    Routing,
    RoutingRule,
    Team,
    TierSla,
)
from services.scoring.contract.reader import Reader, child, item

SLA_KEYS = ("first_contact", "attempts", "on_breach")
FIRST_CONTACT_KEYS = ("within", "business_hours", "warn_at")
ATTEMPTS_KEYS = ("min", "within")
ROUTING_KEYS = ("account_match", "teams", "rules", "default_team")
ROUTING_RULE_KEYS = ("name", "when", "team", "description")
TEAM_KEYS = ("manager", "description")

T = TypeVar("T")
PerTier = dict[str, tuple[Node, T | None]]
FirstContact = tuple[timedelta, bool, float]


def read_sla(r: Reader, node: Node) -> tuple[dict[str, TierSla], dict[str, Node]]:
    """SLA terms by tier, and the node naming each tier (for the tiers <-> SLA cross-check)."""
    entries = r.mapping(node, "sla", allowed=SLA_KEYS, required=("first_contact",))
    if entries is None or "first_contact" not in entries:
        return {}, {}
    firsts = _per_tier(r, entries["first_contact"], "sla.first_contact", _first_contact)
    attempts = _per_tier(r, entries.get("attempts"), "sla.attempts", _attempts)
    breaches = _per_tier(r, entries.get("on_breach"), "sla.on_breach", _on_breach)
    for section, tiers in (("attempts", attempts), ("on_breach", breaches)):
        for tier, (key_node, _) in tiers.items():
            if tier not in firsts:
                r.problem(
                    key_node,
                    f"sla.{section}.{tier}",
                    f"tier {tier!r} has no sla.first_contact.{tier}",
                )
    terms: dict[str, TierSla] = {}
    for tier, (_, first) in firsts.items():
        if first is None:
            continue
        within, business_hours, warn_at = first
        attempts_min, attempts_within = attempts.get(tier, (node, None))[1] or (1, within)
        terms[tier] = TierSla(
            first_contact_within=within,
            business_hours=business_hours,
            warn_at=warn_at,
            attempts_min=attempts_min,
            attempts_within=attempts_within,
            on_breach=breaches.get(tier, (node, None))[1] or ("reassign",),
        )
    return terms, {tier: key_node for tier, (key_node, _) in firsts.items()}


def _per_tier(
    r: Reader, node: Node | None, path: str, read: Callable[[Reader, Node, str], T | None]
) -> PerTier[T]:
    if node is None:
        return {}
    return {
        tier: (key_node, read(r, value_node, child(path, tier)))
        for tier, key_node, value_node in r.keys(node, path) or []
    }


def _first_contact(r: Reader, node: Node, path: str) -> FirstContact | None:
    entries = r.mapping(node, path, allowed=FIRST_CONTACT_KEYS, required=("within",))
    if entries is None:
        return None
    within = r.duration(entries["within"], child(path, "within")) if "within" in entries else None
    hours: bool | None = True
    if "business_hours" in entries:
        hours = r.flag(entries["business_hours"], child(path, "business_hours"))
    warn_at: float | None = 0.8
    if "warn_at" in entries:
        warn_at = r.fraction(entries["warn_at"], child(path, "warn_at"), open_ends=True)
    if within is None or hours is None or warn_at is None:
        return None
    return within, hours, warn_at


def _attempts(r: Reader, node: Node, path: str) -> tuple[int, timedelta] | None:
    entries = r.mapping(node, path, allowed=ATTEMPTS_KEYS, required=ATTEMPTS_KEYS)
    if entries is None:
        return None
    count = r.integer(entries["min"], child(path, "min"), minimum=1) if "min" in entries else None
    within = r.duration(entries["within"], child(path, "within")) if "within" in entries else None
    return None if count is None or within is None else (count, within)


def _on_breach(r: Reader, node: Node, path: str) -> tuple[BreachAction, ...] | None:
    nodes = r.sequence(node, path)
    if nodes is None:
        return None
    actions: list[BreachAction] = []
    for i, action_node in enumerate(nodes):
        action = r.text(action_node, item(path, i))
        if action is None:
            continue
        for known in BREACH_ACTIONS:
            if action == known:
                actions.append(known)
                break
        else:
            r.problem(
                action_node,
                item(path, i),
                f"unknown action {action!r}{_hint(action, BREACH_ACTIONS)}",
            )
    return tuple(actions) if len(actions) == len(nodes) else None


def read_routing(r: Reader, node: Node) -> Routing | None:
    """Teams, rules in order and the default team; rule teams must be listed teams if any are."""
    entries = r.mapping(node, "routing", allowed=ROUTING_KEYS)
    if entries is None:
        return None
    before = len(r.issues)
    account_match: bool | None = True
    if "account_match" in entries:
        account_match = r.flag(entries["account_match"], "routing.account_match")
    teams = _teams(r, entries["teams"]) if "teams" in entries else None
    names = [t.name for t in teams] if teams is not None else None
    rules: list[RoutingRule] = []
    if "rules" in entries:
        for i, rule_node in enumerate(r.sequence(entries["rules"], "routing.rules") or []):
            rule = _routing_rule(r, rule_node, item("routing.rules", i), names)
            if rule is not None:
                rules.append(rule)
    default_team = None
    if "default_team" in entries:
        default_team = _team_ref(r, entries["default_team"], "routing.default_team", names)
    if len(r.issues) > before or account_match is None:
        return None
    return Routing(account_match, tuple(rules), default_team, tuple(teams or ()))


def _teams(r: Reader, node: Node) -> list[Team] | None:
    teams: list[Team] = []
    for name, _, value in r.keys(node, "routing.teams") or []:
        path = child("routing.teams", name)
        if isinstance(value, ScalarNode) and r.value(value) is None:
            teams.append(Team(name))
            continue
        entries = r.mapping(value, path, allowed=TEAM_KEYS)
        if entries is None:
            continue
        manager = (
            r.text(entries["manager"], child(path, "manager")) if "manager" in entries else None
        )
        teams.append(Team(name, manager))
    return teams


def _routing_rule(
    r: Reader, node: Node, path: str, teams: Collection[str] | None
) -> RoutingRule | None:
    entries = r.mapping(node, path, allowed=ROUTING_RULE_KEYS, required=("name", "when", "team"))
    if entries is None:
        return None
    name = r.text(entries["name"], child(path, "name")) if "name" in entries else None
    when = (
        parse_condition(r, entries["when"], child(path, "when"), touches_ok=False)
        if "when" in entries
        else None
    )
    team = _team_ref(r, entries["team"], child(path, "team"), teams) if "team" in entries else None
    if name is None or when is None or team is None:
        return None
    return RoutingRule(name, when, team)


def _team_ref(r: Reader, node: Node, path: str, teams: Collection[str] | None) -> str | None:
    team = r.text(node, path)
    if team is not None and teams is not None and team not in teams:
        r.problem(node, path, f"no team {team!r} under routing.teams{_hint(team, teams)}")
        return None
    return team


def _hint(word: str, choices: Collection[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else f"; expected one of: {', '.join(choices)}"
