"""python -m services.scoring (a service starts itself: importing services.serve, which knows
every service, would break the rule that services never import one another)."""

from services.scoring.app import create_app
from services.scoring.settings import ScoringSettings
from shared.web import run_service

if __name__ == "__main__":
    run_service(ScoringSettings(), create_app)
