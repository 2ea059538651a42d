"""YAML text -> Contract; every problem is reported at once with its line and dotted path.

The caller reads the file. `load_contract` never raises anything but `ContractInvalid`.
"""

from __future__ import annotations

import re

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from services.scoring.contract.condition_parser import parse_condition
from services.scoring.contract.facts import canonical_field
from services.scoring.contract.handoff_terms import read_routing, read_sla
from services.scoring.contract.issues import ContractInvalid, ContractIssue
from services.scoring.contract.model import (
    Contract,
    Disqualifier,
    Quota,
    Routing,
    Rule,
    RuleGroup,
    Thresholds,
    Tier,
)
from services.scoring.contract.reader import Reader, child, item

TOP_KEYS = (
    "version", "name", "description", "required", "disqualifiers", "fit", "engagement",
    "thresholds", "tiers", "quota", "sla", "routing",
)  # fmt: skip
FIT_KEYS = ("cap", "rules")
ENGAGEMENT_KEYS = ("cap", "half_life", "rules")
FIT_RULE_KEYS = ("name", "points", "when", "cap", "description")
ENGAGEMENT_RULE_KEYS = (*FIT_RULE_KEYS, "touch", "within")
DISQUALIFIER_KEYS = ("name", "reason", "when", "description")
THRESHOLD_KEYS = ("qualified", "nurture")
TIER_KEYS = ("name", "min_score", "description")
QUOTA_KEYS = ("qualified_per_month", "pipeline_share", "revenue_share")

VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
REASON_CODE = re.compile(r"[a-z][a-z0-9_]{0,63}")
MAX_NODES = 50_000  # far above any real contract; stops alias bombs before we walk them
MAX_CHARS = 262_144  # the example contract is 6 KB; refuse before parsing, not after
# libyaml is ~10x faster than PyYAML's pure-Python parser and refuses nesting beyond 1,000
# levels up front; the pure loader (when PyYAML was built without libyaml) is the fallback.
_YAML_LOADER: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = getattr(
    yaml, "CSafeLoader", yaml.SafeLoader
)


def load_contract(text: str) -> Contract:
    """Parse and validate a contract; raise ContractInvalid listing every issue found."""
    r = Reader()
    root = _compose(text, r)
    contract = _contract(r, root) if root is not None else None
    if r.issues or contract is None:
        raise ContractInvalid(r.issues or [ContractIssue(None, "", "the contract is invalid")])
    return contract


def _compose(text: str, r: Reader) -> MappingNode | None:
    if len(text) > MAX_CHARS:
        r.issues.append(
            ContractIssue(
                _line_at(text, MAX_CHARS),
                "",
                f"the contract is {len(text)} characters long; at most {MAX_CHARS} are accepted",
            )
        )
        return None
    try:
        root = yaml.compose(text, Loader=_YAML_LOADER)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        what = str(err.problem or err.context or "unreadable")
        if err.context and err.problem:
            what = f"{err.problem} ({err.context})"
        # At the end of the text the parser points past the last line; name the last one.
        line = min(mark.line + 1, _last_line(text)) if mark else None
        r.issues.append(ContractIssue(line, "", f"invalid YAML: {what}"))
        return None
    except yaml.reader.ReaderError as err:
        what = f"character #x{err.character:04x} is not allowed in YAML text"
        if isinstance(err.character, bytes):  # only when given bytes; callers pass text
            what = "the contract is not UTF-8 text"
        r.issues.append(ContractIssue(_line_at(text, err.position), "", f"invalid YAML: {what}"))
        return None
    except yaml.YAMLError as err:
        r.issues.append(ContractIssue(None, "", f"invalid YAML: {err}"))
        return None
    except (RecursionError, MemoryError):
        r.issues.append(ContractIssue(None, "", "invalid YAML: nested too deeply"))
        return None
    if root is None:
        r.issues.append(ContractIssue(None, "", "the contract is empty"))
        return None
    if not isinstance(root, MappingNode):
        r.problem(
            root, "", f"expected a mapping at the top of the contract, got {r.describe(root)}"
        )
        return None
    if _too_big(root):
        r.problem(root, "", f"the contract has more than {MAX_NODES} values (aliases included)")
        return None
    return root


def _last_line(text: str) -> int:
    return max(1, len(text.rstrip().splitlines()))


def _line_at(text: str, position: int) -> int:
    """The 1-based line of a character offset."""
    return text.count("\n", 0, max(position, 0)) + 1


def _too_big(root: Node) -> bool:
    """Count nodes as the loader will visit them (an alias counts every time it is used)."""
    stack, seen = [root], 0
    while stack:
        node = stack.pop()
        seen += 1
        if seen > MAX_NODES:
            return True
        if isinstance(node, SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, MappingNode):
            stack.extend(n for pair in node.value for n in pair)
    return False


