"""``POST /webhooks/hubspot`` against a real ingest process and the real broker: signed
batches land on ``accord.crm-changes`` one CloudEvent per event; refusals name the fault."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import pytest
from aiokafka import AIOKafkaConsumer

from services.contracts.events import HUBSPOT_CHANGE_RECEIVED
from services.contracts.schema_files import schema_path
from services.messaging.settings import KafkaSettings
from services.messaging.topics import CRM_CHANGES
from tests.integration.service_processes import start_ingest

pytestmark = pytest.mark.integration

SECRET = "integration-hubspot-client-secret"
APP_ID = 4400001
PORTAL = 62515
OTHER_PORTAL = 77777
BODY_LIMIT = 65_536
PATH = "/webhooks/hubspot"


@pytest.fixture(scope="module")
def hubspot_ingest(kafka: KafkaSettings,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ingest process that accepts HubSpot webhooks for one portal."""
    url, process = start_ingest(kafka, tmp_path_factory.mktemp("hubspot-ingest") / "ingest.log", {
        "ACCORD_INGEST_HUBSPOT_CLIENT_SECRET": SECRET,
        "ACCORD_INGEST_HUBSPOT_APP_ID": str(APP_ID),
        "ACCORD_INGEST_HUBSPOT_PORTAL_IDS": json.dumps([PORTAL]),
        "ACCORD_INGEST_MAX_BODY_BYTES": str(BODY_LIMIT),
    })
    try:
        yield url
    finally:
        process.stop()


def an_event(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "eventId": 1, "subscriptionId": 3001, "portalId": PORTAL, "appId": APP_ID,
        "occurredAt": time.time_ns() // 1_000_000 - 2_000,
        "subscriptionType": "contact.creation", "attemptNumber": 0, "objectId": 1,
        "changeFlag": "NEW", "changeSource": "CRM_UI", "sourceId": "userId:41000001",
    }
    event.update(overrides)
    return event


