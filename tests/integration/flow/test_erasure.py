"""Erasure (issue #7): a person's data is gone from every table and every topic, the
anonymous counts stay, and the erasure is audited. All three services, a real broker."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, LargeBinary, String, Text, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from services.handoff.app import create_app as handoff_app
from services.handoff.settings import HandoffSettings
from services.intake.app import create_app as intake_app
from services.intake.settings import IntakeSettings
from services.scoring.app import create_app as scoring_app
from services.scoring.settings import ScoringSettings
from shared.auth import KeyStore
from shared.events import ALL_TOPICS, TOPIC_KEYS
from tests.conftest import a_lead
from tests.infra import eventually, read_all, read_keys, read_topic, running, service_env

SERVICES = ("intake", "scoring", "handoff")
REPORTS = ("funnel", "sla", "contribution", "quota", "reject-reasons", "business-review")


def _person() -> dict[str, str]:
    tag = uuid.uuid4().hex[:8]
    return {
        "email": f"erin.{tag}@example-{tag}.com",
        "first_name": f"Erin{tag}",
        "last_name": f"Zed{tag}",
        "phone": "+14155552671",
    }


def _without_times(report: Any) -> Any:
    """A report's figures, without when it was generated."""
    if isinstance(report, dict):
        return {k: _without_times(v) for k, v in report.items() if k != "generated_at"}
    if isinstance(report, list):
        return [_without_times(v) for v in report]
    return report


async def _text_in_tables(engine: AsyncEngine, schema: str | None, needles: list[str]) -> list[str]:
    """Every text, JSON or binary cell of every table holding one of `needles`."""
    found: list[str] = []
    async with engine.connect() as conn:

        def tables(sync: Any) -> list[Any]:
            from sqlalchemy import MetaData

            meta = MetaData(schema=schema)
            meta.reflect(sync)
            return list(meta.tables.values())

        for table in await conn.run_sync(tables):
            cols = [
                c for c in table.columns if isinstance(c.type, String | Text | JSON | LargeBinary)
            ]
            if not cols:
                continue
            for row in await conn.execute(select(*cols)):
                for col, value in zip(cols, row, strict=True):
                    if value is None:
                        continue
                    if isinstance(value, bytes | memoryview):
                        text = bytes(value).decode("utf-8", "replace")
                    elif isinstance(value, str):
                        text = value
                    else:
                        text = json.dumps(value)
                    for needle in needles:
                        if needle.lower() in text.lower():
                            found.append(f"{table.name}.{col.name}: {needle}")
    return found


