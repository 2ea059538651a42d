"""The contract's quota terms, read from the contract file at handoff.

Scoring owns the contract and `lead.scored` carries only its version, so handoff reads the
`quota` section (and the version) of the same file scoring started from
(`LEADRELAY_HANDOFF_CONTRACT_FILE`, default `contracts/default.yaml`). The reports show that
version beside the versions that made the period's decisions, so a mismatch is visible.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class QuotaTerms:
    """What marketing owes sales: qualified leads a month and shares of pipeline and revenue."""

    contract_version: str | None
    qualified_per_month: int | None
    pipeline_share: float | None
    revenue_share: float | None
    source: str
    problem: str | None = None


def parse_terms(text: str, source: str) -> QuotaTerms:
    """The quota terms of a contract document; a readable `problem` instead of an exception."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return _missing(source, f"the contract file is not valid YAML: {exc}")
    if not isinstance(doc, dict):
        return _missing(source, "the contract file is not a mapping")
    quota = doc.get("quota") or {}
    if not isinstance(quota, dict):
        return _missing(source, "the contract's quota is not a mapping")
    return QuotaTerms(
        contract_version=str(doc["version"]) if doc.get("version") is not None else None,
        qualified_per_month=_number(quota.get("qualified_per_month"), int),
        pipeline_share=_number(quota.get("pipeline_share"), float),
        revenue_share=_number(quota.get("revenue_share"), float),
        source=source,
    )


def _number(value: Any, kind: type[int] | type[float]) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return kind(value)


def _missing(source: str, problem: str) -> QuotaTerms:
    return QuotaTerms(None, None, None, None, source=source, problem=problem)


@dataclass
class ContractTerms:
    """Reads the file again only when it changed (its mtime); safe to share across requests."""

    path: Path
    _cached: tuple[float, QuotaTerms] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def current(self) -> QuotaTerms:
        return await asyncio.to_thread(self._read)

    def _read(self) -> QuotaTerms:
        try:
            mtime = self.path.stat().st_mtime
        except OSError:
            return _missing(str(self.path), f"no contract file at {self.path}")
        with self._lock:
            if self._cached is not None and self._cached[0] == mtime:
                return self._cached[1]
            try:
                text = self.path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                return _missing(str(self.path), f"cannot read {self.path}: {exc}")
            terms = parse_terms(text, str(self.path))
            self._cached = (mtime, terms)
            return terms
