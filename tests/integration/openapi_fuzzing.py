"""schemathesis over a service's own OpenAPI document, in process, with seeded state.

What every fuzz module shares: each operation, with valid and invalid input, gets no server
error and no answer its document does not describe (status code, content type, body); path
parameters are often swapped for ids the test seeded, so the requests reach past "not
found" into the routes' real work; and without a key every keyed operation answers 401.
Runs are derandomized: the same code gets the same requests.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx
import hypothesis.strategies as st
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import load_all_checks, not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
PUBLIC = frozenset({"GET /healthz", "GET /readyz", "GET /metrics"})
"""Probes and metrics answer without a key."""

# The app's background loops (consumer, relay) run in schemathesis' portal thread and may
# touch the global `random` while a case is drawn, which Hypothesis mistakes for a strategy
# using it: harmless here, since cases come from Hypothesis' own derandomized PRNG.
IGNORE_APP_THREAD_RANDOM = pytest.mark.filterwarnings(
    "ignore:Do not use the `random` module inside strategies"
)

Seed = Callable[[FastAPI, httpx.AsyncClient], Awaitable[None]]


def load_schema(app: FastAPI) -> Any:
    """The app's own OpenAPI document, as schemathesis sees it over ASGI.

    One rewrite, to the exact equivalent: a tuple of one type (`working_hours: tuple[str,
    str]` is `prefixItems: [string, string]`, two items) is spelled `items: string`, because
    schemathesis 4.32 turns `prefixItems` into a Draft 4 `items` list when it prepares a
    response schema, then checks that against Draft 2020-12 and fails every answer of the
    route ("Invalid Schema Object in response definition")."""
    app.openapi_schema = _same_type_tuples_as_items(app.openapi())
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def _same_type_tuples_as_items(node: Any) -> Any:
    if isinstance(node, list):
        return [_same_type_tuples_as_items(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _same_type_tuples_as_items(value) for key, value in node.items()}
    prefix = out.get("prefixItems")
    if (
        isinstance(prefix, list)
        and prefix
        and "items" not in out
        and all(item == prefix[0] for item in prefix)
        and out.get("minItems") == out.get("maxItems") == len(prefix)
    ):
        out["items"] = out.pop("prefixItems")[0]
    return out


def seed_on_start(app: FastAPI, seed: Seed) -> FastAPI:
    """Run `seed` once the app has started, inside its lifespan: schemathesis starts the
    lifespan on its own event loop, which the app's engine and broker clients are bound to.
    `seed` gets the app (for its use cases) and an HTTP client on it."""
    started = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        async with started(app) as state:
            app.state.keys.rate_per_second = app.state.keys.burst = 1e9  # faster than any client
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://seed") as http:
                await seed(app, http)
            yield state

    app.router.lifespan_context = lifespan
    return app


def _pinned(
    strategy: st.SearchStrategy[Any],
    pins: Mapping[str, Sequence[Any]],
    bodies: st.SearchStrategy[tuple[str, Any]] | None,
) -> st.SearchStrategy[Any]:
    """Cases whose path parameters are, more often than not, ids the test seeded, and whose
    body is, half the time, a realistic one (media type, body) when the test gives some."""

    @st.composite
    def pinned(draw: st.DrawFn) -> Any:
        case = draw(strategy)
        for name in list(case.path_parameters or {}):
            seeded = pins.get(name)
            if seeded and draw(st.integers(0, 3)) > 0:
                case.path_parameters[name] = draw(st.sampled_from(list(seeded)))
        if bodies is not None and draw(st.booleans()):
            case.media_type, case.body = draw(bodies)
        return case

    return pinned()


def fuzz(
    schema: Any,
    headers: dict[str, str],
    *,
    examples: int,
    pins: Mapping[str, Sequence[Any]] | None = None,
    pins_by_operation: Mapping[str, Mapping[str, Sequence[Any]]] | None = None,
    bodies: Mapping[str, st.SearchStrategy[tuple[str, Any]]] | None = None,
    min_operations: int = 1,
) -> dict[str, Counter[int]]:
    """Every operation, valid and invalid input, `examples` cases each; per operation label,
    how often each status code was answered (so a test can see seeded rows were reached).

    `pins` maps a path parameter's name to seeded values; `pins_by_operation` does the same
    for one operation (by label), e.g. to give each state-changing report its own lead;
    `bodies` maps an operation's label to realistic (media type, body) pairs."""
    load_all_checks()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= min_operations, [op.label for op in operations]
    # DELETE last, so the seeded rows it removes are there for every other operation.
    operations.sort(key=lambda op: op.method.upper() == "DELETE")
    answered: dict[str, Counter[int]] = {op.label: Counter() for op in operations}
    for operation in operations:
        for mode in MODES:
            strategy = _pinned(
                operation.as_strategy(generation_mode=mode),
                {**(pins or {}), **(pins_by_operation or {}).get(operation.label, {})},
                (bodies or {}).get(operation.label),
            )

            @given(case=strategy)
            @settings(
                max_examples=examples,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def check(case: Any) -> None:
                response = case.call(headers=headers)
                answered[case.operation.label][response.status_code] += 1
                case.validate_response(response, checks=CHECKS, headers=headers)

            try:
                check()
            except Unsatisfiable:
                continue  # nothing invalid to send (no parameters, no body)
            except Exception as exc:
                raise AssertionError(f"{operation.label} ({mode.value}): {exc}") from exc
    return answered


def _is_json(body: bytes | str | None) -> bool:
    if body is None:
        return True
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


def fuzz_without_a_key(schema: Any, *, examples: int) -> None:
    """Every keyed operation answers 401 (documented, never a 5xx), whatever is sent; but a
    body that is not JSON at all is a 400 on routes that take JSON (FastAPI parses it first;
    nothing past the parse runs)."""
    load_all_checks()
    for operation in (result.ok() for result in schema.get_all_operations()):
        if operation.label in PUBLIC:
            continue
        for mode in MODES:

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=examples,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def check(case: Any) -> None:
                response = case.call()
                case.validate_response(response, checks=CHECKS)
                if response.status_code == 400 and not _is_json(response.request.body):
                    return  # FastAPI parses a JSON body before any dependency, the key's too
                assert response.status_code == 401, (response.status_code, response.text[:300])

            try:
                check()
            except Unsatisfiable:
                continue
            except Exception as exc:
                raise AssertionError(f"{operation.label} ({mode.value}, no key): {exc}") from exc
