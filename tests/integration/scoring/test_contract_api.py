"""Contract versions through the public API: propose, refuse (every issue, its line and its
field, never a 5xx), activate, list, read; and who may do which."""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from typing import Any

import pytest

from services.scoring.contract.loader import MAX_CHARS
from shared.auth import KeyStore
from tests.integration.scoring.conftest import DEFAULT, NOW, Scoring, default_as

YAML = {"Content-Type": "application/yaml"}
HEAD = 'version: "bad"\nname: bad\n'  # lines 1-2 of most bad documents below


@pytest.fixture
def scoring(module_scoring: Scoring) -> Scoring:
    """Every test here talks HTTP only: one service per backend for the module."""
    return module_scoring


@dataclass(frozen=True)
class Bad:
    """A document that must be refused, and where the refusal must point: its line and its
    field (the dotted path; the JSON pointer is derived from it)."""

    id: str
    body: bytes
    line: int | None
    path: str
    says: str
    content_type: str = "application/yaml"

    @property
    def pointer(self) -> str:
        return "".join(f"/{part}" for part in re.findall(r"[^.\[\]]+", self.path))


def _bomb() -> str:
    text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for name, prev in zip("bcdefghi", "abcdefgh", strict=True):
        text += f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]\n"
    return text


_HUGE = HEAD + "description: >\n" + "  lorem ipsum dolor sit amet\n" * 12_000
BAD = [
    Bad("not yaml", b"version: '1'\nname: x\nthresholds: {qualified: 5\n", 3, "", "invalid YAML"),
    Bad("empty", b"", None, "", "the contract is empty"),
    Bad("whitespace only", b"  \n\n", None, "", "the contract is empty"),
    Bad("a list at the top", b"- version: 1\n", 1, "", "expected a mapping at the top"),
    Bad("a bare scalar", b"hello", 1, "", "expected a mapping at the top"),
    Bad("missing name", b"version: '1'\nthresholds: {qualified: 5}\n", 1, "name", "required"),
    Bad("missing thresholds", HEAD.encode(), 1, "thresholds", "required"),
    Bad(
        "version with a slash",
        b"version: ../etc\nname: x\nthresholds: {qualified: 5}\n",
        1,
        "version",
        "expected letters, digits",
    ),
    Bad(
        "unknown key, did you mean",
        (HEAD + "thresholds: {qualifed: 5}\n").encode(),
        3,
        "thresholds.qualifed",
        "did you mean 'qualified'",
    ),
    Bad(
        "points not a number",
        (
            HEAD + "thresholds: {qualified: 5}\nfit:\n  rules:\n"
            "    - {name: a, points: ten, when: {field: country, equals: US}}\n"
        ).encode(),
        6,
        "fit.rules[0].points",
        "expected a number, got 'ten'",
    ),
    Bad(
        "unknown operator",
        (
            HEAD + "thresholds: {qualified: 5}\nfit:\n  rules:\n"
            "    - name: a\n      points: 1\n      when: {field: country, inn: [US]}\n"
        ).encode(),
        8,
        "fit.rules[0].when.inn",
        "unknown operator 'inn'",
    ),
    Bad(
        "regex that does not compile",
        (
            HEAD + "thresholds: {qualified: 5}\ndisqualifiers:\n"
            "  - {name: s, reason: student, when: {field: job_title, matches: '(oops'}}\n"
        ).encode(),
        5,
        "disqualifiers[0].when.matches",
        "invalid regular expression",
    ),
    Bad(
        "bad duration",
        (
            HEAD + "thresholds: {qualified: 5}\ntiers: [{name: hot, min_score: 5}]\n"
            "sla:\n  first_contact:\n    hot: {within: soon}\n"
        ).encode(),
        7,
        "sla.first_contact.hot.within",
        "expected a duration",
    ),
    Bad(
        "tier without sla",
        (HEAD + "thresholds: {qualified: 5}\ntiers:\n  - {name: hot, min_score: 5}\n").encode(),
        5,
        "tiers[0].name",
        "has no SLA",
    ),
    Bad(
        "qualified below nurture",
        (HEAD + "thresholds:\n  qualified: 5\n  nurture: 10\n").encode(),
        4,
        "thresholds.qualified",
        "must be at least thresholds.nurture",
    ),
    Bad(
        "duplicate key",
        (HEAD + "thresholds: {qualified: 5}\nname: again\n").encode(),
        4,
        "name",
        "duplicate key 'name'",
    ),
    Bad(
        "infinite number",
        (HEAD + "thresholds: {qualified: .inf}\n").encode(),
        3,
        "thresholds.qualified",
        "finite",
    ),
    Bad(
        "python object tag",
        b"version: '1'\nname: !!python/object/apply:os.system ['echo pwned']\n"
        b"thresholds: {qualified: 5}\n",
        2,
        "name",
        "expected a text",
    ),
    Bad(
        "merge key",
        (HEAD + "base: &b {qualified: 5}\nthresholds:\n  <<: *b\n").encode(),
        3,
        "base",
        "unknown key 'base'",
    ),
    Bad("two documents", (HEAD + "---\nversion: '2'\n").encode(), 3, "", "invalid YAML"),
    Bad("nul byte", (HEAD + "description: a\x00b\n").encode(), 3, "", "#x0000"),
    Bad("invalid utf-8", HEAD.encode() + b"description: \xff\xfe\xfd\n", 3, "", "not UTF-8"),
    Bad("random binary", b"\x89PNG\r\n\x1a\n" + os.urandom(2048), 1, "", "not UTF-8"),
    Bad("billion laughs", _bomb().encode(), 1, "", "more than 50000 values"),
    Bad("self-referencing alias", b"a: &a [*a, *a]\n", 1, "", "more than 50000 values"),
    Bad("deep flow nesting", b"a: " + b"[" * 100_000 + b"]" * 100_000, 1, "", "nesting"),
    Bad(
        "conditions nested too deep",
        (
            HEAD + "thresholds: {qualified: 5}\nfit:\n  rules:\n    - name: a\n      points: 1\n"
            "      when: " + "{not: " * 13 + "{field: country, equals: US}" + "}" * 13 + "\n"
        ).encode(),
        8,
        "fit.rules[0].when.not.not.not.not.not.not.not.not.not.not.not.not.not",
        "nest at most 12 deep",
    ),
    Bad(
        "larger than the contract limit",
        _HUGE.encode(),
        _HUGE[:MAX_CHARS].count("\n") + 1,  # the line where the limit is crossed
        "",
        f"characters long; at most {MAX_CHARS} are accepted",
    ),
    Bad(
        "json document that is not text",
        b'{"document": 5}',
        None,
        "document",
        "string",
        content_type="application/json",
    ),
    Bad(
        "json document with invalid yaml inside",
        json.dumps({"document": HEAD + "thresholds: {qualified: five}\n"}).encode(),
        3,
        "thresholds.qualified",
        "expected a number",
        content_type="application/json",
    ),
    Bad(
        "json contract without document",
        b'{"version": "1",\n "name": "x",\n "thresholds": {"qualified": "five"}}',
        3,
        "thresholds.qualified",
        "expected a number",
        content_type="application/json",
    ),
    Bad(
        "deeply nested json",
        b"[" * 100_000 + b"]" * 100_000,
        1,
        "",
        "nesting",
        content_type="application/json",
    ),
    Bad(
        "malformed json",
        b'{"version": "1",\n "name": "x",\n "thresholds": {"qualified": 5}',
        3,
        "",
        "did not find expected ',' or '}'",
        content_type="application/json",
    ),
]


