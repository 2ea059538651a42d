"""POST /v1/forms/{form_id}: browser posts with CORS, a thank-you redirect, a honeypot,
and a public key that can post its form and nothing else."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import a_lead
from tests.infra import read_topic
from tests.integration.intake.conftest import Intake, an_intake

ORIGIN = "https://www.example.com"
PAGE = {"Origin": ORIGIN, "Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def a_post(key: str, **fields: str) -> dict[str, str]:
    return {"_key": key, "work_email": "ada@acme.io", "first_name": "Ada", **fields}


async def test_a_browser_post_is_a_lead_and_the_browser_goes_to_the_thank_you_page(
    intake: Intake, broker: str
) -> None:
    key = intake.keys.create("site", ["form:contact"])
    answer = await intake.client.post(
        "/v1/forms/contact",
        data=a_post(key, Company="Acme", utm_source="ads", employees="250", newsletter="on"),
        headers=PAGE,
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "https://www.example.com/thanks"
    assert answer.headers["access-control-allow-origin"] == ORIGIN
    [record] = await read_topic(
        broker, "leads.received", opened=True, until=lambda rs: len(rs) >= 1
    )
    lead = record["value"]["data"]
    assert (lead["email"], lead["first_name"], lead["company"]) == ("ada@acme.io", "Ada", "Acme")
    assert (lead["channel"], lead["source"], lead["campaign_id"]) == ("form", "web", "site-contact")
    assert lead["utm"] == {"utm_source": "ads"}
    assert lead["attributes"] == {"employees": 250}
    assert lead["consent"] == {"marketing_email": True}
    assert [(t["type"], t["detail"]) for t in lead["touches"]] == [("form_submit", "Contact us")]


async def test_multipart_posts_work_and_file_parts_are_ignored(sqlite_intake: Intake) -> None:
    key = sqlite_intake.keys.create("site", ["form:contact"])
    answer = await sqlite_intake.client.post(
        "/v1/forms/contact",
        data=a_post(key),
        files={"cv": ("cv.txt", b"hello", "text/plain")},
        headers=PAGE,
    )
    assert answer.status_code == 303
    assert (await sqlite_intake.stored())["leads"] == 1


async def test_an_unticked_consent_box_is_recorded_as_no_consent(
    sqlite_intake: Intake, broker: str
) -> None:
    key = sqlite_intake.keys.create("site", ["form:contact"])
    await sqlite_intake.client.post("/v1/forms/contact", data=a_post(key))
    [record] = await read_topic(
        broker, "leads.received", opened=True, until=lambda rs: len(rs) >= 1
    )
    assert record["value"]["data"]["consent"] == {"marketing_email": False}


async def test_a_filled_honeypot_looks_accepted_but_nothing_is_stored(
    sqlite_intake: Intake,
) -> None:
    key = sqlite_intake.keys.create("site", ["form:contact"])
    answer = await sqlite_intake.client.post(
        "/v1/forms/contact", data=a_post(key, website="http://spam.example"), headers=PAGE
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "https://www.example.com/thanks"
    assert await sqlite_intake.stored() == {"leads": 0, "outbox": 0, "keys": 0}


async def test_the_preflight_answers_allowed_origins_only(intake: Intake) -> None:
    ok = await intake.client.options(
        "/v1/forms/contact",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
    )
    assert ok.status_code == 204
    assert ok.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in ok.headers["access-control-allow-methods"]
    assert "x-api-key" in ok.headers["access-control-allow-headers"].lower()
    for origin in ("https://evil.example", "null"):
        refused = await intake.client.options("/v1/forms/contact", headers={"Origin": origin})
        assert refused.status_code == 403
        assert "access-control-allow-origin" not in refused.headers
    assert (await intake.client.options("/v1/forms/contact")).status_code == 403
    unknown = await intake.client.options("/v1/forms/nope", headers={"Origin": ORIGIN})
    assert unknown.status_code == 404
    anyone = await intake.client.options("/v1/forms/signup", headers={"Origin": "https://a.b"})
    assert anyone.status_code == 204


async def test_a_script_post_with_the_key_in_a_header_gets_json_and_cors(
    sqlite_intake: Intake,
) -> None:
    key = sqlite_intake.keys.create("site", ["form:signup"])
    answer = await sqlite_intake.client.post(
        "/v1/forms/signup",
        data={"email": "bo@acme.io"},
        headers={"X-API-Key": key, "Origin": "https://elsewhere.example"},
    )
    assert answer.status_code == 202
    assert answer.json()["status"] == "accepted"
    assert answer.headers["access-control-allow-origin"] == "https://elsewhere.example"
    invalid = await sqlite_intake.client.post(
        "/v1/forms/signup", data={"email": "nope"}, headers={"X-API-Key": key}
    )
    assert invalid.status_code == 422  # a script gets the problem, not the error page
    page = await sqlite_intake.client.post(
        "/v1/forms/signup", data={"email": "nope"}, headers={"X-API-Key": key, **PAGE}
    )
    assert page.status_code == 303
    assert page.headers["location"] == "https://www.example.com/oops?errors=email"


async def test_an_invalid_post_without_an_error_page_is_a_422_with_cors(
    sqlite_intake: Intake,
) -> None:
    key = sqlite_intake.keys.create("site", ["form:contact"])
    answer = await sqlite_intake.client.post(
        "/v1/forms/contact", data=a_post(key, work_email="nope"), headers=PAGE
    )
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["pointer"] == "/email"
    assert answer.headers["access-control-allow-origin"] == ORIGIN


async def test_a_form_key_posts_its_own_form_and_nothing_else(sqlite_intake: Intake) -> None:
    intake = sqlite_intake
    key = intake.keys.create("site", ["form:contact"])
    header = {"X-API-Key": key}
    assert (await intake.client.post("/v1/forms/signup", data=a_post(key))).status_code == 403
    assert (await intake.client.post("/v1/leads", json=a_lead(), headers=header)).status_code == 403
    batch = await intake.client.post(
        "/v1/leads/batch",
        content=b"email\na@b.co\n",
        headers={**header, "content-type": "text/csv"},
    )
    assert batch.status_code == 403
    assert (await intake.client.get("/v1/forms/contact", headers=header)).status_code == 403
    put = await intake.client.put("/v1/forms/contact", json={}, headers=header)
    assert put.status_code == 403
    assert (await intake.stored())["leads"] == 0


async def test_forms_are_managed_over_the_api_except_those_from_the_file(
    sqlite_intake: Intake,
) -> None:
    intake = sqlite_intake
    admin = intake.admin
    config = {
        "name": "Webinar signup",
        "allowed_origins": ["https://events.example.com"],
        "fields": {"mail": "email"},
        "source": "event",
    }
    created = await intake.client.put("/v1/forms/webinar", json=config, headers=admin)
    assert created.status_code == 200, created.text
    assert created.json()["managed_by"] == "api"
    read = await intake.client.get("/v1/forms/webinar", headers=admin)
    assert read.json()["config"]["fields"] == {"mail": "email"}
    listed = await intake.client.get("/v1/forms", headers=admin)
    assert [f["form_id"] for f in listed.json()] == ["contact", "signup", "webinar"]

    key = intake.keys.create("events", ["form:webinar"])
    post = await intake.client.post(
        "/v1/forms/webinar", data={"_key": key, "mail": "ev@acme.io"},
        headers={"Origin": "https://events.example.com"},
    )  # fmt: skip
    assert post.status_code == 202

    bad = await intake.client.put(
        "/v1/forms/webinar", json={"fields": {"mail": "emails"}}, headers=admin
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["pointer"] == "/fields"
    assert (await intake.client.put("/v1/forms/contact", json={}, headers=admin)).status_code == 409
    assert (await intake.client.delete("/v1/forms/contact", headers=admin)).status_code == 409
    assert (await intake.client.delete("/v1/forms/webinar", headers=admin)).status_code == 204
    gone = await intake.client.post("/v1/forms/webinar", data={"_key": key, "mail": "x@acme.io"})
    assert gone.status_code == 404


async def test_the_forms_file_is_applied_on_every_start(
    broker: str, keys_file: Path, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/intake.db"
    async with an_intake(url, broker, keys_file, tmp_path) as intake:
        await intake.client.put("/v1/forms/mine", json={}, headers=intake.admin)
    (tmp_path / "forms.yaml").write_text("forms:\n  contact:\n    name: Renamed\n")
    async with an_intake(url, broker, keys_file, tmp_path) as intake:
        listed = (await intake.client.get("/v1/forms", headers=intake.admin)).json()
        assert {f["form_id"]: f["managed_by"] for f in listed} == {"contact": "file", "mine": "api"}
        assert listed[0]["config"]["name"] == "Renamed"


async def test_a_script_posting_a_form_with_a_thank_you_page_gets_json_not_a_redirect(
    sqlite_intake: Intake,
) -> None:
    key = sqlite_intake.keys.create("site", ["form:contact"])
    answer = await sqlite_intake.client.post(
        "/v1/forms/contact", data=a_post(key), headers={"Origin": ORIGIN, "Accept": "*/*"}
    )
    assert answer.status_code == 202
    assert answer.json()["status"] == "accepted"
    assert answer.headers["access-control-allow-origin"] == ORIGIN
