"""Handoff's settings: LEADRELAY_HANDOFF_<FIELD>, else the shared LEADRELAY_<FIELD>."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class HandoffSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="LEADRELAY_HANDOFF_",
        env_file=".env",
        extra="ignore",
        frozen=True,
        populate_by_name=True,
    )
    service: str = "handoff"
    port: int = 8003
    database_url: str = "sqlite+aiosqlite:///./.leadrelay/handoff.db"
    reps_file: str = Field("contracts/reps.yaml", description="seed reps and teams on start")
    default_team: str = Field("na", description="team for leads no routing rule matched")
    scan_seconds: float = Field(1.0, gt=0, description="how often the SLA scanner looks")
