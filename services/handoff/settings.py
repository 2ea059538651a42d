"""Handoff's settings: LEADRELAY_HANDOFF_<FIELD>, falling back to the shared LEADRELAY_<FIELD>."""

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
    # Each field reads LEADRELAY_HANDOFF_<FIELD>, then LEADRELAY_<FIELD> (shared/settings.py).
    database_url: str = "sqlite+aiosqlite:///./.leadrelay/handoff.db"
    reps_file: str = Field("contracts/reps.yaml", description="seed reps and teams on start")
    default_team: str = Field("na", description="team for leads no routing rule matched")
    scan_seconds: float = Field(1.0, gt=0, description="how often the SLA scanner looks")
    scan_batch_size: int = Field(200, ge=1, description="due SLA timers claimed per transaction")
    attempt_clock_skew_seconds: float = Field(
        300, ge=0, description="how far in the future a reported attempt or outcome may be"
    )
    webhook_poll_seconds: float = Field(1.0, gt=0, description="how often due deliveries go out")
    webhook_max_attempts: int = Field(12, ge=1, description="tries before a dead letter")
    webhook_backoff_seconds: float = Field(15.0, gt=0, description="first retry delay, doubled")
    webhook_backoff_max_seconds: float = Field(6 * 3600.0, gt=0, description="longest delay")
    webhook_timeout_seconds: float = Field(10.0, gt=0, description="per delivery request")
    webhook_batch_size: int = Field(50, ge=1, description="deliveries leased per pass")
    webhook_concurrency: int = Field(10, ge=1, description="deliveries in flight at once")
    # The reports compare against the contract's quota terms; scoring keeps the contract and
    # `lead.scored` carries only its version, so handoff reads the terms from the same file.
    contract_file: str = Field(
        "contracts/default.yaml",
        description="contract whose quota (qualified_per_month, pipeline_share, revenue_share) "
        "the reports compare against",
    )
    report_currency: str = Field(
        "USD",
        pattern=r"^[A-Z]{3}$",
        description="currency of pipeline, revenue and totals in the reports (no FX conversion)",
    )
