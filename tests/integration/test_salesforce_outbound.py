"""``POST /webhooks/salesforce/outbound`` against a real ingest process and the real broker:
each notification of an Outbound Message lands on ``accord.crm-changes`` as its own
CloudEvent before the Ack is sent; refusals are problem documents and never carry an Ack."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import jsonschema
import pytest

from services.contracts.events import SALESFORCE_CHANGE_RECEIVED, SalesforceChangeReceived
from services.contracts.schema_files import schema_path
from services.ingest.salesforce_outbound import event_id_for
from services.messaging.settings import KafkaSettings
from services.messaging.topics import CRM_CHANGES
from tests.conftest import read_events_with_ids
from tests.integration.service_processes import (
    ServiceProcess,
    start_ingest,
)
from tests.salesforce_messages import (
    ACTION,
    ENTERPRISE_URL,
    EXTERNAL_ENTITY,
    ORG,
    PARTNER_URL,
    SESSION,
    a_message,
    a_notification,
    an_sobject,
)

pytestmark = pytest.mark.integration

PATH = "/webhooks/salesforce/outbound"
BODY_LIMIT = 65_536
OTHER_ORG = "00D5e000000ZzZzEAF"
ACK = (b'<notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound">'
       b"<Ack>true</Ack></notificationsResponse>")
XML = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}


@pytest.fixture(scope="module")
def salesforce_ingest(kafka: KafkaSettings, tmp_path_factory: pytest.TempPathFactory,
                      ) -> Iterator[tuple[str, ServiceProcess]]:
    """A real ingest process accepting one org, configured by its 15-character id."""
    url, process = start_ingest(
        kafka, tmp_path_factory.mktemp("salesforce-ingest") / "ingest.log", {
            "ACCORD_INGEST_SALESFORCE_ORG_IDS": json.dumps([ORG[:15]]),
            "ACCORD_INGEST_MAX_BODY_BYTES": str(BODY_LIMIT),
        })
    try:
        yield url, process
    finally:
        process.stop()


def deliver(url: str, body: bytes, headers: dict[str, str] = XML) -> httpx.Response:
    return httpx.post(f"{url}{PATH}", content=body, headers=headers, timeout=10,
                      trust_env=False)


def assert_problem(answer: httpx.Response, status: int) -> dict[str, object]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert b"Ack" not in answer.content
    problem: dict[str, object] = answer.json()
    assert problem["status"] == status
    return problem


def expected_id(notification_id: str) -> str:
    return event_id_for(SalesforceChangeReceived(
        organization_id=ORG, action_id=ACTION, notification_id=notification_id,
        sobject_type="Lead", sobject_id="00Q5e000004TyUiEAK", fields={},
        received_at=datetime.now(UTC)))


async def test_given_three_notifications_delivered_twice_then_each_on_kafka_with_a_stable_id(
        salesforce_ingest: tuple[str, ServiceProcess], kafka: KafkaSettings):
    url, process = salesforce_ingest
    sent = {
        "04l5e000001IntAAAK": ("Lead", "00Q5e000004IntAEAK"),
        "04l5e000001IntBAAK": ("Contact", "0035e00000IntBEAAZ"),
        "04l5e000001IntCAAK": ("Opportunity", "0065e00000IntCJAAV"),
    }
    body = a_message(*(a_notification(an_sobject(kind, record_id), notification_id)
                       for notification_id, (kind, record_id) in sent.items()))
    first = deliver(url, body)
    assert first.status_code == 200, first.text
    assert first.headers["content-type"].startswith("text/xml")
    assert ACK in first.content
    assert deliver(url, body).status_code == 200  # Salesforce redelivers what it doubts

    ids = {expected_id(n): n for n in sent}
    records = await read_events_with_ids(kafka, CRM_CHANGES, set(ids))
    assert len(records) == 2 * len(sent)
    schema = json.loads(schema_path(SALESFORCE_CHANGE_RECEIVED).read_text())
    for record in records:
        headers = dict(record.headers)
        assert headers["ce_type"] == SALESFORCE_CHANGE_RECEIVED.encode()
        assert headers["ce_source"] == b"/accord/ingest/webhooks/salesforce"
        assert headers["ce_specversion"] == b"1.0"
        assert headers["ce_dataschema"] == b"urn:accord:schema:salesforce.change_received:v1"
        assert headers["content-type"] == b"application/json"
        value = json.loads(record.value)
        jsonschema.validate(value, schema, format_checker=jsonschema.FormatChecker())
        notification_id = ids[headers["ce_id"].decode()]
        assert value["notification_id"] == notification_id
        kind, record_id = sent[notification_id]
        assert record.key == f"salesforce:{ORG}:{kind}:{record_id}".encode()
        assert (value["organization_id"], value["action_id"]) == (ORG, ACTION)
        assert value["fields"]["Company"] == "Analytical Engines"
    assert sorted(ids[dict(r.headers)["ce_id"].decode()] for r in records) == sorted(
        list(sent) * 2)
    output = process.output()
    assert "salesforce.outbound.accepted" in output
    for secret in (SESSION, ENTERPRISE_URL, PARTNER_URL, "Analytical Engines", "Lovelace"):
        assert secret not in output


def test_given_an_unknown_org_when_delivered_then_403_without_ack(
        salesforce_ingest: tuple[str, ServiceProcess]):
    problem = assert_problem(deliver(salesforce_ingest[0], a_message(org=OTHER_ORG)), 403)
    assert problem["errors"] == [{"field": "notifications/OrganizationId",
                                  "message": "org not accepted", "type": "org"}]


def test_given_an_external_entity_when_delivered_then_400(
        salesforce_ingest: tuple[str, ServiceProcess]):
    problem = assert_problem(deliver(salesforce_ingest[0], EXTERNAL_ENTITY), 400)
    assert "DTDs" in str(problem["detail"])


def test_given_an_invalid_notification_when_delivered_then_422_names_the_element(
        salesforce_ingest: tuple[str, ServiceProcess]):
    body = a_message(a_notification(), a_notification(an_sobject("Case")))
    problem = assert_problem(deliver(salesforce_ingest[0], body), 422)
    assert problem["errors"][0]["field"] == "Notification[2]/sObject"  # type: ignore[index]


def test_given_a_body_over_the_limit_when_delivered_then_413(
        salesforce_ingest: tuple[str, ServiceProcess]):
    long_text = f"<sf:Description>{'x' * 1000}</sf:Description>"
    body = a_message(*(a_notification(an_sobject(fields=long_text)) for _ in range(100)))
    assert len(body) > BODY_LIMIT
    assert_problem(deliver(salesforce_ingest[0], body), 413)


def test_given_a_chunked_body_over_the_limit_without_length_when_delivered_then_413(
        salesforce_ingest: tuple[str, ServiceProcess]):
    answer = httpx.post(f"{salesforce_ingest[0]}{PATH}", headers=XML, trust_env=False,
                        content=(b" " * 8192 for _ in range(10)), timeout=10)
    assert "content-length" not in answer.request.headers
    assert_problem(answer, 413)


@pytest.mark.parametrize("content_type", ["application/soap+xml; charset=utf-8",
                                          "application/json"])
def test_given_a_body_that_is_not_text_xml_when_delivered_then_415(
        salesforce_ingest: tuple[str, ServiceProcess], content_type: str):
    answer = deliver(salesforce_ingest[0], a_message(), {"Content-Type": content_type})
    assert assert_problem(answer, 415)["header"] == "Content-Type"
