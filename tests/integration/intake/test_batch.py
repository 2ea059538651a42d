"""POST /v1/leads/batch: every row answered by its line, every good row published once."""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from tests.infra import read_topic
from tests.integration.intake.conftest import Intake, an_intake

CSV = {"content-type": "text/csv"}
NDJSON = {"content-type": "application/x-ndjson"}


def received_events(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r["value"] for r in records if r["value"]["type"] == "com.leadrelay.lead.received.v1"]


def a_campaign_csv(rows: int, *, bad_every: int) -> tuple[bytes, set[int], int]:
    """A campaign list as spreadsheets export it, with bad rows sprinkled in.

    Returns the file, the line numbers of the bad rows, and how many rows are good."""
    run = uuid.uuid4().hex[:8]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["E-mail", "First Name", "Last Name", "Company", "Country", "Employees"])
    bad: set[int] = set()
    for i in range(rows):
        line = i + 2
        if i % bad_every == bad_every // 2:
            kind = (i // bad_every) % 4
            if kind == 0:
                writer.writerow([f"broken-{i}", "No", "Email", "Acme", "US", "10"])
            elif kind == 1:
                writer.writerow([f"p{i}-{run}@acme.io", "Bad", "Country", "Acme", "Atlantis", "1"])
            elif kind == 2:
                writer.writerow([f"p{i}-{run}@acme.io", "Too", "Many", "Cells", "US", "1", "x"])
            else:
                writer.writerow([f"p{i}-{run}@acme.io", "Ctl\x01", "Char", "Acme", "US", "1"])
            bad.add(line)
        else:
            writer.writerow([f"p{i}-{run}@acme{i % 97}.io", "Ada", f"L{i}", "Acme", "DE", i])
    return out.getvalue().encode(), bad, rows - len(bad)


async def test_a_csv_is_mapped_answered_per_row_and_published(intake: Intake, broker: str) -> None:
    body = (
        b"Email Address,First Name,Company,utm_source,Consent: Marketing Email,Annual Budget\n"
        b"ada@acme.io,Ada,Acme,newsletter,yes,250000\n"
        b"not-an-email,Bob,Acme,,,\n"
        b'"ADA@acme.io","Ada ""the first""",Acme,,,\n'
        b"\n"
        b"cy@acme.io,Cy,,,no,01234\n"
    )
    answer = await intake.client.post(
        "/v1/leads/batch?source=campaign&campaign_id=q1-list",
        content=body,
        headers={**intake.admin, **CSV},
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    result = answer.json()
    assert result["summary"] == {"accepted": 2, "duplicate": 1, "rejected": 1, "replayed": 0}
    rows = {r["row"]: r for r in result["rows"]}
    assert list(rows) == [2, 3, 4, 6]
    assert rows[3]["errors"][0]["pointer"] == "/email"
    assert rows[4]["status"] == "duplicate"
    assert rows[4]["duplicate_of"] == rows[2]["lead_id"]

    records = await read_topic(
        broker, "leads.received", opened=True, until=lambda rs: len(rs) >= 3, timeout=10
    )
    by_lead = {r["value"]["data"]["email"]: r["value"]["data"] for r in records}
    ada = by_lead["ada@acme.io"]
    assert ada["source"] == "campaign"
    assert ada["campaign_id"] == "q1-list"
    assert ada["channel"] == "batch"
    assert ada["utm"] == {"utm_source": "newsletter"}
    assert ada["consent"] == {"marketing_email": True}
    assert by_lead["cy@acme.io"]["attributes"] == {"annual_budget": "01234"}
    assert by_lead["cy@acme.io"]["consent"] == {"marketing_email": False}


async def test_fifty_thousand_rows_with_bad_ones_report_each_by_line_and_publish_each_good_once(
    intake: Intake, broker: str
) -> None:
    body, bad_lines, good = a_campaign_csv(50_000, bad_every=997)
    started = time.monotonic()
    answer = await intake.client.post(
        "/v1/leads/batch?source=campaign", content=body, headers={**intake.admin, **CSV}
    )
    took = time.monotonic() - started
    assert answer.status_code == 200, answer.text[:500]
    result = answer.json()
    assert result["summary"] == {
        "accepted": good,
        "duplicate": 0,
        "rejected": len(bad_lines),
        "replayed": 0,
    }
    rejected = {r["row"] for r in result["rows"] if r["status"] == "rejected"}
    assert rejected == bad_lines
    assert all(r["errors"] for r in result["rows"] if r["status"] == "rejected")
    accepted = {r["lead_id"] for r in result["rows"] if r["status"] == "accepted"}
    assert len(accepted) == good

    records = await read_topic(
        broker, "leads.received", until=lambda rs: len(rs) >= good, timeout=60
    )
    events = received_events(records)
    assert len(events) == good, f"{len(events)} events for {good} good rows"
    assert {e["data"]["lead_id"] for e in events} == accepted
    assert len({e["id"] for e in events}) == good
    assert all(r["key"] == r["value"]["data"]["lead_id"] for r in records)
    print(f"50,000 rows stored in {took:.1f}s on {intake.db_url.split(':')[0]}")


async def test_the_same_file_with_the_same_key_replays_every_row_and_stores_nothing(
    intake: Intake,
) -> None:
    lines = [json.dumps({"email": f"r{i}-{uuid.uuid4().hex[:6]}@acme.io"}) for i in range(30)]
    lines[7] = '{"email": "nope"}'
    body = "\n".join(lines).encode()
    headers = {**intake.admin, **NDJSON, "Idempotency-Key": "import-abc"}
    first = (await intake.client.post("/v1/leads/batch", content=body, headers=headers)).json()
    stored = await intake.stored()
    again = (await intake.client.post("/v1/leads/batch", content=body, headers=headers)).json()
    assert await intake.stored() == stored
    assert again["summary"] == {"accepted": 29, "duplicate": 0, "rejected": 1, "replayed": 29}
    assert [r.get("lead_id") for r in again["rows"]] == [r.get("lead_id") for r in first["rows"]]
    assert all(r.get("replayed") for r in again["rows"] if r["status"] == "accepted")

    lines[3] = json.dumps({"email": "changed@acme.io"})
    changed = "\n".join(lines).encode()
    third = (await intake.client.post("/v1/leads/batch", content=changed, headers=headers)).json()
    assert third["summary"]["rejected"] == 2
    assert "idempotency key" in third["rows"][3]["errors"][0]["message"]


async def test_a_declared_body_over_the_batch_limit_is_refused_before_reading(
    broker: str, keys_file: Path, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/intake.db"
    async with an_intake(url, broker, keys_file, tmp_path, max_batch_bytes=4096) as intake:
        body = b"email\n" + b"".join(b"a%d@acme.io\n" % i for i in range(1000))
        answer = await intake.client.post(
            "/v1/leads/batch", content=body, headers={**intake.admin, **CSV}
        )
        assert answer.status_code == 413
        assert (await intake.stored())["leads"] == 0
        small = b"email\n" + b"".join(b"a%d@acme.io\n" % i for i in range(100))
        ok = await intake.client.post(
            "/v1/leads/batch", content=small, headers={**intake.admin, **CSV}
        )
        assert ok.status_code == 200  # above the 1 MiB default? no: below 4 KiB, and allowed


async def test_a_streamed_body_cut_at_the_limit_says_how_far_it_got(
    broker: str, keys_file: Path, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/intake.db"
    async with an_intake(
        url, broker, keys_file, tmp_path, max_batch_bytes=20_000, batch_chunk_rows=50
    ) as intake:

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked
            yield b"email\n"
            for start in range(0, 3000, 100):
                yield b"".join(b"c%d@acme.io\n" % i for i in range(start, start + 100))

        answer = await intake.client.post(
            "/v1/leads/batch", content=chunks(), headers={**intake.admin, **CSV}
        )
        assert answer.status_code == 413
        problem = answer.json()
        stored = (await intake.stored())["leads"]
        assert stored == problem["summary"]["accepted"] > 0
        assert problem["last_row"] == stored + 1  # the header is line 1


async def test_batch_results_for_many_rows_are_streamed_in_file_order(
    sqlite_intake: Intake,
) -> None:
    lines = [json.dumps({"email": f"s{i}-{uuid.uuid4().hex[:6]}@acme.io"}) for i in range(2500)]
    async with sqlite_intake.client.stream(
        "POST",
        "/v1/leads/batch",
        content="\n".join(lines).encode(),
        headers={**sqlite_intake.admin, **NDJSON},
    ) as answer:
        assert answer.status_code == 200
        body = b"".join([chunk async for chunk in answer.aiter_bytes()])
    result = json.loads(body)
    assert [r["row"] for r in result["rows"]] == list(range(1, 2501))
