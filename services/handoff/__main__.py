"""python -m services.handoff (a service starts itself: importing services.serve, which knows
every service, would break the rule that services never import one another)."""

from services.handoff.app import create_app
from services.handoff.settings import HandoffSettings
from shared.web import run_service

if __name__ == "__main__":
    run_service(HandoffSettings(), create_app)
