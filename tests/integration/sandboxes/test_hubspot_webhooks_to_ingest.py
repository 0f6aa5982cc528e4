"""The HubSpot sandbox's webhooks reach a real ingest process, which puts them on Kafka."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

import hubspot
import pytest
from aiokafka import AIOKafkaConsumer
from hubspot.crm.contacts import SimplePublicObjectInputForCreate

from services.messaging.settings import KafkaSettings
from services.messaging.topics import CRM_CHANGES
from tests.integration.sandboxes.hubspot_fixture import HubSpotSandbox, start_hubspot_sandbox
from tests.integration.service_processes import start_ingest

pytestmark = pytest.mark.integration

APP_ID = 4400001
SECRET = "sandbox-to-ingest-secret"
PORTAL = 62515


@pytest.fixture(scope="module")
def ingest_url(kafka: KafkaSettings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url, process = start_ingest(kafka, tmp_path_factory.mktemp("hs-ingest") / "ingest.log", {
        "ACCORD_INGEST_HUBSPOT_CLIENT_SECRET": SECRET,
        "ACCORD_INGEST_HUBSPOT_APP_ID": str(APP_ID),
        "ACCORD_INGEST_HUBSPOT_PORTAL_IDS": json.dumps([PORTAL]),
    })
    try:
        yield url
    finally:
        process.stop()


@pytest.fixture(scope="module")
def sandbox(ingest_url: str,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubSpotSandbox]:
    started = start_hubspot_sandbox(tmp_path_factory.mktemp("hs-to-ingest") / "data", {
        "HUBSPOT_SANDBOX_WEBHOOK_TARGET_URL": f"{ingest_url}/webhooks/hubspot",
        "HUBSPOT_SANDBOX_APP_ID": str(APP_ID),
        "HUBSPOT_SANDBOX_CLIENT_SECRET": SECRET,
        "HUBSPOT_SANDBOX_PORTAL_ID": str(PORTAL),
    })
    try:
        yield started
    finally:
        started.stop()


async def changes_for(kafka: KafkaSettings, key: bytes, count: int,
                      within: float = 30.0) -> list[dict[str, Any]]:
    consumer = AIOKafkaConsumer(kafka.topic(CRM_CHANGES), bootstrap_servers=kafka.bootstrap_servers,
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                group_id=f"reader-{uuid.uuid4().hex[:8]}")
    await consumer.start()
    found: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(within):
            while len(found) < count:
                for messages in (await consumer.getmany(timeout_ms=300)).values():
                    found.extend(json.loads(m.value) for m in messages if m.key == key)
    finally:
        await consumer.stop()
    return found


async def test_given_api_and_rep_changes_when_sent_to_ingest_then_each_event_on_kafka(
        sandbox: HubSpotSandbox, kafka: KafkaSettings):
    client = hubspot.Client.create(access_token=sandbox.access_token, host=sandbox.base_url)
    contact = await asyncio.to_thread(
        client.crm.contacts.basic_api.create,
        simple_public_object_input_for_create=SimplePublicObjectInputForCreate(
            properties={"email": f"ingest.{uuid.uuid4().hex[:8]}@example.com"}))
    await asyncio.to_thread(sandbox.admin, "POST", f"rep/contacts/{contact.id}",
                            {"properties": {"lifecyclestage": "opportunity"}})

    changes = await changes_for(kafka, f"hubspot:{PORTAL}:contact:{contact.id}".encode(), 3)

    assert sorted((c["subscription_type"], c["change_source"]) for c in changes) == [
        ("contact.creation", "INTEGRATION"), ("contact.propertyChange", "CRM_UI"),
        ("contact.propertyChange", "INTEGRATION")]
    rep = next(c for c in changes if c["change_source"] == "CRM_UI")
    assert (rep["property_name"], rep["property_value"]) == ("lifecyclestage", "opportunity")
    assert all(c["app_id"] == APP_ID and c["portal_id"] == PORTAL for c in changes)
    status = await asyncio.to_thread(sandbox.admin, "GET", "webhooks")
    assert status["failedEvents"] == 0
