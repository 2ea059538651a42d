"""Intake's own settings are read as LEADRELAY_INTAKE_<FIELD> (the README's names)."""

from __future__ import annotations

import pytest

from services.intake.settings import IntakeSettings


def test_intake_settings_come_from_their_documented_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {
        "LEADRELAY_INTAKE_HOOK_SECRETS": '{"mautic": "s3cret"}',
        "LEADRELAY_INTAKE_RATE_LIMIT_PER_SECOND": "5",
        "LEADRELAY_INTAKE_RATE_LIMIT_BURST": "10",
        "LEADRELAY_INTAKE_BATCH_CHUNK_ROWS": "250",
        "LEADRELAY_INTAKE_MAX_BATCH_BYTES": "1000",
        "LEADRELAY_INTAKE_FORMS_FILE": "/etc/leadrelay/forms.yaml",
    }.items():
        monkeypatch.setenv(name, value)
    settings = IntakeSettings(_env_file=None)  # type: ignore[call-arg]
    assert settings.hook_secrets["mautic"].get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)
    assert (settings.rate_limit_per_second, settings.rate_limit_burst) == (5, 10)
    assert (settings.batch_chunk_rows, settings.max_batch_bytes) == (250, 1000)
    assert settings.forms_file == "/etc/leadrelay/forms.yaml"


def test_without_variables_no_webhook_is_on_and_limits_are_generous() -> None:
    settings = IntakeSettings(_env_file=None)  # type: ignore[call-arg]
    assert settings.hook_secrets == {}
    assert settings.max_batch_bytes == 200 * 1024 * 1024
    assert settings.batch_chunk_rows == 500
