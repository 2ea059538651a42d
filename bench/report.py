"""Figures, their targets, the printed table and bench/results.json."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Target:
    """What "good enough" means for a figure; `text` is what the table and the JSON show."""

    text: str
    min_ratio: float | None = None
    min_value: float | None = None
    max_value: float | None = None

    def met(self, value: float | None, ratio: float | None) -> bool:
        if value is None or not math.isfinite(value):
            return False
        if self.min_value is not None and value < self.min_value:
            return False
        if self.max_value is not None and value > self.max_value:
            return False
        return not (self.min_ratio is not None and (ratio is None or ratio < self.min_ratio))


@dataclass(frozen=True)
class Figure:
    name: str
    database: str
    value: float | None
    unit: str
    baseline: float | None
    ratio: float | None
    target: str
    met: bool
    note: str = ""


def figure(
    name: str,
    database: str,
    value: float | None,
    unit: str,
    target: Target,
    *,
    baseline: float | None = None,
    note: str = "",
) -> Figure:
    """A measured figure; ratio is value / baseline when both exist (None = missing)."""
    ratio = value / baseline if value is not None and baseline else None
    return Figure(
        name=name,
        database=database,
        value=_round(value),
        unit=unit,
        baseline=_round(baseline),
        ratio=_round(ratio, 3),
        target=target.text,
        met=target.met(value, ratio),
        note=note,
    )


def missing(name: str, database: str, unit: str, target: Target, note: str) -> Figure:
    """A figure that could not be measured; `note` says why, and it never counts as met."""
    return figure(name, database, None, unit, target, note=note)


def _round(x: float | None, digits: int = 1) -> float | None:
    return None if x is None else round(x, digits)


COLUMNS = ("name", "db", "value", "unit", "baseline", "ratio", "target", "met")


def table(figures: list[Figure]) -> str:
    """The figures as a fixed-width table, then the notes by figure."""
    rows = [COLUMNS] + [
        (
            f.name,
            f.database,
            _show(f.value),
            f.unit,
            _show(f.baseline),
            _show(f.ratio, "{:.2f}"),
            f.target,
            "MISSING" if f.value is None else ("yes" if f.met else "NO"),
        )
        for f in figures
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = [f"  {f.name} [{f.database}]: {f.note}" for f in figures if f.note]
    if notes:
        lines += ["", "notes:", *notes]
    met = sum(f.met for f in figures)
    lines += ["", f"{met} of {len(figures)} figures meet their target."]
    return "\n".join(lines)


def _show(x: float | None, fmt: str = "{:.1f}") -> str:
    return "-" if x is None else fmt.format(x)


def write_json(figures: list[Figure], path: Path) -> None:
    entries: list[dict[str, Any]] = [asdict(f) for f in figures]
    path.write_text(json.dumps(entries, indent=2) + "\n")
