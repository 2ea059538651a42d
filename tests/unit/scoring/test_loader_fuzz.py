"""Whatever text arrives, load_contract answers with a Contract or ContractInvalid, nothing else."""

from __future__ import annotations

import pytest

from services.scoring.contract import ContractInvalid, load_contract
from tests.unit.scoring.builders import CONTRACTS

hypothesis = pytest.importorskip("hypothesis")
st = pytest.importorskip("hypothesis.strategies")

DEFAULT = (CONTRACTS / "default.yaml").read_text()
EXAMPLE = (CONTRACTS / "example.yaml").read_text()
FRAGMENTS = [
    "version:", "name:", "thresholds:", "{qualified: 5}", "fit:", "rules:", "- ", "when:",
    "{field: x, in: [a]}", "touches:", "tiers:", "sla:", "first_contact:", "hot:", "within:",
    "5m", "soon", "[", "]", "{", "}", ":", "\n", "  ", "&a ", "*a", "!!int ", "null", "NO",
    "-1", "1e999", ".nan", "'", '"', "#", "---", "? ", "<<: *a", "\t", "matches: '('",
]  # fmt: skip


def _load(text: str) -> None:
    issues = []
    try:
        load_contract(text)
    except ContractInvalid as err:
        issues = err.issues or [None]
    assert all(issue is not None and (issue.line or 1) >= 1 for issue in issues)


@hypothesis.settings(max_examples=150, deadline=None)
@hypothesis.given(st.text())
def test_any_text_loads_or_is_reported(text):
    _load(text)


@hypothesis.settings(max_examples=150, deadline=None)
@hypothesis.given(st.lists(st.sampled_from(FRAGMENTS), max_size=40))
def test_yaml_like_fragments_load_or_are_reported(parts):
    _load("".join(parts))


@hypothesis.settings(max_examples=50, deadline=None)
@hypothesis.given(st.sampled_from([DEFAULT, EXAMPLE]), st.data())
def test_damaged_contracts_load_or_are_reported(base, data):
    lines = base.splitlines()
    index = data.draw(st.integers(0, len(lines) - 1))
    lines[index] = data.draw(st.sampled_from(FRAGMENTS)).join(
        [lines[index][: len(lines[index]) // 2], lines[index][len(lines[index]) // 2 :]]
    )
    _load("\n".join(lines))
