"""Every route of every service against every kind of credential.

ROUTES is the authority: for each service, (method, path) -> who may call it. A route the
app serves that the table does not list fails `test_every_route_is_in_the_table` (a new
route cannot slip in unprotected), and so does a table entry the app no longer serves.

Then each listed route is called with no key, with bad keys (garbage, unknown id, a real
id with a wrong secret, a revoked key) -> 401; with each key kind -> 403 where the table
does not allow it, and neither 401 nor 403 where it does. The calls carry placeholder ids
and empty bodies: an allowed call answers 404/422/..., which is enough to show that auth
let it through, and changes nothing.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount

from tests.security.conftest import FORM_ID, KEY_SCOPES, OTHER_FORM_ID, Stack, build_apps

pytestmark = pytest.mark.security


@dataclass(frozen=True)
class Public:
    """No key needed, by design; `why` says why that is safe."""

    why: str


@dataclass(frozen=True)
class Signed:
    """No API key: the caller proves itself with a shared-secret signature. No API key,
    not even admin, stands in for the signature."""

    why: str


Access = frozenset[str] | Public | Signed

PROBE = Public("operations: probes, metrics and the OpenAPI docs are open by design")
DASHBOARD = Public("a static page and its assets; the page fetches reports with the viewer's key")
PREFLIGHT = Public("a CORS preflight: browsers send no credentials on it; it reveals only CORS")

ADMIN: Access = frozenset({"admin"})
INTAKE: Access = frozenset({"intake", "admin"})
SALES: Access = frozenset({"sales", "admin"})
FORM_POST: Access = frozenset({"form", "intake", "admin"})

OPERATIONS: dict[tuple[str, str], Access] = {
    ("GET", "/openapi.json"): PROBE,
    ("GET", "/docs"): PROBE,
    ("GET", "/docs/oauth2-redirect"): PROBE,
    ("GET", "/redoc"): PROBE,
    ("GET", "/healthz"): PROBE,
    ("GET", "/readyz"): PROBE,
    ("GET", "/metrics"): PROBE,
}

ROUTES: dict[str, dict[tuple[str, str], Access]] = {
    "intake": {
        **OPERATIONS,
        ("POST", "/v1/leads"): INTAKE,
        ("POST", "/v1/leads/batch"): INTAKE,
        ("POST", "/v1/hooks/{tool}"): Signed("the tool signs the body with its hook secret"),
        ("POST", "/v1/forms/{form_id}"): FORM_POST,
        ("OPTIONS", "/v1/forms/{form_id}"): PREFLIGHT,
        ("GET", "/v1/forms"): ADMIN,
        ("GET", "/v1/forms/{form_id}"): ADMIN,
        ("PUT", "/v1/forms/{form_id}"): ADMIN,
        ("DELETE", "/v1/forms/{form_id}"): ADMIN,
        # erasure (docs/erasure.md)
        ("DELETE", "/v1/leads/{lead_id}"): ADMIN,
        ("DELETE", "/v1/leads"): ADMIN,
        ("POST", "/v1/erasures"): ADMIN,
        ("GET", "/v1/erasures/{id}"): ADMIN,
    },
    "scoring": {
        **OPERATIONS,
        ("GET", "/v1/contract"): SALES,
        ("GET", "/v1/contracts"): SALES,
        ("POST", "/v1/contracts"): ADMIN,
        ("POST", "/v1/contracts/simulate"): ADMIN,
        ("GET", "/v1/contracts/{version}"): SALES,
        ("POST", "/v1/contracts/{version}/activate"): ADMIN,
        ("POST", "/v1/contracts/{version}/simulate"): ADMIN,
        ("GET", "/v1/leads/{lead_id}/score"): SALES,
    },
    "handoff": {
        **OPERATIONS,
        ("GET", "/v1/leads/{lead_id}"): SALES,
        ("POST", "/v1/leads/{lead_id}/accept"): SALES,
        ("POST", "/v1/leads/{lead_id}/reject"): SALES,
        ("POST", "/v1/leads/{lead_id}/attempts"): SALES,
        ("POST", "/v1/leads/{lead_id}/outcome"): SALES,
        ("GET", "/v1/reps"): SALES,
        ("GET", "/v1/reps/{rep_id}"): SALES,
        ("PUT", "/v1/reps/{rep_id}"): ADMIN,
        ("GET", "/v1/teams"): SALES,
        ("GET", "/v1/teams/{team}"): SALES,
        ("PUT", "/v1/teams/{team}"): ADMIN,
        ("POST", "/v1/subscriptions"): ADMIN,
        ("GET", "/v1/subscriptions"): ADMIN,
        ("GET", "/v1/subscriptions/{subscription_id}"): ADMIN,
        ("DELETE", "/v1/subscriptions/{subscription_id}"): ADMIN,
        ("GET", "/v1/subscriptions/{subscription_id}/deliveries"): ADMIN,
        ("POST", "/v1/subscriptions/{subscription_id}/deliveries/{delivery_id}/retry"): ADMIN,
        ("GET", "/v1/reports/funnel"): SALES,
        ("GET", "/v1/reports/sla"): SALES,
        ("GET", "/v1/reports/contribution"): SALES,
        ("GET", "/v1/reports/quota"): SALES,
        ("GET", "/v1/reports/reject-reasons"): SALES,
        ("GET", "/v1/reports/cost-per-qualified-lead"): SALES,
        ("GET", "/v1/reports/business-review"): SALES,
        ("PUT", "/v1/campaigns/{campaign_id}"): ADMIN,
        ("GET", "/v1/campaigns"): SALES,
        ("GET", "/v1/campaigns/{campaign_id}"): SALES,
        ("GET", "/"): DASHBOARD,
        ("GET", "/static/{path}"): DASHBOARD,
    },
}

SAMPLE_PATHS: dict[tuple[str, str], str] = {
    ("GET", "/static/{path}"): "/static/dashboard.js",
    ("DELETE", "/v1/leads"): "/v1/leads?email=nobody%40example.com",
}
SAMPLE_PARAMS = {
    "form_id": FORM_ID,
    "tool": "mautic",
    "version": "0.0.0-security",
    "rep_id": "security-rep",
    "team": "security-team",
    "campaign_id": "security-campaign",
    "delivery_id": "1",
}
_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")


def _normal(path: str) -> str:
    """A template with its parameter names dropped: a renamed parameter is the same route."""
    return _PARAM.sub("{}", path)


def served_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path template) of everything the app answers; a mount as `<prefix>/{path}`."""
    out: set[tuple[str, str]] = set()
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        if isinstance(route, Mount):
            out.add(("GET", f"{route.path}/{{path}}"))
            continue
        assert ctx.path is not None, f"a route without a path: {route!r}"
        for method in ctx.methods or {"GET"}:
            if method != "HEAD":  # Starlette adds HEAD to GET routes; it answers like GET
                out.add((method, ctx.path))
    return out


