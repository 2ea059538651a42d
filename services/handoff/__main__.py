"""python -m services.handoff

Built here rather than through services.serve, which imports every service: a service
package must not import the others (the import-linter independence contract)."""

import uvicorn

from services.handoff.app import create_app
from services.handoff.settings import HandoffSettings
from shared import logging as lr_logging


def main() -> None:
    settings = HandoffSettings()
    lr_logging.configure(settings.service, settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=15,
    )


if __name__ == "__main__":
    main()
