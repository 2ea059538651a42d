"""API keys and personal data never reach a log line or /metrics.

The whole stack runs as `leadrelay up` runs it (separate processes, their JSON logs on
stderr into <data-dir>/<service>.log, uvicorn as configured), on PostgreSQL. Keys are made
with `leadrelay keys create`, sent as `Authorization: Bearer` and `X-API-Key`, sent wrong,
sent in a form's `_key` field; a lead is posted by every channel and followed until
handoff assigns it. Then no log line and no metric carries a key's secret or the email.
"""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services import cli
from shared import logging as lr_logging
from shared.tansu import free_port
from tests.conftest import a_lead

pytestmark = [pytest.mark.security, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
FORMS_YAML = """
forms:
  contact:
    allowed_origins: ["*"]
    fields:
      work_email: email
"""


def _ports() -> tuple[int, int]:
    """A base port with the next two free, and a broker port apart from them."""
    while True:
        base, broker = free_port(), free_port()
        if broker in range(base, base + 3):
            continue
        if all(_free(base + i) for i in range(3)):
            return base, broker


def _free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _cli(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    *args: str,
) -> tuple[str, str]:
    """`leadrelay ARGS` in this process (a process per call costs seconds): (stdout, stderr)."""
    for name, value in env.items():
        if name.startswith("LEADRELAY_"):
            monkeypatch.setenv(name, value)
    capsys.readouterr()
    assert cli.main(list(args)) == 0
    out, err = capsys.readouterr()
    return out, err


def _secret(key: str) -> str:
    return key.split("_", 2)[2]


@pytest.fixture
def stack_env(tmp_path: Path, pg_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADRELAY_")}
    forms = tmp_path / "forms.yaml"
    forms.write_text(FORMS_YAML)
    env.update(
        {
            "LEADRELAY_DATABASE_URL": pg_url,
            "LEADRELAY_KEYS_FILE": str(tmp_path / "data" / "keys.json"),
            "LEADRELAY_INTAKE_FORMS_FILE": str(forms),
            "LEADRELAY_OUTBOX_POLL_SECONDS": "0.2",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


@pytest.fixture
def stack(tmp_path: Path, stack_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """`leadrelay up` on free ports; yields the service URLs. Ctrl-C (SIGINT) stops it."""
    base, broker_port = _ports()
    data = tmp_path / "data"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "services.cli",
            "up",
            "--data-dir",
            str(data),
            "--broker-port",
            str(broker_port),
            "--base-port",
            str(base),
        ],
        env=stack_env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,  # the banner prints the dev key on purpose: not a log
        stderr=subprocess.STDOUT,
    )
    urls = {
        svc: f"http://127.0.0.1:{base + i}"
        for i, svc in enumerate(("intake", "scoring", "handoff"))
    }
    try:
        # every service answers: the test calls handoff too, not only intake
        deadline = time.monotonic() + 90
        waiting = list(urls)
        while waiting and time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"leadrelay up exited with {proc.returncode}; see {data}/*.log")
            try:
                if httpx.get(f"{urls[waiting[0]]}/readyz", timeout=1).status_code == 200:
                    waiting.pop(0)
                    continue
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        if waiting:
            pytest.fail(f"{waiting} did not become ready; see {data}/*.log")
        yield urls
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_keys_and_emails_never_logged(
    stack: dict[str, str],
    stack_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def create(name: str, scope: str) -> str:
        out, err = _cli(monkeypatch, capsys, stack_env, "keys", "create", name, "--scope", scope)
        key = out.strip()
        assert key.startswith("lr_")
        assert _secret(key) not in err
        return key

    sales = create("security-sales", "sales")
    intake_key_s = create("security-intake", "intake")
    form_key_s = create("security-form", "form:contact")
    admin = create("security-admin", "admin")
    wrong = f"lr_{sales.split('_', 2)[1]}_{'Z' * 43}"
    unknown = f"lr_{'0' * 12}_{uuid.uuid4().hex}{uuid.uuid4().hex}"
    secrets = [sales, intake_key_s, form_key_s, admin, wrong, unknown]
    listed = "".join(_cli(monkeypatch, capsys, stack_env, "keys", "list"))
    assert not any(_secret(k) in listed for k in secrets)
    keys_file = tmp_path / "data" / "keys.json"
    assert not any(_secret(k) in keys_file.read_text() for k in secrets)  # hashes only
    assert keys_file.stat().st_mode & 0o077 == 0, "the keys file is readable by others"

    email = f"secret.person.{uuid.uuid4().hex[:8]}@pii-{uuid.uuid4().hex[:6]}.example"
    emails = [email]
    intake, scoring, handoff = stack["intake"], stack["scoring"], stack["handoff"]
    bearer = {"Authorization": f"Bearer {intake_key_s}"}
    with httpx.Client(timeout=10) as http:
        posted = http.post(f"{intake}/v1/leads", json=a_lead(email=email), headers=bearer)
        assert posted.status_code == 202, posted.text
        lead_id = posted.json()["lead_id"]
        # X-API-Key, a duplicate of the same person, an Idempotency-Key
        again = http.post(
            f"{intake}/v1/leads",
            json=a_lead(email=email, phone="+1 212 555 0100"),
            headers={"X-API-Key": intake_key_s, "Idempotency-Key": "sec-1"},
        )
        assert again.status_code == 202, again.text
        # an invalid lead: its fields are echoed to the client, never to the log
        bad_email = f"not-an-email-{uuid.uuid4().hex[:6]}@@broken"
        emails.append(bad_email)
        refused = http.post(
            f"{intake}/v1/leads", json=a_lead(email=bad_email, country="XX"), headers=bearer
        )
        assert refused.status_code == 422
        # a batch and a form post, each with their own person
        batch_email = f"batch.{uuid.uuid4().hex[:8]}@pii-batch.example"
        form_email = f"form.{uuid.uuid4().hex[:8]}@pii-form.example"
        emails += [batch_email, form_email]
        batch = http.post(
            f"{intake}/v1/leads/batch",
            content=json.dumps(a_lead(email=batch_email)).encode() + b"\n",
            headers={**bearer, "Content-Type": "application/x-ndjson"},
        )
        assert batch.status_code == 200, batch.text
        form = http.post(
            f"{intake}/v1/forms/contact",
            data={"_key": form_key_s, "work_email": form_email, "first_name": "Formy"},
        )
        assert form.status_code == 202, form.text
        # bad keys, in both headers and in a form
        for key in (wrong, unknown):
            assert http.get(f"{handoff}/v1/reps", headers={"X-API-Key": key}).status_code == 401
            assert (
                http.post(
                    f"{intake}/v1/leads",
                    json=a_lead(),
                    headers={"Authorization": f"Bearer {key}"},
                ).status_code
                == 401
            )
            assert http.post(f"{intake}/v1/forms/contact", data={"_key": key}).status_code == 401
        # a scope refused, and a few reads by the right key
        sales_h = {"Authorization": f"Bearer {sales}"}
        assert http.post(f"{intake}/v1/leads", json=a_lead(), headers=sales_h).status_code == 403
        assert http.get(f"{scoring}/v1/contract", headers=sales_h).status_code == 200
        assert http.get(f"{handoff}/v1/reports/funnel", headers=sales_h).status_code == 200
        # follow the lead through scoring and handoff, so their logs have seen it
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline:
            seen = http.get(f"{handoff}/v1/leads/{lead_id}", headers=sales_h)
            status = seen.json().get("status") if seen.status_code == 200 else seen.status_code
            if status == "assigned":
                break
            time.sleep(0.2)
        assert status == "assigned", f"the lead did not reach handoff: {status}"
        score = http.get(f"{scoring}/v1/leads/{lead_id}/score", headers=sales_h)
        assert score.status_code == 200
        # an erasure by email carries the address in the query string
        erase_email = f"erase.me.{uuid.uuid4().hex[:8]}@pii-erase.example"
        emails.append(erase_email)
        erased = http.delete(
            f"{intake}/v1/leads",
            params={"email": erase_email},
            headers={"X-API-Key": admin},
        )
        assert erased.status_code in (200, 202), erased.text
        metrics = {svc: http.get(f"{url}/metrics").text for svc, url in stack.items()}

    for svc, text in metrics.items():
        for key in secrets:
            assert _secret(key) not in text, f"a key secret in {svc}'s /metrics"
        for address in emails:
            assert address not in text, f"an email in {svc}'s /metrics"

    logs = {p.name: p.read_text(errors="replace") for p in (tmp_path / "data").glob("*.log")}
    assert {"intake.log", "scoring.log", "handoff.log"} <= logs.keys(), sorted(logs)
    assert any('"service": "intake"' in line for line in logs["intake.log"].splitlines())
    leaks = [
        f"{name}: {line[:300]}"
        for name, text in logs.items()
        for line in text.splitlines()
        if any(_secret(k) in line for k in secrets) or any(e in line for e in emails)
    ]
    assert not leaks, "\n".join(leaks)


# --- the formatter on its own -----------------------------------------------------------


def _format(record_args: dict[str, object], msg: str, *args: object) -> dict[str, object]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(lr_logging.JsonFormatter("test"))
    logger = logging.getLogger(f"security.{uuid.uuid4().hex}")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        raise ValueError(f"boom {args}")
    except ValueError:
        logger.warning(msg, *args, extra=record_args, exc_info=True)
    line = stream.getvalue()
    return {"line": line, **json.loads(line)}


def test_formatter_drops_personal_and_secret_fields() -> None:
    key = "lr_0123456789ab_" + "s3cr3t" * 7
    doc = _format(
        {
            "email": "jane@acme.io",
            "Authorization": f"Bearer {key}",
            "x-api-key": key,
            "api_key": key,
            "lead": {"email": "jane@acme.io"},
            "rows": 3,
        },
        "posted %s",
        "ok",
    )
    assert doc["email"] == doc["Authorization"] == doc["x-api-key"] == "[redacted]"
    assert doc["rows"] == 3
    line = str(doc["line"])
    assert "jane@acme.io" not in line
    assert "s3cr3t" not in line


def test_formatter_scrubs_emails_and_keys_from_messages_and_tracebacks() -> None:
    """An exception's text can carry what the code never meant to log (a database error
    quotes the row it refused): the formatter scrubs email addresses and API keys from the
    message and the traceback too."""
    key = "lr_0123456789ab_" + "Q" * 43
    doc = _format(
        {},
        "group failed (%s)",
        "duplicate key value (email)=(jane.doe+x@acme-corp.io) "
        f"[parameters: ('JANE@ACME.IO', '{key}')]",
    )
    line = str(doc["line"])
    assert "jane.doe+x@acme-corp.io" not in line
    assert "JANE@ACME.IO" not in line
    assert "Q" * 43 not in line
    assert "group failed" in str(doc["msg"])
    assert "Traceback" in str(doc["exc"])


def test_formatter_hides_the_values_of_a_failed_statement() -> None:
    """SQLAlchemy's errors end with `[parameters: (...)]`, the row it could not write."""
    doc = _format(
        {},
        "insert failed: %s",
        "(asyncpg.UniqueViolationError) duplicate key\n"
        "[SQL: INSERT INTO intake.leads (lead_id, email_hash, phone) VALUES ($1, $2, $3)]\n"
        "[parameters: ('2f1c', 'c0ffee', '+12125550100')]\n"
        "(Background on this error at: https://sqlalche.me/e/21/gkpj)",
    )
    line = str(doc["line"])
    assert "+12125550100" not in line
    assert "c0ffee" not in line
    assert "INSERT INTO intake.leads" in str(doc["msg"])
