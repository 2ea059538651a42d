"""`leadrelay import FILE` against a real intake over HTTP: progress, a summary, a file
of rejected rows with their reasons, and a second run that stores nothing."""

from __future__ import annotations

import csv
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from services.cli import main
from services.intake.app import create_app
from services.intake.settings import IntakeSettings
from shared.auth import KeyStore
from shared.tansu import free_port
from tests.infra import service_env


@pytest.fixture
def intake_url(broker: str, keys_file: Path, tmp_path: Path) -> Iterator[str]:
    """Intake served by uvicorn on a free port, in a thread of this process."""
    settings = IntakeSettings(
        **service_env(
            f"sqlite+aiosqlite:///{tmp_path}/intake.db",
            broker,
            keys_file,
            forms_file=str(tmp_path / "no-forms.yaml"),
        )
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_config=None)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.05)
    assert server.started, "intake did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def a_campaign_file(path: Path) -> Path:
    path.write_text(
        "Email,First Name,Company,Notes\r\n"
        "ada@acme.io,Ada,Acme,first\r\n"
        'nope,Bob,Acme,"two\r\nlines"\r\n'
        "cy@acme.io,Cy,Acme,\r\n"
        "dee@acme.io,Dee,Acme,too,many\r\n",
        encoding="utf-8",
    )
    return path


def test_an_import_reports_rejects_by_line_and_running_it_twice_stores_nothing_new(
    intake_url: str, keys_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = KeyStore(keys_file).create("importer", ["intake"])
    source = a_campaign_file(tmp_path / "webinar.csv")
    argv = ["import", str(source), "--campaign", "2026-q1-webinar", "--url", intake_url]

    assert main([*argv, "--key", key]) == 1
    out, err = capsys.readouterr()
    assert "webinar.csv: 2 accepted, 0 duplicate, 2 rejected" in out
    assert "100%" in err
    rejects = tmp_path / "webinar.csv.rejected.csv"
    assert f"rejected rows and their reasons: {rejects}" in out
    rows = list(csv.reader(rejects.open(encoding="utf-8", newline="")))
    assert rows[0] == ["line", "errors", "Email", "First Name", "Company", "Notes"]
    assert [r[0] for r in rows[1:]] == ["3", "6"]
    assert rows[1][1].startswith("/email: is not a valid email address")
    assert rows[1][5] == "two\r\nlines"
    assert "has 5 columns; the header has 4" in rows[2][1]

    assert main([*argv, "--key", key]) == 1
    out, _ = capsys.readouterr()
    assert "2 accepted, 0 duplicate, 2 rejected (2 already imported)" in out


def test_ndjson_imports_write_rejected_records_as_json(
    intake_url: str, keys_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = KeyStore(keys_file).create("importer", ["intake"])
    source = tmp_path / "list.jsonl"
    source.write_text('{"email": "ed@acme.io"}\n{"email": "x", "first_name": "X"}\nnot json\n')
    assert main(["import", str(source), "--url", intake_url, "--key", key]) == 1
    lines = [
        json.loads(x)
        for x in (tmp_path / "list.jsonl.rejected.ndjson").read_text().split("\n")
        if x
    ]
    assert [(x["line"], x["record"]) for x in lines] == [
        (2, {"email": "x", "first_name": "X"}),
        (3, "not json"),
    ]
    assert lines[0]["errors"][0]["pointer"] == "/email"


def test_an_import_that_cannot_run_says_why(
    intake_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = a_campaign_file(tmp_path / "list.csv")
    assert main(["import", str(source), "--url", intake_url, "--key", "lr_bad_key"]) == 2
    assert "intake answered 401" in capsys.readouterr().err
    assert main(["import", str(tmp_path / "missing.csv"), "--key", "k"]) == 2
    assert "no file" in capsys.readouterr().err
    odd = tmp_path / "list.xlsx"
    odd.write_bytes(b"PK")
    assert main(["import", str(odd), "--key", "k"]) == 2
    assert "--format" in capsys.readouterr().err
    closed = f"http://127.0.0.1:{free_port()}"
    assert main(["import", str(source), "--url", closed, "--key", "k"]) == 2
    assert "cannot reach intake" in capsys.readouterr().err