@pytest.mark.parametrize("bad", BAD, ids=[b.id for b in BAD])
async def test_a_bad_contract_is_refused_naming_its_line_and_field(
    scoring: Scoring, bad: Bad
) -> None:
    started = time.monotonic()
    answer = await scoring.http.post(
        "/v1/contracts",
        content=bad.body,
        headers={**scoring.admin, "Content-Type": bad.content_type},
    )
    assert time.monotonic() - started < 3, "hostile input must be refused quickly"
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["status"] == 422
    matching = [
        e
        for e in problem["errors"]
        if e["pointer"] == bad.pointer and e.get("line") == bad.line and bad.says in e["message"]
    ]
    assert matching, problem["errors"]
    if "path" in matching[0]:  # a contract issue (not the JSON envelope's)
        assert matching[0]["path"] == bad.path


async def test_every_issue_is_listed_with_line_path_and_pointer(scoring: Scoring) -> None:
    document = HEAD + (
        "thresholds: {qualified: lots}\n"
        "fit:\n"
        "  rules:\n"
        "    - {name: a, points: ten, when: {field: country, equals: US}}\n"
        "    - {name: b, points: 1, when: {field: job_title, matches: '(unclosed'}}\n"
        "engagement:\n"
        "  half_life: soon\n"
    )
    answer = await scoring.http.post(
        "/v1/contracts", content=document, headers={**scoring.admin, **YAML}
    )
    assert answer.status_code == 422
    problem = answer.json()
    assert problem["type"] == "https://leadrelay.dev/problems/invalid-contract"
    assert problem["issue_count"] == 4
    assert [(e["line"], e["path"], e["pointer"]) for e in problem["errors"]] == [
        (3, "thresholds.qualified", "/thresholds/qualified"),
        (6, "fit.rules[0].points", "/fit/rules/0/points"),
        (7, "fit.rules[1].when.matches", "/fit/rules/1/when/matches"),
        (9, "engagement.half_life", "/engagement/half_life"),
    ]
    assert problem["detail"].startswith("4 problems; the first: line 3: thresholds.qualified:")