def request_for(method: str, path: str) -> dict[str, Any]:
    """A concrete call of a table entry: placeholders filled, a harmless body."""
    url = SAMPLE_PATHS.get((method, path)) or _PARAM.sub(
        lambda m: SAMPLE_PARAMS.get(m.group(1), str(uuid.uuid4())), path
    )
    call: dict[str, Any] = {"method": method, "url": url, "headers": {}}
    if path == "/v1/forms/{form_id}" and method == "POST":
        call["content"] = b"work_email=someone%40example.com&first_name=Sam"
        call["headers"]["Content-Type"] = "application/x-www-form-urlencoded"
    elif path == "/v1/forms/{form_id}" and method == "OPTIONS":
        call["headers"]["Origin"] = "https://www.example.com"
        call["headers"]["Access-Control-Request-Method"] = "POST"
    elif path == "/v1/leads/batch":
        call["content"] = b""
        call["headers"]["Content-Type"] = "application/x-ndjson"
    elif method in ("POST", "PUT"):
        call["json"] = {}
    return call


def cases() -> list[Any]:
    return [
        pytest.param(service, method, path, access, id=f"{service} {method} {path}")
        for service, table in ROUTES.items()
        for (method, path), access in table.items()
    ]


async def call(
    stack: Stack, service: str, method: str, path: str, headers: dict[str, str]
) -> httpx.Response:
    req = request_for(method, path)
    req["headers"].update(headers)
    return await stack.clients[service].request(**req)


def _refused(answer: httpx.Response, status: int, what: str) -> str | None:
    if answer.status_code != status:
        return f"{what}: {answer.status_code} (want {status}) {answer.text[:200]}"
    if not answer.headers.get("content-type", "").startswith("application/problem+json"):
        return f"{what}: {status} is not problem+json"
    if status == 401 and answer.headers.get("www-authenticate") != "Bearer":
        return f"{what}: 401 without WWW-Authenticate: Bearer"
    return None


