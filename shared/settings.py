"""Settings every service shares; each service adds its own with a LEADRELAY_<SERVICE>_ prefix.

Shared values are read once as LEADRELAY_<FIELD> through `validation_alias`, because
pydantic-settings does not apply a service's `env_prefix` to aliased fields.
"""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _alias(service: str, field: str) -> AliasChoices:
    """The service's own name first, then the shared one."""
    return AliasChoices(f"LEADRELAY_{service}_{field}", f"LEADRELAY_{field}")


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", frozen=True, populate_by_name=True
    )

    service: str = "leadrelay"
    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str = "sqlite+aiosqlite:///./.leadrelay/leadrelay.db"
    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092", validation_alias="LEADRELAY_KAFKA_BOOTSTRAP_SERVERS"
    )
    kafka_fetch_max_wait_ms: int = Field(
        10, ge=1, le=5000, validation_alias="LEADRELAY_KAFKA_FETCH_MAX_WAIT_MS"
    )
    kafka_partitions: int = Field(3, ge=1, validation_alias="LEADRELAY_KAFKA_PARTITIONS")
    kafka_request_timeout_ms: int = Field(
        10_000, validation_alias="LEADRELAY_KAFKA_REQUEST_TIMEOUT_MS"
    )
    consumer_batch_size: int = Field(500, ge=1, validation_alias="LEADRELAY_CONSUMER_BATCH_SIZE")
    outbox_batch_size: int = Field(500, ge=1, validation_alias="LEADRELAY_OUTBOX_BATCH_SIZE")
    outbox_poll_seconds: float = Field(1.0, gt=0, validation_alias="LEADRELAY_OUTBOX_POLL_SECONDS")
    keys_file: str = Field(".leadrelay/keys.json", validation_alias="LEADRELAY_KEYS_FILE")
    log_level: str = Field("INFO", validation_alias="LEADRELAY_LOG_LEVEL")
    max_body_bytes: int = Field(1_048_576, validation_alias="LEADRELAY_MAX_BODY_BYTES")