async def test_a_body_over_the_request_limit_is_refused_before_it_is_read(scoring: Scoring) -> None:
    answer = await scoring.http.post(
        "/v1/contracts", content=b"a: b\n" * 300_000, headers={**scoring.admin, **YAML}
    )
    assert answer.status_code == 413


async def test_a_form_post_is_not_a_contract(scoring: Scoring) -> None:
    answer = await scoring.http.post(
        "/v1/contracts", data={"version": "1"}, headers=scoring.admin
    )  # application/x-www-form-urlencoded
    assert answer.status_code == 415
    assert "application/yaml" in answer.json()["detail"]


async def test_nothing_refused_was_stored(scoring: Scoring) -> None:
    listed = (await scoring.http.get("/v1/contracts", headers=scoring.admin)).json()
    assert "bad" not in [c["version"] for c in listed["contracts"]]


# --- versions, on both backends --------------------------------------------------------


async def test_a_draft_is_stored_activated_and_the_old_version_retired(scoring: Scoring) -> None:
    http, admin, sales = scoring.http, scoring.admin, scoring.sales
    draft = default_as("2026.2", ("qualified: 65", "qualified: 70"))

    proposed = await scoring.propose(draft)
    assert proposed.status_code == 201, proposed.text
    assert proposed.headers["location"] == "/v1/contracts/2026.2"
    assert proposed.json() | {"created_at": None} == {
        "version": "2026.2",
        "name": "B2B SaaS default",
        "status": "draft",
        "created_at": None,
        "created_by": "test admin",
        "activated_at": None,
        "activated_by": None,
        "retired_at": None,
    }
    still = (await http.get("/v1/contract", headers=sales)).json()
    assert still["version"] == "2026.1"

    scoring.clock.set(scoring.clock.now().replace(hour=16))
    activated = await http.post("/v1/contracts/2026.2/activate", headers=admin)
    assert activated.status_code == 200, activated.text
    assert activated.json()["status"] == "active"
    assert activated.json()["previous_version"] == "2026.1"
    assert activated.json()["activated_at"] == "2026-11-24T16:00:00Z"

    active = (await http.get("/v1/contract", headers=sales)).json()
    assert active["version"] == "2026.2"
    assert active["document"] == draft
    assert active["contract"]["thresholds"] == {"qualified": 70, "nurture": 0}
    assert active["contract"]["required"] == ["email", "company", "country"]

    listed = (await http.get("/v1/contracts", headers=sales)).json()
    assert listed["active"] == "2026.2"
    mine = [c for c in listed["contracts"] if c["version"] in ("2026.1", "2026.2")]
    assert [(c["version"], c["status"]) for c in mine] == [
        ("2026.1", "retired"),
        ("2026.2", "active"),
    ]
    assert mine[0]["retired_at"] == "2026-11-24T16:00:00Z"

    old = (await http.get("/v1/contracts/2026.1", headers=sales)).json()
    assert (old["status"], old["document"]) == ("retired", DEFAULT)

    again = await http.post("/v1/contracts/2026.2/activate", headers=admin)
    assert again.status_code == 200
    assert again.json()["previous_version"] is None  # already active: nothing changed

    back = await http.post("/v1/contracts/2026.1/activate", headers=admin)
    assert back.json()["previous_version"] == "2026.2"  # a rollback is an activation
    assert back.json()["retired_at"] is None
    assert (await http.get("/v1/contract", headers=sales)).json()["version"] == "2026.1"
    scoring.clock.set(NOW)