async def test_an_erased_person_is_gone_from_every_table_and_topic_and_counts_still_add_up(
    db_urls: dict[str, str], broker: str, keys_file: Path, auth: dict[str, str]
) -> None:
    person = _person()
    needles = [*person.values(), person["phone"].lstrip("+")]
    keys = KeyStore(keys_file)
    intake_key = {"Authorization": f"Bearer {keys.create('forms', ['intake'])}"}
    sales_key = {"Authorization": f"Bearer {keys.create('crm', ['sales'])}"}
    intake = intake_app(IntakeSettings(**service_env(db_urls["intake"], broker, keys_file)))
    scoring = scoring_app(ScoringSettings(**service_env(db_urls["scoring"], broker, keys_file)))
    handoff = handoff_app(HandoffSettings(**service_env(db_urls["handoff"], broker, keys_file)))
    async with running(intake) as i, running(scoring) as s, running(handoff) as h:
        # The person, by three channels: a single post (with an Idempotency-Key), a batch
        # with a row rejected for its country, and a duplicate that merges.
        first = await i.post(
            "/v1/leads",
            json=a_lead(**person),
            headers={**intake_key, "Idempotency-Key": f"k-{person['email']}"},
        )
        assert first.status_code == 202, first.text
        lead_id = first.json()["lead_id"]
        other = a_lead()  # somebody else, who must stay
        rows = [
            a_lead(**{**person, "country": "Atlantis"}),
            other,
            a_lead(**person, touches=[{"type": "webinar", "at": "2026-11-24T11:00:00Z"}]),
        ]
        batch = await i.post(
            "/v1/leads/batch",
            content="\n".join(json.dumps(r) for r in rows).encode(),
            headers={**intake_key, "content-type": "application/x-ndjson"},
        )
        assert batch.status_code == 200, batch.text
        results = batch.json()["rows"]
        assert [r["status"] for r in results] == ["rejected", "accepted", "duplicate"], results
        other_id = results[1]["lead_id"]

        async def assigned(lid: str) -> dict[str, Any] | None:
            r = await h.get(f"/v1/leads/{lid}", headers=auth)
            if r.status_code == 200 and r.json()["status"] == "assigned":
                return dict(r.json())
            return None

        view = await eventually(lambda: assigned(lead_id), timeout=30)
        await eventually(lambda: assigned(other_id), timeout=30)
        # Sales reports back, naming the person in its notes.
        rep = view["rep_id"]
        now = datetime.now(UTC).isoformat()
        note = f"spoke to {person['first_name']} {person['last_name']} on {person['phone']}"
        attempt = await h.post(
            f"/v1/leads/{lead_id}/attempts",
            json={
                "attempt_id": "a1",
                "rep_id": rep,
                "channel": "call",
                "outcome": "connected",
                "at": now,
                "note": note,
            },
            headers=sales_key,
        )
        assert attempt.status_code in (200, 201, 202), attempt.text
        await eventually(
            lambda: _feedback_on_topic(broker, lead_id), timeout=20
        )  # the attempt reached leads.feedback before the erasure
        reports_before = {
            name: _without_times((await h.get(f"/v1/reports/{name}", headers=auth)).json())
            for name in REPORTS
        }

        before = await read_keys(broker)
        assert before[lead_id] is not None
        assert before[other_id] is not None

        # Only an admin key may erase or look at erasures.
        for path, method, body in (
            (f"/v1/leads/{lead_id}", "DELETE", None),
            (f"/v1/leads?email={person['email']}", "DELETE", None),
            ("/v1/erasures", "POST", {"email": person["email"]}),
            (f"/v1/erasures/{uuid.uuid4()}", "GET", None),
        ):
            assert (await i.request(method, path, json=body)).status_code == 401
            for key in (intake_key, sales_key):
                answer = await i.request(method, path, json=body, headers=key)
                assert answer.status_code == 403, (path, answer.text)

        erased = await i.post("/v1/erasures", json={"email": person["email"].upper()}, headers=auth)
        assert erased.status_code == 202, erased.text
        erasure = erased.json()
        assert erasure["lead_ids"] == [lead_id]  # the duplicate merged into it
        assert erasure["scope"] == "email"

        async def completed() -> dict[str, Any] | None:
            r = await i.get(f"/v1/erasures/{erasure['erasure_id']}", headers=auth)
            return dict(r.json()) if r.json()["status"] == "completed" else None

        done = await eventually(completed, timeout=30)
        assert done["leads_done"] == 1
        assert done["requested_by"] == "test admin"
        assert done["completed_at"] >= done["requested_at"]

        # Someone intake never saw: 202, nothing erased, complete at once.
        nobody = await i.delete("/v1/leads", params={"email": "no.one@nowhere.io"}, headers=auth)
        assert nobody.status_code == 202
        assert nobody.json()["lead_ids"] == []
        assert nobody.json()["status"] == "completed"
        assert (await i.delete(f"/v1/leads/{uuid.uuid4()}", headers=auth)).status_code == 404

        # What stays: the lead, anonymous, in every report exactly as before.
        after = await h.get(f"/v1/leads/{lead_id}", headers=auth)
        assert after.status_code == 200
        assert (after.json()["status"], after.json()["rep_id"]) == ("assigned", rep)
        assert after.json()["lead"]["source"] == "web"
        for name in REPORTS:
            now_report = _without_times((await h.get(f"/v1/reports/{name}", headers=auth)).json())
            assert now_report == reports_before[name], name
        assert (await s.get(f"/v1/leads/{lead_id}/score", headers=auth)).json()["outcome"] == (
            "qualified"
        )
        # The other person is untouched.
        untouched = await h.get(f"/v1/leads/{other_id}", headers=auth)
        assert untouched.json()["lead"]["email"] == other["email"]

        # lead.erased went out on every data topic, and sales tools got it.
        handoff_records = await read_topic(
            broker,
            "leads.handoff",
            until=lambda rs: any(
                r["key"] == lead_id and r["value"]["type"] == "com.leadrelay.lead.erased.v1"
                for r in rs
            ),
        )
        assert any(r["value"]["type"].endswith("lead.erased.v1") for r in handoff_records)

    await _assert_nothing_left(db_urls, broker, needles, other["email"], lead_id)
    await _assert_audited(db_urls, erasure["erasure_id"], lead_id)


