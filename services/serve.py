"""Start one service: settings from the environment, uvicorn in the foreground."""

from __future__ import annotations

from typing import Any

from shared.web import run_service

SERVICES = ("intake", "scoring", "handoff")


def build(name: str, port: int | None = None) -> tuple[Any, Any]:
    """(settings, app) for a service, configured only by the environment."""
    if name == "intake":
        from services.intake.app import create_app as intake_app
        from services.intake.settings import IntakeSettings

        s: Any = IntakeSettings()
        s = s.model_copy(update={"port": port}) if port else s
        return s, intake_app(s)
    if name == "scoring":
        from services.scoring.app import create_app as scoring_app
        from services.scoring.settings import ScoringSettings

        s = ScoringSettings()
        s = s.model_copy(update={"port": port}) if port else s
        return s, scoring_app(s)
    if name == "handoff":
        from services.handoff.app import create_app as handoff_app
        from services.handoff.settings import HandoffSettings

        s = HandoffSettings()
        s = s.model_copy(update={"port": port}) if port else s
        return s, handoff_app(s)
    raise ValueError(f"unknown service {name!r}; one of {', '.join(SERVICES)}")


def serve(name: str, port: int | None = None) -> None:
    settings, app = build(name, port)
    run_service(settings, lambda _settings: app)