async def test_a_version_is_never_overwritten(scoring: Scoring) -> None:
    first = await scoring.propose(default_as("2026.3"))
    assert first.status_code == 201
    second = await scoring.propose(default_as("2026.3", ("qualified: 65", "qualified: 99")))
    assert second.status_code == 409
    assert second.json()["type"] == "https://leadrelay.dev/problems/contract-version-exists"
    shipped = await scoring.propose(DEFAULT)
    assert shipped.status_code == 409
    assert "active" in shipped.json()["detail"]
    stored = (await scoring.http.get("/v1/contracts/2026.3", headers=scoring.sales)).json()
    assert "qualified: 65" in stored["document"]


async def test_the_json_form_of_a_contract_is_accepted(scoring: Scoring) -> None:
    answer = await scoring.http.post(
        "/v1/contracts", json={"document": default_as("2026.4-json")}, headers=scoring.admin
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["version"] == "2026.4-json"


async def test_unknown_versions_are_404(scoring: Scoring) -> None:
    for call in (
        scoring.http.post("/v1/contracts/nope/activate", headers=scoring.admin),
        scoring.http.get("/v1/contracts/nope", headers=scoring.admin),
        scoring.http.post("/v1/contracts/nope/simulate", headers=scoring.admin),
    ):
        answer = await call
        assert answer.status_code == 404, answer.text
        assert answer.json()["type"] == "https://leadrelay.dev/problems/unknown-contract-version"


async def test_sales_reads_contracts_and_admin_changes_them(scoring: Scoring) -> None:
    http, sales = scoring.http, scoring.sales
    intake = {"Authorization": f"Bearer {KeyStore(scoring.keys_file).create('f', ['intake'])}"}
    for path in ("/v1/contract", "/v1/contracts", "/v1/contracts/2026.1"):
        assert (await http.get(path, headers=sales)).status_code == 200
        assert (await http.get(path, headers=intake)).status_code == 403
        assert (await http.get(path)).status_code == 401
    draft = default_as("2026.5")
    for path, body in (
        ("/v1/contracts", draft),
        ("/v1/contracts/simulate", draft),
        ("/v1/contracts/2026.1/activate", ""),
    ):
        refused = await http.post(path, content=body, headers={**sales, **YAML})
        assert refused.status_code == 403, path
        assert refused.json()["title"] == "This key's scopes do not allow this"
    assert (await http.get("/v1/leads/x/score", headers=intake)).status_code == 403
    # the key is checked before the body is read: no parsing for strangers
    binary = {"Content-Type": "application/yaml"}
    assert (
        await http.post("/v1/contracts", content=b"\xff" * 100, headers=binary)
    ).status_code == 401
    assert (
        await http.post("/v1/contracts", content=b"\xff" * 100, headers={**intake, **binary})
    ).status_code == 403


async def test_the_openapi_document_shows_bodies_and_problems(scoring: Scoring) -> None:
    spec = (await scoring.http.get("/openapi.json")).json()
    propose = spec["paths"]["/v1/contracts"]["post"]
    assert set(propose["requestBody"]["content"]) >= {"application/yaml", "application/json"}
    assert {"201", "401", "403", "409", "415", "422"} <= set(propose["responses"])
    refused = propose["responses"]["422"]["content"]["application/json"]["schema"]["$ref"]
    assert refused.endswith("/ContractProblem")
    activate = spec["paths"]["/v1/contracts/{version}/activate"]["post"]
    assert "404" in activate["responses"]
    assert "re-scored" in activate["description"]
    simulate = spec["paths"]["/v1/contracts/simulate"]["post"]
    assert {p["name"] for p in simulate["parameters"]} == {"days", "since", "sample"}


SIMULATED = default_as("2026.7-sim", ("qualified: 65", "qualified: 70"))


async def test_bad_simulation_requests_are_refused(scoring: Scoring) -> None:
    async def status(query: str, body: str = SIMULATED) -> tuple[int, dict[str, Any]]:
        answer = await scoring.http.post(
            f"/v1/contracts/simulate?{query}",
            content=body,
            headers={**scoring.admin, "Content-Type": "application/yaml"},
        )
        return answer.status_code, answer.json()

    code, problem = await status("days=30", SIMULATED.replace("qualified: 70", "qualified: lots"))
    assert code == 422
    assert problem["errors"][0]["path"] == "thresholds.qualified"
    code, problem = await status("days=3&since=2026-11-01T00:00:00Z")
    assert (code, problem["errors"][0]["pointer"]) == (422, "/query/since")
    for query in ("days=0", "days=99999", "sample=-1", "since=yesterday"):
        assert (await status(query))[0] == 422, query
    assert (await status("since=2026-11-01T00:00:00"))[0] == 422  # no time zone
    assert (await status("since=2027-01-01T00:00:00Z"))[0] == 422  # the future