# --- the table matches the apps ------------------------------------------------------------


def table_mismatch(
    service: str, app: FastAPI
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(routes served but not listed, listed routes not served)."""
    served = {(m, _normal(p)): (m, p) for m, p in served_routes(app)}
    table = {(m, _normal(p)): (m, p) for m, p in ROUTES[service]}
    unlisted = sorted(served[k] for k in served.keys() - table.keys())
    gone = sorted(table[k] for k in table.keys() - served.keys())
    return unlisted, gone


@pytest.mark.parametrize("service", sorted(ROUTES))
async def test_every_route_is_in_the_table(stack: Stack, service: str) -> None:
    unlisted, gone = table_mismatch(service, stack.apps[service])
    assert not unlisted, (
        f"{service} serves routes the security table does not list; add each to ROUTES in "
        f"{__file__} with the scopes it needs: {unlisted}"
    )
    assert not gone, f"ROUTES lists {service} routes that are no longer served: {gone}"


def test_a_new_route_or_a_dropped_one_is_caught(tmp_path: Path) -> None:
    """The check itself: a route added without a table entry, or a router dropped, shows."""
    app = build_apps(tmp_path, "127.0.0.1:1", tmp_path / "keys.json")["handoff"]

    @app.get("/v1/leaky")
    async def leaky() -> dict[str, str]:
        return {}

    @app.post("/v1/leads/{other_name}/accept")  # a renamed parameter is the same route
    async def renamed() -> None:
        return None

    assert table_mismatch("handoff", app) == ([("GET", "/v1/leaky")], [])
    bare = build_apps(tmp_path, "127.0.0.1:1", tmp_path / "keys.json")["scoring"]
    del bare.router.routes[-1]  # scoring's API router
    _, gone = table_mismatch("scoring", bare)
    assert ("GET", "/v1/leads/{lead_id}/score") in gone


def test_the_table_itself() -> None:
    """Admin may do everything keyed; nothing but the probes and docs is open without a
    reason; every service has the probes."""
    for service, table in ROUTES.items():
        for route in OPERATIONS:
            assert table.get(route) == PROBE, (service, route)
        for (method, path), access in table.items():
            if isinstance(access, frozenset):
                assert "admin" in access, (service, method, path)
                assert access <= set(KEY_SCOPES), (service, method, path, access)
            elif isinstance(access, Public) and (method, path) not in OPERATIONS:
                assert access in (DASHBOARD, PREFLIGHT), (service, method, path)
            # the form key is for posting a form, nothing else
            if isinstance(access, frozenset) and "form" in access:
                assert (service, method, path) == ("intake", "POST", "/v1/forms/{form_id}")


# --- each route against each credential ----------------------------------------------------


async def _public_problems(stack: Stack, service: str, method: str, path: str) -> list[str]:
    """Open to anyone, with or without a key."""
    problems = []
    for kind in (None, *KEY_SCOPES):
        headers = {} if kind is None else {"Authorization": f"Bearer {stack.keys[kind]}"}
        answer = await call(stack, service, method, path, headers)
        ok = answer.status_code in (200, 204) or (path == "/readyz" and answer.status_code == 503)
        if not ok:
            problems.append(f"public, with key {kind}: {answer.status_code} {answer.text[:200]}")
    return problems


async def _bad_key_problems(stack: Stack, service: str, method: str, path: str) -> list[str]:
    """No key, or one that is not a valid key: 401, and the key is not echoed back."""
    bad_keys = {
        "no key": {},
        "empty bearer": {"Authorization": "Bearer "},
        "garbage bearer": {"Authorization": "Bearer not-a-key"},
        "garbage x-api-key": {"X-API-Key": "not-a-key"},
        "unknown id": {"Authorization": f"Bearer lr_000000000000_{'x' * 43}"},
        "wrong secret": {"Authorization": f"Bearer {stack.keys['wrong_secret']}"},
        "revoked": {"X-API-Key": stack.keys["revoked"]},
        "basic auth": {"Authorization": f"Basic {stack.keys['admin']}"},
    }
    problems = []
    for what, headers in bad_keys.items():
        answer = await call(stack, service, method, path, headers)
        problem = _refused(answer, 401, what)
        if problem:
            problems.append(problem)
        presented = next(iter(headers.values()), "").removeprefix("Bearer ").strip()
        if len(presented) > 8 and presented in answer.text:
            problems.append(f"{what}: the answer echoes the presented key")
    return problems


async def _scope_problems(
    stack: Stack, service: str, method: str, path: str, access: Access
) -> list[str]:
    """Each key kind, in either header: 403 unless the table allows it; a signed route
    takes no key at all (401)."""
    problems = []
    for kind in KEY_SCOPES:
        for header in ("Authorization", "X-API-Key"):
            value = stack.keys[kind]
            headers = {header: f"Bearer {value}" if header == "Authorization" else value}
            answer = await call(stack, service, method, path, headers)
            what = f"{kind} key in {header}"
            if isinstance(access, Signed):
                problem = _refused(answer, 401, what)
            elif isinstance(access, frozenset) and kind in access:
                problem = (
                    f"{what}: {answer.status_code} though allowed: {answer.text[:200]}"
                    if answer.status_code in (401, 403)
                    else None
                )
            else:
                problem = _refused(answer, 403, what)
            if problem:
                problems.append(problem)
    return problems


@pytest.mark.parametrize(("service", "method", "path", "access"), cases())
async def test_route_needs_the_right_key(
    stack: Stack, service: str, method: str, path: str, access: Access
) -> None:
    served = {(m, _normal(p)) for m, p in served_routes(stack.apps[service])}
    assert (method, _normal(path)) in served, "checked by test_every_route_is_in_the_table"
    if isinstance(access, Public):
        problems = await _public_problems(stack, service, method, path)
    else:
        problems = await _bad_key_problems(stack, service, method, path)
        problems += await _scope_problems(stack, service, method, path, access)
    assert not problems, "\n".join(problems)


# --- what a form key and an intake key can reach --------------------------------------------


def _keyed_routes(stack: Stack) -> list[tuple[str, str, str]]:
    """Every route the apps serve except the public ones: taken from the apps, not the table."""
    out = []
    for service, app in stack.apps.items():
        for method, path in sorted(served_routes(app)):
            access = next(
                (
                    a
                    for (m, p), a in ROUTES[service].items()
                    if (m, _normal(p)) == (method, _normal(path))
                ),
                None,
            )
            if isinstance(access, Public):
                continue
            out.append((service, method, path))
    return out


@pytest.mark.parametrize("kind", ["form", "intake"])
async def test_form_and_intake_keys_read_nothing(stack: Stack, kind: str) -> None:
    """No GET of any service answers a form key or an intake key with data (public pages
    aside), and a form key posts its own form and nothing else."""
    problems = []
    key = stack.keys[kind]
    for service, method, path in _keyed_routes(stack):
        if kind == "form" and (service, method, path) == ("intake", "POST", "/v1/forms/{form_id}"):
            continue
        if kind == "intake" and method != "GET":
            continue  # what an intake key may write is the table's business
        for headers in ({"Authorization": f"Bearer {key}"}, {"X-API-Key": key}):
            answer = await call(stack, service, method, path, headers)
            if answer.status_code not in (401, 403):
                problems.append(f"{service} {method} {path}: {answer.status_code}")
    assert not problems, problems


async def test_form_key_posts_only_its_own_form(stack: Stack) -> None:
    intake = stack.clients["intake"]
    form = {"work_email": f"sam.{uuid.uuid4().hex[:8]}@example.com", "first_name": "Sam"}
    key = stack.keys["form"]
    # as a browser sends it: the hidden _key field
    own = await intake.post(f"/v1/forms/{FORM_ID}", data={**form, "_key": key})
    assert own.status_code == 202, own.text
    other = await intake.post(f"/v1/forms/{OTHER_FORM_ID}", data={**form, "_key": key})
    assert _refused(other, 403, "form key on another form") is None, other.text
    # the _key field is read on form posts only; elsewhere it is just a field
    lead = await intake.post("/v1/leads", json={**form, "_key": key, "email": form["work_email"]})
    assert lead.status_code == 401, lead.text
    # a form key is a key like any other: as a header too, and refused when wrong
    wrong = await intake.post(f"/v1/forms/{FORM_ID}", data={**form, "_key": key[:-4] + "AAAA"})
    assert _refused(wrong, 401, "a form key with a wrong secret") is None, wrong.text
