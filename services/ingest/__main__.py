"""``python -m services.ingest``: serve ingest with uvloop and httptools, no access log."""

from __future__ import annotations

import uvicorn

from services.ingest.app import create_app
from services.ingest.settings import IngestSettings
from services.logging_setup import configure_logging


def main() -> None:
    """Run the ingest server until interrupted."""
    configure_logging("ingest")
    settings = IngestSettings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port,
                loop="uvloop", http="httptools", access_log=False, log_level="warning")


if __name__ == "__main__":
    main()
