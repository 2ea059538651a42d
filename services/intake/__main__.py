"""python -m services.intake (a service starts itself: importing services.serve, which knows
every service, would break the rule that services never import one another)."""

from services.intake.app import create_app
from services.intake.settings import IntakeSettings
from shared.web import run_service

if __name__ == "__main__":
    run_service(IntakeSettings(), create_app)