def _contract(r: Reader, root: Node) -> Contract | None:
    m = r.mapping(root, "", allowed=TOP_KEYS, required=("version", "name", "thresholds"))
    if m is None:
        return None
    version = (
        r.text(
            m["version"],
            "version",
            pattern=VERSION,
            hint="expected letters, digits, dots, dashes or underscores, like 2026.11",
        )
        if "version" in m
        else None
    )
    name = r.text(m["name"], "name") if "name" in m else None
    description = r.text(m["description"], "description") if "description" in m else None
    required = _required(r, m["required"]) if "required" in m else ()
    disqualifiers = _disqualifiers(r, m["disqualifiers"]) if "disqualifiers" in m else ()
    fit = _group(r, m["fit"], "fit") if "fit" in m else RuleGroup()
    engagement = _group(r, m["engagement"], "engagement") if "engagement" in m else RuleGroup()
    thresholds = _thresholds(r, m["thresholds"]) if "thresholds" in m else None
    tiers = _tiers(r, m["tiers"]) if "tiers" in m else []
    quota = _quota(r, m["quota"]) if "quota" in m else None
    sla, sla_nodes = read_sla(r, m["sla"]) if "sla" in m else ({}, {})
    routing = read_routing(r, m["routing"]) if "routing" in m else Routing()
    _check_tiers(r, tiers, thresholds, sla_nodes)
    if (
        r.issues or version is None or name is None or thresholds is None or required is None
        or disqualifiers is None or fit is None or engagement is None or routing is None
    ):  # fmt: skip
        return None
    return Contract(
        version=version, name=name, description=description, thresholds=thresholds,
        required=required, disqualifiers=disqualifiers, fit=fit,
        engagement=engagement, tiers=tuple(t for t, _ in tiers), quota=quota, sla=sla,
        routing=routing,
    )  # fmt: skip


def _required(r: Reader, node: Node) -> tuple[str, ...] | None:
    nodes = r.sequence(node, "required", non_empty=False)
    if nodes is None:
        return None
    fields: list[str] = []
    for i, field_node in enumerate(nodes):
        name = r.text(field_node, item("required", i))
        if name is None:
            continue
        try:
            field = canonical_field(name)
        except ValueError as err:
            r.problem(field_node, item("required", i), str(err))
            continue
        if field not in fields:
            fields.append(field)
    return tuple(fields)


def _unique_name(r: Reader, node: Node, path: str, seen: set[str], what: str) -> str | None:
    name = r.text(node, path)
    if name is not None and name in seen:
        r.problem(node, path, f"duplicate {what} name {name!r}")
        return None
    if name is not None:
        seen.add(name)
    return name


def _disqualifiers(r: Reader, node: Node) -> tuple[Disqualifier, ...] | None:
    found: list[Disqualifier] = []
    seen: set[str] = set()
    nodes = r.sequence(node, "disqualifiers", non_empty=False) or []
    for i, rule_node in enumerate(nodes):
        path = item("disqualifiers", i)
        m = r.mapping(
            rule_node, path, allowed=DISQUALIFIER_KEYS, required=("name", "reason", "when")
        )
        if m is None:
            continue
        name = (
            _unique_name(r, m["name"], child(path, "name"), seen, "disqualifier")
            if "name" in m
            else None
        )
        reason = (
            r.text(
                m["reason"],
                child(path, "reason"),
                pattern=REASON_CODE,
                hint="expected a snake_case reason code like free_mail_domain",
            )
            if "reason" in m
            else None
        )
        when = parse_condition(r, m["when"], child(path, "when")) if "when" in m else None
        if name and reason and when:
            found.append(Disqualifier(name, reason, when))
    return tuple(found) if len(found) == len(nodes) else None


def _group(r: Reader, node: Node, group: str) -> RuleGroup | None:
    engagement = group == "engagement"
    m = r.mapping(node, group, allowed=ENGAGEMENT_KEYS if engagement else FIT_KEYS)
    if m is None:
        return None
    cap = r.number(m["cap"], child(group, "cap"), minimum=0) if "cap" in m else None
    half_life = r.duration(m["half_life"], child(group, "half_life")) if "half_life" in m else None
    nodes = (
        r.sequence(m["rules"], child(group, "rules"), non_empty=False) or [] if "rules" in m else []
    )
    seen: set[str] = set()
    rules = [_rule(r, n, item(child(group, "rules"), i), group, seen) for i, n in enumerate(nodes)]
    if None in rules or ("cap" in m and cap is None) or ("half_life" in m and half_life is None):
        return None
    return RuleGroup(tuple(rule for rule in rules if rule), cap, half_life)


