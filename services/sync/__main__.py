"""``python -m services.sync``: run one sync worker until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import signal

from services.logging_setup import configure_logging
from services.sync.field_mapping import load_mapping
from services.sync.hubspot_writer import HubSpotWriter
from services.sync.salesforce_writer import SalesforceWriter
from services.sync.settings import SyncSettings
from services.sync.worker import SyncWorker


async def _serve() -> None:
    settings = SyncSettings()
    worker = SyncWorker(settings, load_mapping(settings.mapping_file),
                        SalesforceWriter(settings), HubSpotWriter(settings))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await worker.run(stop)


def main() -> None:
    """Run the worker."""
    configure_logging("sync")
    asyncio.run(_serve())


if __name__ == "__main__":
    main()
