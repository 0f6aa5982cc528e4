"""``python -m sandboxes.salesforce``: serve the Salesforce sandbox over HTTPS until stopped.

The HTTPS server listens on a private loopback socket; the public HOST:PORT is a relay in
front of it (``listener``) that an outage in "refuse" mode closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

import uvicorn
from fastapi import FastAPI

from sandboxes.salesforce.app import create_app
from sandboxes.salesforce.knobs import Knobs
from sandboxes.salesforce.listener import PublicPort
from sandboxes.salesforce.settings import SalesforceSandboxSettings
from sandboxes.salesforce.tls import CertificatePaths, ensure_certificates

log = logging.getLogger("sandboxes.salesforce")


async def serve(settings: SalesforceSandboxSettings, app: FastAPI,
                certificates: CertificatePaths) -> None:
    """Run the HTTPS server and its public port until the server is told to stop."""
    private = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    private.bind(("127.0.0.1", 0))
    private.listen(128)
    config = uvicorn.Config(app, ssl_certfile=str(certificates.cert_chain),
                            ssl_keyfile=str(certificates.key), access_log=False,
                            log_level="warning", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    knobs: Knobs = app.state.knobs
    port = PublicPort(settings.host, settings.port, private.getsockname()[1], knobs.refusing)
    await port.open()
    relay = asyncio.create_task(port.run(), name="public-port")
    try:
        await server.serve(sockets=[private])
    finally:
        relay.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relay


def main() -> None:
    """Make or reuse the certificates in DATA_DIR, then serve on HOST:PORT."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per Outbound Message
    settings = SalesforceSandboxSettings()
    certificates = ensure_certificates(settings.data_dir)
    app = create_app(settings)
    log.info("Salesforce sandbox listening on %s (trust %s)", settings.instance_url,
             certificates.ca.resolve())
    asyncio.run(serve(settings, app, certificates))


if __name__ == "__main__":
    main()
