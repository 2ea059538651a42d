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
    contract_cache_seconds: float = Field(
        1.0,
        ge=0,
        description="how long a replica trusts its idea of the active version before asking "
        "the database again (another replica may have activated one)",
    )
    simulation_page_size: int = Field(
        1000, ge=1, le=100_000, description="stored leads read and evaluated per page"
    )
