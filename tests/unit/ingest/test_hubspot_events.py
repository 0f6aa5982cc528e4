"""HubSpot webhook batches: parsing, mapping to ``hubspot.change_received``, stable ids; and
the route's answers in process, with a stand-in publisher (Kafka itself is in integration)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from services.contracts.envelope import decode
from services.contracts.events import HUBSPOT_CHANGE_RECEIVED
from services.contracts.schema_files import schema_path
from services.ingest.app import create_app
from services.ingest.hubspot_webhooks import (
    SUBSCRIPTION_TYPES,
    change_for,
    event_id_for,
    kafka_key,
    parse_batch,
    record_for,
)
from services.ingest.problems import ProblemError
from services.ingest.settings import IngestSettings
from tests.recording_publisher import StubPublisher

PORTAL = 62515
SECRET = "unit-hubspot-secret"


def an_event(**overrides: Any) -> dict[str, Any]:
    """A HubSpot webhook element as HubSpot sends it."""
    event: dict[str, Any] = {
        "eventId": 100, "subscriptionId": 2001, "portalId": PORTAL, "appId": 4400001,
        "occurredAt": 1_764_000_123_456, "subscriptionType": "contact.propertyChange",
        "attemptNumber": 0, "objectId": 501, "propertyName": "email",
        "propertyValue": "ada@analytical.example", "changeSource": "CRM_UI",
        "sourceId": "userId:45678", "changeFlag": "UPDATED", "messageId": None,
    }
    event.update(overrides)
    return {k: v for k, v in event.items() if v is not None}


def batch(*events: dict[str, Any]) -> bytes:
    return json.dumps(list(events)).encode()


def problem(body: bytes) -> ProblemError:
    with pytest.raises(ProblemError) as caught:
        parse_batch(body)
    return caught.value


# --- mapping --------------------------------------------------------------------------------


@pytest.mark.parametrize("subscription_type", sorted(SUBSCRIPTION_TYPES))
def test_given_each_subscription_type_when_mapped_then_object_type_is_its_prefix(
        subscription_type):
    [event] = parse_batch(batch(an_event(subscriptionType=subscription_type)))
    change = change_for(event)
    assert change.object_type == subscription_type.split(".")[0]
    assert change.subscription_type == subscription_type
    assert kafka_key(change) == f"hubspot:{PORTAL}:{change.object_type}:501"


def test_given_the_subscription_families_when_listed_then_contact_company_and_deal_only():
    assert {t.split(".")[0] for t in SUBSCRIPTION_TYPES} == {"contact", "company", "deal"}
    assert "contact.privacyDeletion" in SUBSCRIPTION_TYPES
    assert "deal.privacyDeletion" not in SUBSCRIPTION_TYPES


def test_given_occurred_at_in_milliseconds_when_mapped_then_a_utc_datetime_to_the_ms():
    [event] = parse_batch(batch(an_event(occurredAt=1_564_113_600_123)))
    assert change_for(event).occurred_at == datetime(2019, 7, 26, 4, 0, 0, 123_000, tzinfo=UTC)


def test_given_a_property_change_when_mapped_then_every_field_is_kept():
    change = change_for(parse_batch(batch(an_event()))[0])
    assert change.model_dump(exclude_none=True) == {
        "event_id": 100, "subscription_id": 2001, "portal_id": PORTAL, "app_id": 4400001,
        "occurred_at": datetime(2025, 11, 24, 16, 2, 3, 456_000, tzinfo=UTC),
        "subscription_type": "contact.propertyChange", "attempt_number": 0, "object_id": 501,
        "object_type": "contact", "change_source": "CRM_UI", "source_id": "userId:45678",
        "property_name": "email", "property_value": "ada@analytical.example"}


def test_given_a_merge_when_mapped_then_primary_merged_and_new_ids_are_kept():
    [event] = parse_batch(batch(an_event(
        subscriptionType="company.merge", objectId=700, propertyName=None, propertyValue=None,
        primaryObjectId=700, mergedObjectIds=[701, 702], newObjectId=703,
        numberOfPropertiesMoved=4)))
    change = change_for(event)
    assert (change.primary_object_id, change.merged_object_ids, change.new_object_id) == (
        700, [701, 702], 703)


def test_given_an_association_change_without_object_id_when_mapped_then_from_object_is_used():
    [event] = parse_batch(batch(an_event(
        subscriptionType="deal.associationChange", objectId=None, fromObjectId=900,
        toObjectId=901, associationType="DEAL_TO_CONTACT", associationRemoved=False)))
    assert change_for(event).object_id == 900


def test_given_a_numeric_property_value_when_mapped_then_kept_as_text():
    [event] = parse_batch(batch(an_event(propertyName="amount", propertyValue=4800.5)))
    assert change_for(event).property_value == "4800.5"


def test_given_a_record_when_encoded_then_it_is_a_valid_hubspot_change_cloudevent():
    record = record_for(change_for(parse_batch(batch(an_event()))[0]))
    envelope = decode(record.key, record.value, record.headers)
    assert (envelope.type, envelope.source) == (HUBSPOT_CHANGE_RECEIVED,
                                                "/accord/ingest/webhooks/hubspot")
    assert record.key == f"hubspot:{PORTAL}:contact:501".encode()
    schema = json.loads(schema_path(HUBSPOT_CHANGE_RECEIVED).read_text())
    jsonschema.validate(envelope.data, schema, format_checker=jsonschema.FormatChecker())


# --- stable ids -----------------------------------------------------------------------------


def test_given_a_redelivery_with_a_higher_attempt_number_when_mapped_then_the_same_id():
    first = change_for(parse_batch(batch(an_event(attemptNumber=0)))[0])
    again = change_for(parse_batch(batch(an_event(attemptNumber=3)))[0])
    assert event_id_for(first) == event_id_for(again)
    assert dict(record_for(first).headers)["ce_id"] == dict(record_for(again).headers)["ce_id"]


@pytest.mark.parametrize("field", ["portalId", "subscriptionId", "eventId", "occurredAt",
                                   "objectId"])
def test_given_the_same_event_id_but_another_identity_field_when_mapped_then_another_id(field):
    base = change_for(parse_batch(batch(an_event()))[0])
    other = change_for(parse_batch(batch(an_event(**{field: an_event()[field] + 1})))[0])
    assert event_id_for(base) != event_id_for(other)


# --- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"{oops", b"\xff\xfe\x00", b"[" * 100_000])
def test_given_a_body_that_is_not_json_when_parsed_then_400(body):
    assert problem(body).status == 400


@pytest.mark.parametrize("body", [b"[]", b"{}", b'"events"', batch(*[an_event()] * 101)])
def test_given_not_an_array_of_1_to_100_when_parsed_then_422_on_the_body(body):
    refused = problem(body)
    assert (refused.status, refused.extra["errors"][0]["field"]) == (422, "body")


def test_given_100_events_when_parsed_then_all_accepted():
    assert len(parse_batch(batch(*[an_event(eventId=i) for i in range(100)]))) == 100


def test_given_an_element_without_object_id_when_parsed_then_422_names_index_and_field():
    body = batch(an_event(), an_event(), an_event(), an_event(objectId=None))
    refused = problem(body)
    assert refused.status == 422
    assert [e["field"] for e in refused.extra["errors"]] == ["[3].objectId"]


def test_given_an_unknown_subscription_type_when_parsed_then_422_names_the_element():
    refused = problem(batch(an_event(), an_event(subscriptionType="ticket.creation")))
    assert [e["field"] for e in refused.extra["errors"]] == ["[1].subscriptionType"]


def test_given_several_bad_elements_when_parsed_then_each_is_named():
    refused = problem(batch(an_event(portalId="62515"), 7,
                            an_event(mergedObjectIds=[1, "two"])))
    assert [e["field"] for e in refused.extra["errors"]] == [
        "[0].portalId", "[1]", "[2].mergedObjectIds[1]"]


def test_given_an_invalid_element_when_refused_then_no_value_is_echoed():
    refused = problem(batch(an_event(propertyValue={"secret": "ada@analytical.example"})))
    assert "ada@" not in json.dumps(refused.extra) + refused.detail


# --- the route, in process ------------------------------------------------------------------


def client_for(publisher: StubPublisher) -> TestClient:
    settings = IngestSettings(public_base_url="https://hooks.example.com/accord",
                              hubspot_client_secret=SecretStr(SECRET), hubspot_app_id=4400001,
                              hubspot_portal_ids=[PORTAL], max_body_bytes=4096)
    return TestClient(create_app(settings, publisher=publisher),  # type: ignore[arg-type]
                      base_url="http://10.0.0.7:8000")


def signed(body: bytes, path: str = "/webhooks/hubspot") -> dict[str, str]:
    at = str(time.time_ns() // 1_000_000)
    message = b"POST" + f"https://hooks.example.com/accord{path}".encode() + body + at.encode()
    return {"Content-Type": "application/json", "X-HubSpot-Request-Timestamp": at,
            "X-HubSpot-Signature-v3": base64.b64encode(
                hmac.new(SECRET.encode(), message, hashlib.sha256).digest()).decode()}


def test_given_a_signed_batch_behind_a_proxy_when_posted_then_204_and_each_event_published():
    publisher = StubPublisher()
    body = batch(an_event(), an_event(eventId=101, subscriptionType="deal.creation"))
    answer = client_for(publisher).post("/webhooks/hubspot", content=body, headers=signed(body))
    assert (answer.status_code, answer.content) == (204, b"")
    [(topic, records)] = publisher.sent
    assert topic == "accord.crm-changes"
    assert [r.key for r in records] == [b"hubspot:62515:contact:501", b"hubspot:62515:deal:501"]


def test_given_kafka_does_not_acknowledge_when_posted_then_503_with_retry_after():
    body = batch(an_event())
    answer = client_for(StubPublisher(fail=True)).post("/webhooks/hubspot", content=body,
                                                       headers=signed(body))
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["Retry-After"] == "5"


def test_given_an_event_of_another_app_when_posted_then_403_names_the_field():
    body = batch(an_event(appId=1))
    answer = client_for(StubPublisher()).post("/webhooks/hubspot", content=body,
                                              headers=signed(body))
    assert (answer.status_code, answer.json()["errors"][0]["field"]) == (403, "[0].appId")


def test_given_a_chunked_body_over_the_limit_when_posted_then_413_and_nothing_published():
    publisher = StubPublisher()
    chunks = (b" " * 1024 for _ in range(8))
    answer = client_for(publisher).post("/webhooks/hubspot", content=chunks,
                                        headers={"Content-Type": "application/json"})
    assert answer.status_code == 413
    assert publisher.sent == []


def test_given_the_route_when_documented_then_headers_body_and_every_answer_are_listed():
    operation = client_for(StubPublisher()).get("/openapi.json").json()[
        "paths"]["/webhooks/hubspot"]["post"]
    assert {p["name"] for p in operation["parameters"]} == {
        "X-HubSpot-Signature-v3", "X-HubSpot-Request-Timestamp", "X-HubSpot-Signature",
        "X-HubSpot-Signature-Version"}
    assert set(operation["responses"]) == {"204", "400", "401", "403", "413", "415", "422",
                                           "503"}
    assert operation["requestBody"]["content"]["application/json"]["schema"]["maxItems"] == 100
