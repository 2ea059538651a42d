"""Intake against real Tansu and a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from services.intake.app import create_app
from services.intake.settings import IntakeSettings
from services.intake.tables import idempotency_keys, leads, plumbing
from shared.auth import KeyStore
from tests.infra import running, service_env

HOOK_SECRET = "mautic-test-secret"

FORMS_YAML = """
forms:
  contact:
    name: Contact us
    allowed_origins: ["https://www.example.com"]
    thank_you_url: https://www.example.com/thanks
    honeypot: website
    campaign_id: site-contact
    fields:
      work_email: email
      newsletter: consent.marketing_email
      employees: attributes.employees
  signup:
    allowed_origins: ["*"]
    error_url: https://www.example.com/oops
"""


@dataclass
class Intake:
    """A running intake: its app (for the database), a client, and keys of each kind."""

    app: FastAPI
    client: httpx.AsyncClient
    keys: KeyStore
    admin: dict[str, str]
    db_url: str

    def key(self, *scopes: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys.create('test', list(scopes))}"}

    async def stored(self) -> dict[str, int]:
        """Rows in intake's tables: what a refused request must not have added to."""
        async with self.app.state.runtime.sessionmaker() as session:
            counts = {}
            for name, table in (
                ("leads", leads),
                ("outbox", plumbing.outbox.table),
                ("keys", idempotency_keys),
            ):
                counts[name] = int(
                    (await session.execute(select(func.count()).select_from(table))).scalar_one()
                )
            return counts


@contextlib.asynccontextmanager
async def an_intake(
    db_url: str, broker: str, keys_file: Path, tmp_path: Path, **extra: Any
) -> AsyncIterator[Intake]:
    forms_file = tmp_path / "forms.yaml"
    if not forms_file.exists():
        forms_file.write_text(FORMS_YAML)
    # Tests post faster than a client may; the rate-limit test sets its own limits.
    extra.setdefault("rate_limit_per_second", 10_000.0)
    extra.setdefault("rate_limit_burst", 10_000.0)
    settings = IntakeSettings(
        **service_env(
            db_url,
            broker,
            keys_file,
            forms_file=str(forms_file),
            hook_secrets={"mautic": HOOK_SECRET},
            kafka_request_timeout_ms=2000,
            **extra,
        )
    )
    app = create_app(settings)
    keys = KeyStore(keys_file)
    admin = {"Authorization": f"Bearer {keys.create('test admin', ['admin'])}"}
    async with running(app) as client:
        yield Intake(app, client, keys, admin, db_url)


@pytest.fixture
async def intake(
    db_urls: dict[str, str], broker: str, keys_file: Path, tmp_path: Path
) -> AsyncIterator[Intake]:
    """Intake on each backend, with the test forms and a Mautic secret."""
    async with an_intake(db_urls["intake"], broker, keys_file, tmp_path) as running_intake:
        yield running_intake


@pytest.fixture
async def sqlite_intake(broker: str, keys_file: Path, tmp_path: Path) -> AsyncIterator[Intake]:
    """Intake on SQLite only, for tests about HTTP behaviour rather than storage."""
    url = f"sqlite+aiosqlite:///{tmp_path}/intake.db"
    async with an_intake(url, broker, keys_file, tmp_path) as running_intake:
        yield running_intake