async def _assert_nothing_left(
    db_urls: dict[str, str], broker: str, needles: list[str], other_email: str, lead_id: str
) -> None:
    """Nothing of the person anywhere: every table of every service..."""
    for service in SERVICES:
        url = db_urls[service]
        engine = create_async_engine(url)
        try:
            schema = service if url.startswith("postgresql") else None
            leaks = await _text_in_tables(engine, schema, needles)
            others = await _text_in_tables(engine, schema, [other_email])
        finally:
            await engine.dispose()
        assert leaks == [], f"{service}: {leaks}"
        assert others, f"{service}: the search finds nothing at all"

    # ...and every record of every topic, keys, values and headers, as raw bytes.
    for topic in ALL_TOPICS:
        for record in await read_all(broker, topic):
            raw = b" ".join(
                [
                    record["key"] or b"",
                    record["value"] or b"",
                    *(k.encode() + b"=" + v for k, v in record["headers"]),
                ]
            ).lower()
            for needle in needles:
                assert needle.lower().encode() not in raw, (topic, needle)
    # The lead's key is deleted (a tombstone): its sealed copies cannot be opened any more.
    assert (await read_keys(broker))[lead_id] is None
    tombstones = [r for r in await read_all(broker, TOPIC_KEYS) if r["value"] is None]
    assert [r["key"].decode() for r in tombstones] == [lead_id]


async def _rows(url: str, service: str, query: str) -> list[Any]:
    engine = create_async_engine(url)
    try:
        prefix = f'"{service}".' if url.startswith("postgresql") else ""
        async with engine.connect() as conn:
            return list((await conn.execute(text(query.format(prefix=prefix)))).all())
    finally:
        await engine.dispose()


async def _assert_audited(db_urls: dict[str, str], erasure_id: str, lead_id: str) -> None:
    """Who asked and when, in every service; never the email (the search above)."""
    [(scope, count, key_name, completed)] = await _rows(
        db_urls["intake"],
        "intake",
        "SELECT scope, lead_count, requested_by_name, completed_at FROM {prefix}erasures "
        f"WHERE erasure_id = '{erasure_id}'",
    )
    assert (scope, count, key_name) == ("email", 1, "test admin")
    assert completed is not None
    confirmed = await _rows(
        db_urls["intake"], "intake", "SELECT lead_id, confirmed_at FROM {prefix}erasure_leads"
    )
    assert [r[0] for r in confirmed] == [lead_id]
    assert confirmed[0][1] is not None
    for service in ("scoring", "handoff"):
        rows = await _rows(
            db_urls[service],
            service,
            "SELECT erasure_id, lead_id, applied_at FROM {prefix}erasures",
        )
        assert [(r[0], r[1]) for r in rows] == [(erasure_id, lead_id)], service
        assert rows[0][2] is not None


async def _feedback_on_topic(broker: str, lead_id: str) -> bool:
    records = await read_topic(
        broker, "leads.feedback", until=lambda rs: any(r["key"] == lead_id for r in rs), timeout=2
    )
    return any(r["key"] == lead_id for r in records)
