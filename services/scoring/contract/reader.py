"""Read YAML nodes into typed values, recording every problem with its line instead of stopping."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Collection
from datetime import timedelta

from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from services.scoring.contract.issues import ContractIssue

Scalar = str | int | float | bool

_DURATION = re.compile(r"(\d+)\s*([smhdw])")
_DURATION_WHOLE = re.compile(r"\s*(?:\d+\s*[smhdw]\s*)+")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_MAX_DURATION = timedelta(days=3650)


class _Bad:
    """A scalar YAML could not turn into a value (a bad explicit tag), told apart from null."""


_BAD = _Bad()


def child(path: str, key: str) -> str:
    """The dotted path of a mapping key."""
    return f"{path}.{key}" if path else key


def item(path: str, index: int) -> str:
    """The path of a list item, `[i]` style."""
    return f"{path}[{index}]"


def line_of(node: Node) -> int:
    """The 1-based line where a node starts."""
    return int(node.start_mark.line) + 1


def parse_duration(text: str) -> timedelta | None:
    """`5m`, `4h`, `2d`, `1w`, `1h30m` -> timedelta; None when it is not one of those."""
    if not _DURATION_WHOLE.fullmatch(text):
        return None
    seconds = sum(int(n) * _UNIT_SECONDS[u] for n, u in _DURATION.findall(text))
    if seconds <= 0 or seconds > _MAX_DURATION.total_seconds():
        return None
    return timedelta(seconds=seconds)


class Reader:
    """Collects issues while sections of a contract are read; each reader returns None on error."""

    def __init__(self) -> None:
        self.issues: list[ContractIssue] = []
        self._constructor = SafeConstructor()

    def problem(self, node: Node | None, path: str, message: str) -> None:
        self.issues.append(
            ContractIssue(line_of(node) if node is not None else None, path, message)
        )

    # --- scalars -------------------------------------------------------------------------

    def value(self, node: ScalarNode) -> Scalar | _Bad | None:
        """A plain scalar's value; YAML 1.1's yes/no/on/off stay text so `NO` (Norway) survives."""
        tag = str(node.tag)
        kind = tag.rsplit(":", 1)[-1] if tag.startswith("tag:yaml.org,2002:") else tag
        raw = str(node.value)
        if kind == "null":
            return None
        if kind == "bool":
            return raw.lower() == "true" if raw.lower() in ("true", "false") else raw
        if kind in ("str", "timestamp"):
            return raw
        if kind in ("int", "float"):
            try:
                built = self._constructor.construct_object(node)
            except Exception:  # PyYAML's constructors raise assorted errors on odd `!!int` text
                return _BAD
            return built if isinstance(built, (int, float)) else _BAD
        return _BAD

    def describe(self, node: Node | None) -> str:
        """How a wrong value reads in a message: 'soon', 5, a list, nothing."""
        if node is None:
            return "nothing"
        if isinstance(node, MappingNode):
            return "a mapping"
        if isinstance(node, SequenceNode):
            return "a list"
        value = self.value(node) if isinstance(node, ScalarNode) else _BAD
        if value is None:
            return "nothing"
        if isinstance(value, _Bad):
            return f"{str(node.value)[:40]!r} tagged {node.tag}"
        if isinstance(value, bool):
            return "true" if value else "false"
        text = repr(value)
        return text if len(text) <= 60 else text[:57] + "...'"

    def scalar(self, node: Node, path: str) -> Scalar | None:
        """Any text, number or boolean (not null, not a list or mapping)."""
        value = self.value(node) if isinstance(node, ScalarNode) else _BAD
        if value is None or isinstance(value, _Bad):
            self.problem(
                node, path, f"expected a text, number or true/false, got {self.describe(node)}"
            )
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self.problem(node, path, f"expected a finite number, got {self.describe(node)}")
            return None
        return value

    def text(
        self, node: Node, path: str, *, pattern: re.Pattern[str] | None = None, hint: str = ""
    ) -> str | None:
        """A non-empty text; numbers and dates are taken as written (`version: 1.0` is '1.0')."""
        value = self.value(node) if isinstance(node, ScalarNode) else _BAD
        if value is None or isinstance(value, (_Bad, bool)) or not str(node.value).strip():
            self.problem(node, path, f"expected a text, got {self.describe(node)}")
            return None
        raw = str(node.value).strip()
        if pattern is not None and not pattern.fullmatch(raw):
            self.problem(node, path, f"{hint}, got {raw!r}")
            return None
        return raw

    def number(self, node: Node, path: str, *, minimum: float | None = None) -> float | None:
        value = self.value(node) if isinstance(node, ScalarNode) else _BAD
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.problem(node, path, f"expected a number, got {self.describe(node)}")
            return None
        if not math.isfinite(value):
            self.problem(node, path, f"expected a finite number, got {self.describe(node)}")
            return None
        if minimum is not None and value < minimum:
            self.problem(node, path, f"expected a number of at least {minimum:g}, got {value:g}")
            return None
        return float(value)

    def integer(self, node: Node, path: str, *, minimum: int) -> int | None:
        value = self.value(node) if isinstance(node, ScalarNode) else _BAD
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(node, path, f"expected a whole number, got {self.describe(node)}")
            return None
        if value < minimum:
            self.problem(node, path, f"expected a whole number of at least {minimum}, got {value}")
            return None
        return value

    def flag(self, node: Node, path: str) -> bool | None:
        value = self.value(node) if isinstance(node, ScalarNode) else _BAD
        if not isinstance(value, bool):
            self.problem(node, path, f"expected true or false, got {self.describe(node)}")
            return None
        return value

    def fraction(self, node: Node, path: str, *, open_ends: bool = False) -> float | None:
        """A share between 0 and 1 (both excluded when `open_ends`, as for warn_at)."""
        value = self.number(node, path)
        if value is None:
            return None
        inside = 0 < value < 1 if open_ends else 0 <= value <= 1
        if not inside:
            self.problem(
                node, path, f"expected a fraction between 0 and 1, like 0.8, got {value:g}"
            )
            return None
        return value

    def duration(self, node: Node, path: str) -> timedelta | None:
        value = self.value(node) if isinstance(node, ScalarNode) else _BAD
        parsed = parse_duration(value) if isinstance(value, str) else None
        if parsed is None:
            got = self.describe(node)
            self.problem(node, path, f"expected a duration like 5m or 4h, got {got}")
        return parsed

    # --- collections ---------------------------------------------------------------------

    def sequence(self, node: Node, path: str, *, non_empty: bool = True) -> list[Node] | None:
        if not isinstance(node, SequenceNode):
            self.problem(node, path, f"expected a list, got {self.describe(node)}")
            return None
        if non_empty and not node.value:
            self.problem(node, path, "expected a list with at least one item")
            return None
        return list(node.value)

    def texts(self, node: Node, path: str, *, single_ok: bool = False) -> list[str] | None:
        """A list of texts; a lone text counts as a one-item list when `single_ok`."""
        if single_ok and isinstance(node, ScalarNode):
            one = self.text(node, path)
            return None if one is None else [one]
        nodes = self.sequence(node, path)
        if nodes is None:
            return None
        values = [self.text(n, item(path, i)) for i, n in enumerate(nodes)]
        return [v for v in values if v is not None] if None not in values else None

    def keys(self, node: Node, path: str) -> list[tuple[str, Node, Node]] | None:
        """A mapping's entries as (key, key node, value node); duplicate keys are reported."""
        if not isinstance(node, MappingNode):
            self.problem(node, path, f"expected a mapping, got {self.describe(node)}")
            return None
        seen: set[str] = set()
        entries: list[tuple[str, Node, Node]] = []
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or not str(key_node.value).strip():
                self.problem(key_node, path, "keys must be plain names")
                continue
            key = str(key_node.value)
            if key in seen:
                self.problem(key_node, child(path, key), f"duplicate key {key!r}")
                continue
            seen.add(key)
            entries.append((key, key_node, value_node))
        return entries

    def mapping(
        self,
        node: Node,
        path: str,
        *,
        allowed: Collection[str],
        required: Collection[str] = (),
        label: str = "key",
    ) -> dict[str, Node] | None:
        """A mapping with a known set of keys: unknown ones are reported with a did-you-mean."""
        entries = self.keys(node, path)
        if entries is None:
            return None
        found: dict[str, Node] = {}
        for key, key_node, value_node in entries:
            if key in allowed:
                found[key] = value_node
                continue
            close = difflib.get_close_matches(key, list(allowed), n=1, cutoff=0.6)
            hint = (
                f" (did you mean {close[0]!r}?)"
                if close
                else f"; expected one of: {', '.join(allowed)}"
            )
            self.problem(key_node, child(path, key), f"unknown {label} {key!r}{hint}")
        for key in required:
            if key not in found:
                self.problem(node, child(path, key), "required")
        return found
