"""Intake's settings: LEADRELAY_INTAKE_<FIELD>, else the shared LEADRELAY_<FIELD>."""

from __future__ import annotations

from pydantic import Field
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
    database_url: str = "sqlite+aiosqlite:///./.leadrelay/intake.db"
    dedupe_window_hours: float = Field(24 * 30, ge=0, description="same person within this merges")
    max_batch_bytes: int = Field(200 * 1024 * 1024, description="upper bound for a batch upload")
    forms_file: str = "forms.yaml"
