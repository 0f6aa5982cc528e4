"""Run the HubSpot sandbox: ``python -m sandboxes.hubspot`` from the repository root."""

from __future__ import annotations

import logging

import uvicorn

from sandboxes.hubspot.app import create_app
from sandboxes.hubspot.settings import HubSpotSandboxSettings

logger = logging.getLogger("sandboxes.hubspot")


def main() -> None:
    """Serve the CRM v3 API emulator over plain HTTP on the configured host and port."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = HubSpotSandboxSettings()
    app = create_app(settings)
    logger.info("HubSpot sandbox listening on %s (portal %s, data in %s)",
                settings.base_url, settings.portal_id, settings.database_path)
    logger.info("Webhooks: %s; limits %s calls per 10 s, %s a day",
                f"to {settings.webhook_target_url} as app {settings.app_id}"
                if settings.webhook_target_url else "off (HUBSPOT_SANDBOX_WEBHOOK_TARGET_URL)",
                settings.ten_second_limit, settings.daily_limit)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")


if __name__ == "__main__":
    main()
