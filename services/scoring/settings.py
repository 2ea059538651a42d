"""Scoring's settings: LEADRELAY_SCORING_<FIELD>, falling back to LEADRELAY_<FIELD>."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings, _alias


class ScoringSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="LEADRELAY_SCORING_",
        env_file=".env",
        extra="ignore",
        frozen=True,
        populate_by_name=True,
    )
    service: str = "scoring"
    port: int = 8002
    database_url: str = Field(
        "sqlite+aiosqlite:///./.leadrelay/scoring.db",
        validation_alias=_alias("SCORING", "DATABASE_URL"),
    )
    contract_file: str = Field(
        "contracts/default.yaml", description="activated on first start when none is active"
    )
