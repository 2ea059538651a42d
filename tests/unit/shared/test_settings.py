"""Settings: shared names once, a service's own name wins (pydantic-settings quirk pinned)."""

from __future__ import annotations

import pytest

from services.handoff.settings import HandoffSettings
from services.intake.settings import IntakeSettings
from services.scoring.settings import ScoringSettings


def test_shared_kafka_setting_is_read_without_the_service_prefix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEADRELAY_KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    monkeypatch.setenv("LEADRELAY_KAFKA_FETCH_MAX_WAIT_MS", "7")
    s = IntakeSettings()
    assert s.kafka_bootstrap_servers == "kafka:9092"
    assert s.kafka_fetch_max_wait_ms == 7


def test_a_service_own_value_wins_over_the_shared_one_for_every_field(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEADRELAY_KAFKA_BOOTSTRAP_SERVERS", "shared:9092")
    monkeypatch.setenv("LEADRELAY_INTAKE_KAFKA_BOOTSTRAP_SERVERS", "own:9092")
    assert IntakeSettings().kafka_bootstrap_servers == "own:9092"
    assert ScoringSettings().kafka_bootstrap_servers == "shared:9092"


def test_settings_passed_by_field_name_win_over_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEADRELAY_DATABASE_URL", "postgresql+asyncpg://db/shared")
    assert IntakeSettings(database_url="sqlite+aiosqlite:///x.db").database_url.endswith("x.db")


def test_a_service_database_url_overrides_the_shared_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADRELAY_DATABASE_URL", "postgresql+asyncpg://db/shared")
    monkeypatch.setenv("LEADRELAY_HANDOFF_DATABASE_URL", "postgresql+asyncpg://db/handoff")
    assert HandoffSettings().database_url == "postgresql+asyncpg://db/handoff"
    assert ScoringSettings().database_url == "postgresql+asyncpg://db/shared"


def test_each_service_has_its_own_port_and_sqlite_file_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("LEADRELAY_DATABASE_URL", "LEADRELAY_INTAKE_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    assert (IntakeSettings().port, ScoringSettings().port, HandoffSettings().port) == (
        8001,
        8002,
        8003,
    )
    assert IntakeSettings().database_url.endswith("/intake.db")


def test_service_prefixed_plain_fields_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADRELAY_SCORING_PORT", "9100")
    monkeypatch.setenv("LEADRELAY_SCORING_CONTRACT_FILE", "/etc/leadrelay/contract.yaml")
    s = ScoringSettings()
    assert s.port == 9100
    assert s.contract_file == "/etc/leadrelay/contract.yaml"


def test_a_key_wait_shorter_than_a_rebalance_is_refused_naming_both_fields(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A replica that dies holds its keys partitions for a session timeout and a rejoin; a
    key wait shorter than that would dead-letter live leads whose keys are on their way."""
    monkeypatch.setenv("LEADRELAY_KEY_WAIT_SECONDS", "3")
    with pytest.raises(ValueError, match=r"key_wait_seconds \(3\).*kafka_session_timeout_ms"):
        ScoringSettings()
    monkeypatch.setenv("LEADRELAY_KAFKA_SESSION_TIMEOUT_MS", "1500")
    assert ScoringSettings().key_wait_seconds == 3


def test_the_default_key_wait_follows_a_long_session_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEADRELAY_KAFKA_SESSION_TIMEOUT_MS", "45000")  # Apache Kafka's default
    assert ScoringSettings().key_wait_seconds == 90
    monkeypatch.setenv("LEADRELAY_KAFKA_SESSION_TIMEOUT_MS", "10000")
    assert ScoringSettings().key_wait_seconds == 30
