"""`leadrelay contract validate|simulate`: offline, and against scoring served by uvicorn on
a real port (SQLite; the API behind it is tested on both backends elsewhere)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from services.cli import main
from services.scoring.app import create_app
from services.scoring.contract import ContractInvalid, load_contract
from services.scoring.settings import ScoringSettings
from shared.auth import KeyStore
from shared.clock import FixedClock
from shared.kafka import ensure_topics
from shared.tansu import free_port
from tests.infra import service_env
from tests.integration.scoring.conftest import (
    DEFAULT,
    NOW,
    Scoring,
    default_as,
    lead_data,
    received,
)

BAD = 'version: "x"\nname: y\nthresholds: {qualified: lots}\nfit: {cap: -1, rule: []}\n'


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_validate_says_which_version_is_valid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "contract.yaml"
    path.write_text(DEFAULT)
    assert run(capsys, "contract", "validate", str(path)) == (0, "valid: version 2026.1\n", "")


def test_validate_prints_every_issue_one_per_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD)
    code, out, _ = run(capsys, "contract", "validate", str(path))
    assert code == 1
    with pytest.raises(ContractInvalid) as raised:
        load_contract(BAD)
    assert out.splitlines() == [str(issue) for issue in raised.value.issues]
    assert out.splitlines() == [
        "line 3: thresholds.qualified: expected a number, got 'lots'",
        "line 4: fit.rule: unknown key 'rule' (did you mean 'rules'?)",
        "line 4: fit.cap: expected a number of at least 0, got -1",
    ]


def test_validate_cannot_read_a_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "contract", "validate", str(tmp_path / "nope.yaml"))
    assert (code, out) == (2, "")
    assert "cannot read" in err


@pytest.fixture
async def served(broker: str, keys_file: Path, tmp_path: Path) -> AsyncIterator[Scoring]:
    """Scoring on a real port, as `leadrelay contract simulate` meets it."""
    settings = ScoringSettings(
        **service_env(f"sqlite+aiosqlite:///{tmp_path}/scoring.db", broker, keys_file)
    )
    await ensure_topics(settings)
    port = free_port()
    clock = FixedClock(NOW)
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, clock=clock), port=port, log_config=None)
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "uvicorn did not start"
        await asyncio.sleep(0.05)
    keys = KeyStore(keys_file)
    admin = {"Authorization": f"Bearer {keys.create('cli', ['admin'])}"}
    sales = {"Authorization": f"Bearer {keys.create('crm', ['sales'])}"}
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            yield Scoring(http, admin, sales, broker, clock, keys_file)
    finally:
        server.should_exit = True
        await task


async def test_simulate_reports_what_the_api_reports(
    served: Scoring,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    leads = [lead_data(), lead_data(job_title="Director of IT"), lead_data(email="a@gmail.com")]
    await served.send(*(received(lead) for lead in leads))
    for lead in leads:
        await served.score(lead.lead_id)
    draft = tmp_path / "draft.yaml"
    draft.write_text(default_as("2026.2", ("qualified: 65", "qualified: 75")))
    url = str(served.http.base_url)
    key = served.admin["Authorization"].removeprefix("Bearer ")

    def simulate(*extra: str) -> tuple[int, str, str]:
        return run(capsys, "contract", "simulate", str(draft), "--url", url, *extra)

    monkeypatch.setenv("LEADRELAY_API_KEY", key)
    code, out, _ = await asyncio.to_thread(simulate, "--since", "30d", "--json")
    assert code == 0
    api = await served.http.post(
        "/v1/contracts/simulate?days=30",
        content=draft.read_text(),
        headers={**served.admin, "Content-Type": "application/yaml"},
    )
    assert json.loads(out) == api.json()
    assert api.json()["leads"] == 3
    assert api.json()["changed"] == 1  # the director (69.98) no longer qualifies

    code, out, _ = await asyncio.to_thread(simulate, "--since", "2026-10-25T15:00:00Z")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == ("3 leads received 2026-10-25T15:00:00Z .. 2026-11-24T15:00:00Z (30 days)")
    assert lines[3].split() == ["qualified", "2", "1"]
    assert "changed decision: 1   tier moves: 0" in out
    assert f"{leads[1].lead_id}  qualified -> nurture  (score 69.98 -> 69.98)" in out
    assert out.rstrip().endswith("projected qualified per month: 1 against a quota of 300 (0%)")

    draft.write_text(BAD)
    code, out, _ = await asyncio.to_thread(simulate)
    assert code == 1
    with pytest.raises(ContractInvalid) as raised:
        load_contract(BAD)
    assert out.splitlines() == [str(issue) for issue in raised.value.issues]

    monkeypatch.delenv("LEADRELAY_API_KEY")
    code, _, err = await asyncio.to_thread(simulate, "--key", "lr_nope_nope")
    assert (code, err) == (2, "error: 401 Missing or unknown API key: unknown API key\n")
    code, _, err = await asyncio.to_thread(simulate)
    assert (code, "LEADRELAY_API_KEY" in err) == (2, True)
    code, _, err = await asyncio.to_thread(simulate, "--key", key, "--since", "soon")
    assert (code, "--since 'soon'" in err) == (2, True)
    unreachable = f"http://127.0.0.1:{free_port()}"
    code, _, err = await asyncio.to_thread(
        run, capsys, "contract", "simulate", str(draft), "--url", unreachable, "--key", key
    )
    assert (code, "cannot reach scoring" in err) == (2, True)
