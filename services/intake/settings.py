"""Intake's settings: LEADRELAY_INTAKE_<FIELD>, falling back to the shared LEADRELAY_<FIELD>."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="LEADRELAY_INTAKE_",
        env_file=".env",
        extra="ignore",
        frozen=True,
        populate_by_name=True,
    )
    service: str = "intake"
    port: int = 8001
    # Every field reads LEADRELAY_INTAKE_<FIELD> first, then LEADRELAY_<FIELD> (shared/settings.py).
    database_url: str = "sqlite+aiosqlite:///./.leadrelay/intake.db"
    dedupe_window_hours: float = Field(24 * 30, ge=0, description="same person within this merges")
    max_batch_bytes: int = Field(
        200 * 1024 * 1024, ge=1, description="upper bound for one batch upload (413 above it)"
    )
    batch_chunk_rows: int = Field(
        500, ge=1, le=5000, description="batch rows stored per transaction (memory stays flat)"
    )
    forms_file: str = Field("forms.yaml", description="form definitions applied on start")
    hook_secrets: dict[str, SecretStr] = Field(
        default_factory=dict,
        description='webhook secrets by tool, JSON: {"mautic": "..."}; a tool without one is off',
    )
