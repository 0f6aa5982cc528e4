"""The whole system on real processes, started by the same launcher as `make run`, with the
loop closed: the CRM sandboxes send webhooks and Outbound Messages to ingest."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

from deploy.local.launcher import LocalSystem, local_environment
from tests.conftest import Broker, free_port
from tests.e2e.crm_clients import API_KEY


@pytest.fixture(scope="module")
def system(kafka_broker: Broker, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[LocalSystem]:
    """Every Accord process, started by the same launcher as `make run`, on free ports."""
    tmp = tmp_path_factory.mktemp("e2e")
    sf_port, hs_port, ingest_port = free_port(), free_port(), free_port()
    env = local_environment({
        "ACCORD_KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap_servers,
        "ACCORD_KAFKA_TOPIC_PREFIX": f"e2e-{uuid.uuid4().hex[:8]}.",
        "ACCORD_INGEST_PORT": str(ingest_port),
        "ACCORD_INGEST_API_KEYS": json.dumps([API_KEY]),
        "SALESFORCE_SANDBOX_PORT": str(sf_port),
        "SALESFORCE_SANDBOX_DATA_DIR": str(tmp / "salesforce"),
        "HUBSPOT_SANDBOX_PORT": str(hs_port),
        "HUBSPOT_SANDBOX_DATA_DIR": str(tmp / "hubspot"),
        "ACCORD_SYNC_SALESFORCE_TOKEN_URL": f"https://127.0.0.1:{sf_port}/services/oauth2/token",
        "ACCORD_SYNC_SALESFORCE_CA_BUNDLE": str(tmp / "salesforce" / "ca.pem"),
        "ACCORD_SYNC_HUBSPOT_BASE_URL": f"http://127.0.0.1:{hs_port}",
        # The loop closed, as in `make run`: changes in either CRM come back through ingest.
        "ACCORD_INGEST_PUBLIC_BASE_URL": f"http://127.0.0.1:{ingest_port}",
        "HUBSPOT_SANDBOX_WEBHOOK_TARGET_URL": f"http://127.0.0.1:{ingest_port}/webhooks/hubspot",
        "SALESFORCE_SANDBOX_OUTBOUND_MESSAGE_URL":
            f"http://127.0.0.1:{ingest_port}/webhooks/salesforce/outbound",
    })
    local = LocalSystem(env, log_dir=tmp / "logs")
    try:
        local.start()
        yield local
    finally:
        local.stop()


