"""Settings every service shares; each service adds its own.

Every field is read as LEADRELAY_<SERVICE>_<FIELD> first, then as the shared
LEADRELAY_<FIELD>. STYLE.md's `validation_alias` recipe gave the shared name precedence
over the service's own once `populate_by_name` was on (a test pins the order we want), so
the precedence is built from two environment sources instead.
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import Field, model_validator
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

SHARED_PREFIX = "LEADRELAY_"


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=SHARED_PREFIX, env_file=".env", extra="ignore", frozen=True
    )

    service: str = "leadrelay"
    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str = "sqlite+aiosqlite:///./.leadrelay/leadrelay.db"
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_fetch_max_wait_ms: int = Field(
        10,
        ge=0,
        description="how long the broker may hold a fetch (Tansu always holds it "
        "this long): every consumer hop waits up to this",
    )
    kafka_background_fetch_wait_ms: int = Field(
        250,
        ge=0,
        description="the same for consumers off the lead's path (intake's "
        "erasure confirmations): fewer empty fetches for the broker and the service",
    )
    kafka_max_partition_fetch_bytes: int = Field(
        262_144,
        gt=0,
        description="per partition per fetch; with the total below, bounds "
        "what a lagging consumer holds in memory (a fetch answers at least one batch)",
    )
    kafka_fetch_max_bytes: int = Field(1_048_576, gt=0, description="per fetch, all partitions")
    kafka_session_timeout_ms: int = Field(
        10_000,
        ge=1_000,
        description="consumer group session timeout (heartbeats every "
        "third of it, at most 3 s); Tansu also holds a group's join for half of it",
    )
    kafka_partitions: int = 3
    kafka_request_timeout_ms: int = 10_000
    consumer_batch_size: int = 500
    outbox_batch_size: int = 500
    outbox_poll_seconds: float = 1.0
    pg_upkeep_seconds: float = Field(
        10.0,
        ge=0,
        description="PostgreSQL with autovacuum off: how often the service vacuums and "
        "analyzes its own tables by autovacuum's rules; 0: never",
    )
    keys_file: str = ".leadrelay/keys.json"
    log_level: str = "INFO"
    max_body_bytes: int = 1_048_576
    rate_limit_per_second: float = Field(
        100.0, gt=0, description="requests per second per API key (token bucket refill)"
    )
    rate_limit_burst: float = Field(200.0, ge=1, description="requests one key may burst")
    key_wait_seconds: float = Field(
        30.0,
        gt=0,
        description="how long an event waits for its lead's data key before the DLQ; at "
        "least twice the session timeout (a key on a dead replica's partition comes only "
        "once its group notices and reassigns the partition)",
    )

    @model_validator(mode="before")
    @classmethod
    def _key_wait(cls, data: Any) -> Any:
        """Unset, the key wait is 30 s or twice the session timeout, whichever is longer (a
        deployment that raises the session timeout need not raise the key wait as well)."""
        if not isinstance(data, dict) or data.get("key_wait_seconds") is not None:
            return data
        try:
            session_ms = int(data.get("kafka_session_timeout_ms", 10_000))
        except (TypeError, ValueError):
            return data  # the field's own validation names it
        return {**data, "key_wait_seconds": max(30.0, 2 * session_ms / 1000)}

    @model_validator(mode="after")
    def _keys_outwait_a_rebalance(self) -> Self:
        """A replica killed mid-run holds its `leads.keys` partitions until the group notices
        (one session timeout) and rejoins (Tansu holds the join another half). A shorter key
        wait dead-letters live leads whose keys are merely on their way: refused at start
        when set that short (left unset, it follows the session timeout: `_key_wait`)."""
        floor = 2 * self.kafka_session_timeout_ms / 1000
        if self.key_wait_seconds < floor:
            raise ValueError(
                f"key_wait_seconds ({self.key_wait_seconds:g}) must be at least twice "
                f"kafka_session_timeout_ms ({self.kafka_session_timeout_ms} ms), so {floor:g} "
                "or more: a key on a dead replica's partition comes only after a rebalance"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Own prefix (env, then .env) before the shared LEADRELAY_ prefix (env, then .env)."""
        if cls.model_config.get("env_prefix") == SHARED_PREFIX:
            return init_settings, env_settings, dotenv_settings, file_secret_settings
        env_file = cls.model_config.get("env_file")
        return (
            init_settings,
            env_settings,
            dotenv_settings,
            EnvSettingsSource(settings_cls, env_prefix=SHARED_PREFIX),
            DotEnvSettingsSource(settings_cls, env_file=env_file, env_prefix=SHARED_PREFIX),
            file_secret_settings,
        )
