"""Contract problems as data, so the API and the CLI can show every one with its line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ContractIssue:
    """One problem in a contract document: where it is (1-based line, dotted path) and what."""

    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        parts = [f"line {self.line}"] if self.line is not None else []
        if self.path:
            parts.append(self.path)
        parts.append(self.message)
        return ": ".join(parts)


class ContractInvalid(ValueError):
    """A contract document that cannot be loaded; `.issues` lists every problem found, in order."""

    def __init__(self, issues: Sequence[ContractIssue]) -> None:
        self.issues: list[ContractIssue] = sorted(issues, key=lambda i: i.line or 0)
        count = len(self.issues)
        head = f"contract invalid: {count} problem{'s' if count != 1 else ''}"
        super().__init__("\n".join([head, *(str(i) for i in self.issues)]))
