"""schemathesis over intake's own OpenAPI document, in process: no input it can generate,
valid or not, gets a server error or an answer the document does not describe."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import load_all_checks, not_a_server_error
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services.intake.app import create_app
from services.intake.settings import IntakeSettings
from shared.auth import KeyStore
from tests.infra import service_env
from tests.integration.intake.conftest import FORMS_YAML, HOOK_SECRET

EXAMPLES = int(os.environ.get("LEADRELAY_FUZZ_EXAMPLES", "40"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@schemathesis.serializer("text/csv", "application/x-ndjson")
def _as_text(ctx: Any, value: Any) -> dict[str, Any]:
    return {"data": value.encode() if isinstance(value, str) else str(value).encode()}


@pytest.fixture
def intake_schema(broker: str, keys_file: Path, tmp_path: Path) -> Iterator[Any]:
    (tmp_path / "forms.yaml").write_text(FORMS_YAML)
    settings = IntakeSettings(
        **service_env(
            f"sqlite+aiosqlite:///{tmp_path}/intake.db",
            broker,
            keys_file,
            forms_file=str(tmp_path / "forms.yaml"),
            hook_secrets={"mautic": HOOK_SECRET},
            rate_limit_per_second=10_000,
            rate_limit_burst=10_000,
        )
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(settings))
    try:
        yield schema
    finally:
        shutdown_lifespans()  # the app's lifespan runs in schemathesis' own event loop


def _readiness(operation: Any) -> bool:
    return bool(operation.method.upper() == "GET" and operation.path == "/readyz")


def test_no_generated_request_gets_a_server_error_or_an_undocumented_answer(
    intake_schema: Any, keys_file: Path
) -> None:
    load_all_checks()
    auth = {"Authorization": f"Bearer {KeyStore(keys_file).create('fuzz', ['admin'])}"}
    operations = [result.ok() for result in intake_schema.get_all_operations()]
    assert len(operations) >= 10
    for operation in operations:
        # /readyz answers its documented 503 while the broker connection is still starting
        # (seen in CI): "not ready" is its job, not a server error.
        checks = [c for c in CHECKS if c is not not_a_server_error or not _readiness(operation)]
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def check(case: Any) -> None:
                response = case.call(headers=auth)
                case.validate_response(response, checks=checks, headers=auth)  # noqa: B023 - run within this iteration

            try:
                check()
            except Unsatisfiable:
                continue  # nothing invalid to send (no parameters, no body)
            except Exception as exc:
                raise AssertionError(f"{operation.label} ({mode.value}): {exc}") from exc
