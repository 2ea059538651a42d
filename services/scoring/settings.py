"""Scoring's settings: LEADRELAY_SCORING_<FIELD>, else the shared LEADRELAY_<FIELD>."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


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
    database_url: str = "sqlite+aiosqlite:///./.leadrelay/scoring.db"
    contract_file: str = Field(
        "contracts/default.yaml", description="activated on first start when none is active"
    )
