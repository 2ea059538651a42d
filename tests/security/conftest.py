"""The three services in-process on one broker, one keys file and SQLite, with a key of every
kind; shared by a module's tests (starting the services costs seconds)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.handoff.app import create_app as handoff_app
from services.handoff.settings import HandoffSettings
from services.intake.app import create_app as intake_app
from services.intake.settings import IntakeSettings
from services.scoring.app import create_app as scoring_app
from services.scoring.settings import ScoringSettings
from shared.auth import KeyStore
from shared.tansu import free_port, start_tansu
from tests.infra import running, service_env

FORM_ID = "contact"
OTHER_FORM_ID = "other"
FORMS_YAML = f"""
forms:
  {FORM_ID}:
    name: Contact us
    allowed_origins: ["*"]
    fields:
      work_email: email
  {OTHER_FORM_ID}:
    allowed_origins: ["*"]
"""
HOOK_SECRET = "mautic-security-test-secret"

KEY_SCOPES: dict[str, list[str]] = {
    "intake": ["intake"],
    "sales": ["sales"],
    "admin": ["admin"],
    "form": [f"form:{FORM_ID}"],
}
"""The key kinds every route is tried with: the three scopes and a form's public key."""


@dataclass
class Stack:
    apps: dict[str, FastAPI]
    clients: dict[str, httpx.AsyncClient]
    keys: dict[str, str]
    """Plain keys by kind (KEY_SCOPES), plus `revoked` and `wrong_secret`."""
    keys_file: Path
    broker: str


def write_forms(tmp: Path) -> Path:
    path = tmp / "forms.yaml"
    path.write_text(FORMS_YAML)
    return path


def make_keys(keys_file: Path) -> dict[str, str]:
    """A key of every kind; a revoked key and a real key id with a wrong secret too. All of
    it is written before any service reads the file (services re-read it once a second)."""
    store = KeyStore(keys_file)
    keys = {kind: store.create(f"security {kind}", scopes) for kind, scopes in KEY_SCOPES.items()}
    revoked = store.create("security revoked", ["admin"])
    store.revoke(revoked.split("_", 2)[1])
    keys["revoked"] = revoked
    key_id = keys["admin"].split("_", 2)[1]
    keys["wrong_secret"] = f"lr_{key_id}_{'A' * 43}"
    return keys


@pytest.fixture(scope="module")
def module_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    proc = start_tansu(port, log=tmp_path_factory.mktemp("tansu") / "tansu.log")
    try:
        yield f"127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait()


def build_apps(tmp: Path, broker: str, keys_file: Path, **intake_extra: Any) -> dict[str, FastAPI]:
    """The three apps on SQLite files under `tmp`, each with its own settings."""

    def env(service: str, **extra: Any) -> dict[str, Any]:
        return service_env(
            f"sqlite+aiosqlite:///{tmp}/{service}.db",
            broker,
            keys_file,
            kafka_request_timeout_ms=2000,
            **extra,
        )

    intake_extra.setdefault("rate_limit_per_second", 10_000.0)
    intake_extra.setdefault("rate_limit_burst", 10_000.0)
    return {
        "intake": intake_app(
            IntakeSettings(
                **env(
                    "intake",
                    forms_file=str(write_forms(tmp)),
                    hook_secrets={"mautic": HOOK_SECRET},
                    **intake_extra,
                )
            )
        ),
        "scoring": scoring_app(ScoringSettings(**env("scoring"))),
        "handoff": handoff_app(
            HandoffSettings(
                **env("handoff", reps_file=str(tmp / "no-reps.yaml"), scan_seconds=3600)
            )
        ),
    }


@contextlib.asynccontextmanager
async def a_stack(tmp: Path, broker: str, **intake_extra: Any) -> AsyncIterator[Stack]:
    keys_file = tmp / "keys.json"
    keys = make_keys(keys_file)
    apps = build_apps(tmp, broker, keys_file, **intake_extra)
    async with contextlib.AsyncExitStack() as stack:
        clients = {
            name: await stack.enter_async_context(running(app)) for name, app in apps.items()
        }
        yield Stack(apps, clients, keys, keys_file, broker)


@pytest.fixture(scope="module")
async def stack(
    module_broker: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    async with a_stack(tmp_path_factory.mktemp("stack"), module_broker) as running_stack:
        yield running_stack
