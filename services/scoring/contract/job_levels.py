"""Seniority from a free-text job title, so contracts can score buyers without a title taxonomy.

The mapping is deliberately small and documented in docs/contract.md. Titles are matched on
whole words, case-insensitively, most senior level first; the first level that matches wins.
"""

from __future__ import annotations

import re

JOB_LEVELS = ("c_level", "vp", "director", "manager", "individual")

# Titles that contain a senior word but are not that level ("Assistant to the CEO").
_EXCEPTIONS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("individual", re.compile(r"\b(assistant to|executive assistant|office of the)\b", re.I)),
    ("director", re.compile(r"\bchief of staff\b", re.I)),
)

_LEVEL_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("c_level", re.compile(
        r"\b(chief|ceo|cto|cfo|coo|cmo|cio|ciso|cro|cpo|cdo|cso|cco|founder|co-?founder"
        r"|(?<!product )(?<!process )owner|managing director|managing partner|general partner"
        r"|(?<!vice )(?<!vice-)president)\b", re.I,
    )),
    ("vp", re.compile(
        r"\b(vp|svp|evp|avp|vice[- ]president|head of)\b", re.I,
    )),
    ("director", re.compile(r"\b(director|dir\.)(?!\w)", re.I)),
    ("manager", re.compile(
        r"\b(manager|mgr|team lead|team leader|supervisor)\b", re.I,
    )),
)  # fmt: skip


def job_level(title: str | None) -> str | None:
    """`VP Marketing` -> `vp`; None without a title; `individual` for any other title."""
    if title is None or not title.strip():
        return None
    for level, pattern in (*_EXCEPTIONS, *_LEVEL_PATTERNS):
        if pattern.search(title):
            return level
    return "individual"