def hubspot_headers(url: str, body: bytes, at_ms: int | None = None,
                    secret: str = SECRET) -> dict[str, str]:
    """Headers as HubSpot signs them (v3), computed from its documentation."""
    at = str(time.time_ns() // 1_000_000 if at_ms is None else at_ms)
    message = b"POST" + f"{url}{PATH}".encode() + body + at.encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return {"Content-Type": "application/json", "X-HubSpot-Request-Timestamp": at,
            "X-HubSpot-Signature-v3": base64.b64encode(digest).decode()}


def deliver(url: str, events: list[dict[str, Any]], **signing: Any) -> httpx.Response:
    body = json.dumps(events).encode()
    return httpx.post(f"{url}{PATH}", content=body, headers=hubspot_headers(url, body, **signing),
                      timeout=10, trust_env=False)


def assert_problem(answer: httpx.Response, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = answer.json()
    assert problem["status"] == status
    return problem


async def records_with_keys(kafka: KafkaSettings, keys: set[bytes], count: int,
                            within: float = 30.0, settle: float = 1.5) -> list[Any]:
    """Every record of ``accord.crm-changes`` under these keys: waits for ``count`` of them,
    then reads ``settle`` seconds more so that any extra record would show too."""
    consumer = AIOKafkaConsumer(kafka.topic(CRM_CHANGES), bootstrap_servers=kafka.bootstrap_servers,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    found: list[Any] = []
    try:
        async with asyncio.timeout(within):
            while len(found) < count:
                for messages in (await consumer.getmany(timeout_ms=300)).values():
                    found.extend(m for m in messages if m.key in keys)
        until = time.monotonic() + settle
        while time.monotonic() < until:
            for messages in (await consumer.getmany(timeout_ms=300)).values():
                found.extend(m for m in messages if m.key in keys)
    finally:
        await consumer.stop()
    return found


async def test_given_a_signed_batch_delivered_twice_then_each_event_on_kafka_with_a_stable_id(
        hubspot_ingest: str, kafka: KafkaSettings):
    batch = [
        an_event(eventId=11, objectId=5101),
        an_event(eventId=12, objectId=5101, subscriptionType="contact.propertyChange",
                 propertyName="lifecyclestage", propertyValue="lead"),
        an_event(eventId=13, objectId=6101, subscriptionType="company.merge",
                 primaryObjectId=6101, mergedObjectIds=[6102], newObjectId=6103),
        an_event(eventId=14, objectId=7101, subscriptionType="deal.deletion"),
    ]
    first = deliver(hubspot_ingest, batch)
    assert (first.status_code, first.content) == (204, b""), first.text
    redelivered = deliver(hubspot_ingest, [{**e, "attemptNumber": 1} for e in batch])
    assert redelivered.status_code == 204, redelivered.text

    keys = {b"hubspot:62515:contact:5101", b"hubspot:62515:company:6101",
            b"hubspot:62515:deal:7101"}
    records = await records_with_keys(kafka, keys, count=2 * len(batch))
    assert len(records) == 2 * len(batch)
    schema = json.loads(schema_path(HUBSPOT_CHANGE_RECEIVED).read_text())
    ids: dict[tuple[int, int], str] = {}
    values: dict[tuple[int, int], dict[str, Any]] = {}
    for record in records:
        headers = dict(record.headers)
        assert headers["ce_type"] == HUBSPOT_CHANGE_RECEIVED.encode()
        assert headers["ce_source"] == b"/accord/ingest/webhooks/hubspot"
        assert headers["ce_specversion"] == b"1.0"
        assert headers["ce_dataschema"] == b"urn:accord:schema:hubspot.change_received:v1"
        assert headers["content-type"] == b"application/json"
        value = json.loads(record.value)
        jsonschema.validate(value, schema, format_checker=jsonschema.FormatChecker())
        assert record.key == f"hubspot:62515:{value['object_type']}:{value['object_id']}".encode()
        delivery = (value["event_id"], value["attempt_number"])
        ids[delivery], values[delivery] = headers["ce_id"].decode(), value
    assert sorted(ids) == [(e, a) for e in (11, 12, 13, 14) for a in (0, 1)]
    assert all(ids[e, 0] == ids[e, 1] for e in (11, 12, 13, 14))
    assert len({ids[e, 0] for e in (11, 12, 13, 14)}) == 4
    assert values[12, 0]["property_value"] == "lead"
    assert values[13, 1]["merged_object_ids"] == [6102]
    assert values[14, 0]["object_type"] == "deal"


def test_given_a_wrong_signature_when_delivered_then_401_names_the_v3_header(
        hubspot_ingest: str):
    problem = assert_problem(deliver(hubspot_ingest, [an_event()], secret="not-the-secret"), 401)
    assert (problem["header"], problem["reason"]) == ("X-HubSpot-Signature-v3", "bad_signature")


def test_given_no_signature_when_delivered_then_401_names_the_v3_header(hubspot_ingest: str):
    answer = httpx.post(f"{hubspot_ingest}{PATH}", json=[an_event()], trust_env=False)
    assert assert_problem(answer, 401)["header"] == "X-HubSpot-Signature-v3"


def test_given_a_timestamp_six_minutes_old_when_delivered_then_401_stale(hubspot_ingest: str):
    at = time.time_ns() // 1_000_000 - 6 * 60 * 1000
    problem = assert_problem(deliver(hubspot_ingest, [an_event()], at_ms=at), 401)
    assert (problem["header"], problem["reason"]) == ("X-HubSpot-Request-Timestamp",
                                                      "stale_timestamp")


def test_given_a_timestamp_six_minutes_ahead_when_delivered_then_401_future(
        hubspot_ingest: str):
    at = time.time_ns() // 1_000_000 + 6 * 60 * 1000
    problem = assert_problem(deliver(hubspot_ingest, [an_event()], at_ms=at), 401)
    assert problem["reason"] == "future_timestamp"


def test_given_an_event_from_an_unknown_portal_when_delivered_then_403_names_the_portal(
        hubspot_ingest: str):
    answer = deliver(hubspot_ingest, [an_event(), an_event(portalId=OTHER_PORTAL)])
    problem = assert_problem(answer, 403)
    assert problem["portal"] == OTHER_PORTAL
    assert problem["errors"][0]["field"] == "[1].portalId"


def test_given_a_body_over_the_limit_when_delivered_then_413(hubspot_ingest: str):
    events = [an_event(eventId=i, propertyValue="x" * 1000) for i in range(70)]
    assert_problem(deliver(hubspot_ingest, events), 413)


def test_given_a_chunked_body_over_the_limit_without_length_when_delivered_then_413(
        hubspot_ingest: str):
    chunks = (b"[" + b" " * 8191 for _ in range(10))
    answer = httpx.post(f"{hubspot_ingest}{PATH}", content=chunks, trust_env=False,
                        headers={"Content-Type": "application/json"})
    assert "content-length" not in answer.request.headers
    assert_problem(answer, 413)


def test_given_a_body_that_is_not_json_content_when_delivered_then_415(hubspot_ingest: str):
    body = json.dumps([an_event()]).encode()
    headers = {**hubspot_headers(hubspot_ingest, body), "Content-Type": "text/plain"}
    answer = httpx.post(f"{hubspot_ingest}{PATH}", content=body, headers=headers,
                        trust_env=False)
    assert assert_problem(answer, 415)["header"] == "Content-Type"


def test_given_a_signed_body_that_is_not_json_when_delivered_then_400(hubspot_ingest: str):
    body = b"[{oops"
    answer = httpx.post(f"{hubspot_ingest}{PATH}", content=body, trust_env=False,
                        headers=hubspot_headers(hubspot_ingest, body))
    assert_problem(answer, 400)


def test_given_an_element_without_object_id_when_delivered_then_422_names_the_index(
        hubspot_ingest: str):
    broken = an_event()
    del broken["objectId"]
    answer = deliver(hubspot_ingest, [an_event(), an_event(), broken,
                                      an_event(subscriptionType="ticket.creation")])
    problem = assert_problem(answer, 422)
    assert [e["field"] for e in problem["errors"]] == ["[2].objectId", "[3].subscriptionType"]
