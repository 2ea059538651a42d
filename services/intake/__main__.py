"""python -m services.intake (without going through services.serve, which knows every
service: a service must not import the others, not even to be started)."""

import uvicorn

from services.intake.app import create_app
from services.intake.settings import IntakeSettings
from shared import logging as lr_logging

settings = IntakeSettings()
lr_logging.configure("intake", settings.log_level)
uvicorn.run(
    create_app(settings),
    host=settings.host,
    port=settings.port,
    log_config=None,
    access_log=False,
    timeout_graceful_shutdown=15,
)