def _rule(r: Reader, node: Node, path: str, group: str, seen: set[str]) -> Rule | None:
    engagement = group == "engagement"
    allowed = ENGAGEMENT_RULE_KEYS if engagement else FIT_RULE_KEYS
    required = ("name", "points") if engagement else ("name", "points", "when")
    m = r.mapping(node, path, allowed=allowed, required=required)
    if m is None:
        return None
    before = len(r.issues)
    name = (
        _unique_name(r, m["name"], child(path, "name"), seen, f"{group} rule")
        if "name" in m
        else None
    )
    points = r.number(m["points"], child(path, "points")) if "points" in m else None
    cap = r.number(m["cap"], child(path, "cap"), minimum=0) if "cap" in m else None
    when = parse_condition(r, m["when"], child(path, "when")) if "when" in m else None
    touch = r.texts(m["touch"], child(path, "touch"), single_ok=True) if "touch" in m else None
    within = r.duration(m["within"], child(path, "within")) if "within" in m else None
    if engagement and "touch" not in m and "when" not in m:
        r.problem(node, path, "an engagement rule needs touch: (points per touch) or when:")
    if "within" in m and "touch" not in m:
        r.problem(m["within"], child(path, "within"), "within applies to touch:; add touch:")
    if len(r.issues) > before or name is None or points is None:
        return None
    touches = frozenset(t.lower() for t in touch) if touch is not None else None
    return Rule(name, points, when, cap, touches, within)


def _thresholds(r: Reader, node: Node) -> Thresholds | None:
    m = r.mapping(node, "thresholds", allowed=THRESHOLD_KEYS, required=("qualified",))
    if m is None or "qualified" not in m:
        return None
    qualified = r.number(m["qualified"], "thresholds.qualified")
    nurture = r.number(m["nurture"], "thresholds.nurture") if "nurture" in m else 0.0
    if qualified is None or nurture is None:
        return None
    if qualified < nurture:
        r.problem(
            m["qualified"],
            "thresholds.qualified",
            f"must be at least thresholds.nurture ({nurture:g}), got {qualified:g}",
        )
        return None
    return Thresholds(qualified, nurture)


def _tiers(r: Reader, node: Node) -> list[tuple[Tier, dict[str, Node]]]:
    tiers: list[tuple[Tier, dict[str, Node]]] = []
    seen: set[str] = set()
    for i, tier_node in enumerate(r.sequence(node, "tiers", non_empty=False) or []):
        path = item("tiers", i)
        m = r.mapping(tier_node, path, allowed=TIER_KEYS, required=("name", "min_score"))
        if m is None or "name" not in m or "min_score" not in m:
            continue
        name = _unique_name(r, m["name"], child(path, "name"), seen, "tier")
        min_score = r.number(m["min_score"], child(path, "min_score"))
        if name is None or min_score is None:
            continue
        if tiers and min_score >= tiers[-1][0].min_score:
            r.problem(
                m["min_score"],
                child(path, "min_score"),
                "tiers go from the highest min_score to the lowest; "
                f"{min_score:g} is not below {tiers[-1][0].min_score:g}",
            )
        tiers.append((Tier(name, min_score), m))
    return tiers


def _quota(r: Reader, node: Node) -> Quota | None:
    m = r.mapping(node, "quota", allowed=QUOTA_KEYS, required=("qualified_per_month",))
    if m is None or "qualified_per_month" not in m:
        return None
    per_month = r.integer(m["qualified_per_month"], "quota.qualified_per_month", minimum=0)
    shares = {
        key: r.fraction(m[key], child("quota", key)) if key in m else None
        for key in ("pipeline_share", "revenue_share")
    }
    if per_month is None:
        return None
    return Quota(per_month, shares["pipeline_share"], shares["revenue_share"])


def _check_tiers(
    r: Reader,
    tiers: list[tuple[Tier, dict[str, Node]]],
    thresholds: Thresholds | None,
    sla_nodes: dict[str, Node],
) -> None:
    """Every tier has SLA terms, every SLA names a tier, and every qualified lead gets a tier."""
    names = {tier.name for tier, _ in tiers}
    for i, (tier, nodes) in enumerate(tiers):
        if tier.name not in sla_nodes:
            r.problem(
                nodes["name"],
                child(item("tiers", i), "name"),
                f"tier {tier.name!r} has no SLA; add sla.first_contact.{tier.name}",
            )
    for tier_name, key_node in sla_nodes.items():
        if tier_name not in names:
            known = ", ".join(sorted(names)) or "none"
            r.problem(
                key_node,
                f"sla.first_contact.{tier_name}",
                f"no tier named {tier_name!r} (tiers: {known})",
            )
    if not tiers or thresholds is None:
        return
    lowest = min(range(len(tiers)), key=lambda i: tiers[i][0].min_score)
    if tiers[lowest][0].min_score > thresholds.qualified:
        r.problem(
            tiers[lowest][1]["min_score"],
            child(item("tiers", lowest), "min_score"),
            f"the lowest tier needs min_score <= thresholds.qualified "
            f"({thresholds.qualified:g}) so every qualified lead gets a tier",
        )
