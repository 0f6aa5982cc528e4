"""``python -m sandboxes.salesforce``: serve the Salesforce sandbox over HTTPS until stopped."""

from __future__ import annotations

import logging

import uvicorn

from sandboxes.salesforce.app import create_app
from sandboxes.salesforce.settings import SalesforceSandboxSettings
from sandboxes.salesforce.tls import ensure_certificates

log = logging.getLogger("sandboxes.salesforce")


def main() -> None:
    """Make or reuse the certificates in DATA_DIR, then serve on HOST:PORT."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = SalesforceSandboxSettings()
    certificates = ensure_certificates(settings.data_dir)
    app = create_app(settings)
    log.info("Salesforce sandbox listening on %s (trust %s)", settings.instance_url,
             certificates.ca.resolve())
    uvicorn.run(app, host=settings.host, port=settings.port,
                ssl_certfile=str(certificates.cert_chain), ssl_keyfile=str(certificates.key),
                access_log=False, log_level="warning", timeout_graceful_shutdown=2)


if __name__ == "__main__":
    main()
