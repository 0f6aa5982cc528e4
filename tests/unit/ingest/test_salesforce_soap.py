"""Salesforce Outbound Messages: safe parsing, the Ack and Fault envelopes, org matching, and
the route in process with a stand-in publisher (Kafka itself is in integration). Fixtures
follow Salesforce's outbound messaging WSDL and a message as Salesforce sends it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import jsonschema
import pytest
from defusedxml.ElementTree import fromstring
from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from services.contracts.envelope import decode
from services.contracts.events import SALESFORCE_CHANGE_RECEIVED
from services.contracts.schema_files import schema_path
from services.ingest import salesforce_soap as soap
from services.ingest.app import create_app
from services.ingest.salesforce_outbound import PATH, change_for, event_id_for
from services.ingest.settings import IngestSettings
from tests.recording_publisher import StubPublisher
from tests.salesforce_messages import (
    ACTION,
    BILLION_LAUGHS,
    ENTERPRISE_URL,
    EXTERNAL_DTD,
    EXTERNAL_ENTITY,
    ORG,
    SESSION,
    a_message,
    a_notification,
    an_sobject,
)


def test_given_a_message_as_salesforce_sends_it_when_parsed_then_ids_type_and_fields_are_read():
    message = soap.parse_outbound_message(a_message(), 1_000_000)
    assert (message.organization_id, message.action_id) == (ORG, ACTION)
    [notification] = message.notifications
    assert notification.id == "04l5e000001QwErAAK"
    assert (notification.sobject_type, notification.sobject_id) == ("Lead", "00Q5e000004TyUiEAK")
    assert notification.fields == {
        "Id": "00Q5e000004TyUiEAK", "Company": "Analytical Engines",
        "Email": "ada@analytical.example", "FirstName": "Ada", "LastName": "Lovelace",
        "Status": "Working"}


def test_given_a_session_id_and_callback_urls_when_parsed_then_none_is_kept():
    message = soap.parse_outbound_message(a_message(), 1_000_000)
    kept = repr(message) + repr(soap.parse_envelope(a_message(), 1_000_000))
    assert SESSION not in kept and "salesforce.com" not in kept
    nil_session_no_urls = (f"<OrganizationId>{ORG}</OrganizationId><ActionId>{ACTION}"
                           '</ActionId><SessionId xsi:nil="true"/>')
    assert soap.parse_outbound_message(a_message(header=nil_session_no_urls), 1_000_000)


def test_given_one_notification_of_each_type_when_parsed_then_each_is_read_in_order():
    kinds = {"Lead": "00Q5e000004TyUiEAK", "Contact": "0035e00000AbCdEAAZ",
             "Opportunity": "0065e00000FgHiJAAV", "Account": "0015e00000KlMnOAAV"}
    body = a_message(*(a_notification(an_sobject(kind, record_id, "<sf:Name>n</sf:Name>"),
                                      f"04l5e00000{n}AbCdAAK")
                       for n, (kind, record_id) in enumerate(kinds.items())))
    message = soap.parse_outbound_message(body, 1_000_000)
    assert [(n.sobject_type, n.sobject_id) for n in message.notifications] == list(kinds.items())
    assert len({n.id for n in message.notifications}) == 4


def test_given_nil_empty_and_nulled_fields_when_parsed_then_none_empty_and_none():
    fields = ('<sf:Phone xsi:nil="true"/><sf:Title></sf:Title>'
              "<sf:fieldsToNull>Website</sf:fieldsToNull><sf:Email>a@b.example</sf:Email>")
    [notification] = soap.parse_outbound_message(
        a_message(a_notification(an_sobject(fields=fields))), 1_000_000).notifications
    assert notification.fields == {"Id": "00Q5e000004TyUiEAK", "Phone": None, "Title": "",
                                   "Email": "a@b.example", "Website": None}


def test_given_100_notifications_when_parsed_then_all_accepted():
    body = a_message(*(a_notification() for _ in range(100)))
    assert len(soap.parse_outbound_message(body, 1_000_000).notifications) == 100


def _without(text: str) -> bytes:
    return a_message().replace(text.encode(), b"")


@pytest.mark.parametrize(("body", "element", "reason"), [
    (a_message(a_notification(), a_notification(an_sobject(type_attribute=""))),
     "Notification[2]/sObject", "missing xsi:type"),
    (a_message(a_notification(an_sobject("Case"))), "Notification[1]/sObject",
     "xsi:type must be sf:Lead, sf:Contact, sf:Opportunity, sf:Account"),
    (_without("<Id>04l5e000001QwErAAK</Id>"), "Notification[1]/Id", "missing"),
    (a_message(a_notification(notification_id="04l-bad")), "Notification[1]/Id",
     "15- or 18-character"),
    (a_message("<Notification><Id>04l5e000001QwErAAK</Id></Notification>"),
     "Notification[1]/sObject", "missing"),
    (_without("<sf:Id>00Q5e000004TyUiEAK</sf:Id>"), "Notification[1]/sObject/Id", "missing"),
    (a_message(a_notification(an_sobject(fields="<Email>x@y.example</Email>"))),
     "Notification[1]/sObject/Email", "namespace urn:sobject.enterprise.soap.sforce.com"),
    (a_message(a_notification(an_sobject(fields="<sf:Owner><sf:Name>x</sf:Name></sf:Owner>"))),
     "Notification[1]/sObject/Owner", "text only"),
    (a_message(a_notification(an_sobject(fields="<sf:Status>a</sf:Status>" * 2))),
     "Notification[1]/sObject/Status", "more than once"),
    (_without(f"<OrganizationId>{ORG}</OrganizationId>"), "notifications/OrganizationId",
     "missing"),
    (a_message(org="00D-not-an-id"), "notifications/OrganizationId", "15- or 18-character"),
    (_without(f"<ActionId>{ACTION}</ActionId>"), "notifications/ActionId", "missing"),
    (_without(a_notification()), "notifications/Notification", "0 found; 1 to 100 expected"),
    (a_message(*(a_notification() for _ in range(101))), "notifications/Notification",
     "101 found"),
    (b'<Envelope xmlns="http://www.w3.org/2003/05/soap-envelope"><Body/></Envelope>',
     "Envelope", "expected a SOAP 1.1 Envelope"),
    (b'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"/>', "Envelope/Body",
     "missing"),
    (b'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body><notifications/>'
     b"</e:Body></e:Envelope>", "Envelope/Body/notifications",
     "namespace http://soap.sforce.com/2005/09/outbound"),
])
def test_given_a_missing_or_wrong_piece_when_parsed_then_the_element_is_named(
        body: bytes, element: str, reason: str):
    with pytest.raises(soap.InvalidMessageError) as caught:
        soap.parse_outbound_message(body, 1_000_000)
    error = caught.value
    assert error.element == element
    assert reason in error.reason
    assert str(error).startswith(f"{element}: ")


def test_given_an_invalid_notification_when_refused_then_no_field_value_is_echoed():
    fields = "<sf:Email>ada@analytical.example</sf:Email><sf:Email>ada@x.example</sf:Email>"
    with pytest.raises(soap.InvalidMessageError) as caught:
        soap.parse_outbound_message(a_message(a_notification(an_sobject(fields=fields))), 10**6)
    assert "ada@" not in str(caught.value) and SESSION not in str(caught.value)


@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD],
                         ids=["billion-laughs", "external-entity", "external-dtd"])
def test_given_a_dtd_or_entity_when_parsed_then_refused_as_unreadable(body: bytes):
    with pytest.raises(soap.UnreadableMessageError, match="DTDs, entities"):
        soap.parse_outbound_message(body, 1_000_000)


@pytest.mark.parametrize("body", [b"", b"not xml", b"<a><b></a>", b"\xff\xfe<a/>"])
def test_given_a_body_that_is_not_xml_when_parsed_then_unreadable(body: bytes):
    with pytest.raises(soap.UnreadableMessageError, match="not well-formed XML"):
        soap.parse_outbound_message(body, 1_000_000)


def test_given_a_body_over_the_cap_when_parsed_then_refused_before_the_parser_runs(
        monkeypatch: pytest.MonkeyPatch):
    def parser_must_not_run(*_: Any, **__: Any) -> None:
        raise AssertionError("parsed an oversized body")

    monkeypatch.setattr(soap, "fromstring", parser_must_not_run)
    body = a_message()
    with pytest.raises(soap.MessageTooLargeError):
        soap.parse_outbound_message(body, len(body) - 1)


def test_given_the_ack_when_read_as_xml_then_a_soap_11_notifications_response_with_ack_true():
    envelope = fromstring(soap.ACK, forbid_dtd=True)
    assert envelope.tag == "{http://schemas.xmlsoap.org/soap/envelope/}Envelope"
    [body] = list(envelope)
    assert body.tag == "{http://schemas.xmlsoap.org/soap/envelope/}Body"
    [response] = list(body)
    assert response.tag == "{http://soap.sforce.com/2005/09/outbound}notificationsResponse"
    [ack] = list(response)
    assert (ack.tag, ack.text) == ("{http://soap.sforce.com/2005/09/outbound}Ack", "true")


def test_given_a_fault_with_markup_in_its_text_when_built_then_well_formed_and_escaped():
    fault = fromstring(soap.soap_fault("Notification[1]/sObject: <&> \x00", "Server"))
    element = fault.find("{http://schemas.xmlsoap.org/soap/envelope/}Body/"
                         "{http://schemas.xmlsoap.org/soap/envelope/}Fault")
    assert element is not None
    assert element.findtext("faultcode") == "soapenv:Server"
    assert element.findtext("faultstring") == "Notification[1]/sObject: <&> "


@pytest.mark.parametrize(("sent", "configured", "accepted"), [
    (ORG, [ORG], True),
    (ORG, [ORG[:15]], True),
    (ORG[:15], [ORG], True),
    (ORG, [f"  {ORG}  "], True),
    (ORG, ["00D5e000000AbCdXYZ"], True),  # same org, another case checksum: the prefix counts
    (ORG, [ORG[:15].lower()], False),  # ids are case-sensitive
    (ORG, ["00D5e000000ZzZzEAF"], False),
    (ORG, [ORG[:14]], False),
    (ORG, [], False),
])
def test_given_org_ids_in_either_form_when_matched_then_the_15_character_prefix_decides(
        sent: str, configured: list[str], accepted: bool):
    assert soap.org_accepted(sent, configured) is accepted


def client_for(publisher: StubPublisher) -> TestClient:
    settings = IngestSettings(salesforce_org_ids=[ORG[:15]], max_body_bytes=16_384)
    return TestClient(create_app(settings, publisher=publisher))  # type: ignore[arg-type]


def post(client: TestClient, body: bytes) -> Any:
    return client.post(PATH, content=body, headers={"Content-Type": "text/xml; charset=utf-8"})


def test_given_a_message_when_posted_then_200_ack_only_after_each_notification_is_published():
    publisher = StubPublisher()
    body = a_message(a_notification(),
                     a_notification(an_sobject("Contact", "0035e00000AbCdEAAZ"),
                                    "04l5e000001AsDfAAK"))
    with capture_logs() as logs:
        answer = post(client_for(publisher), body)
    assert (answer.status_code, answer.content) == (200, soap.ACK)
    assert answer.headers["content-type"].startswith("text/xml")
    [(topic, records)] = publisher.sent
    assert topic == "accord.crm-changes"
    assert [r.key for r in records] == [f"salesforce:{ORG}:Lead:00Q5e000004TyUiEAK".encode(),
                                        f"salesforce:{ORG}:Contact:0035e00000AbCdEAAZ".encode()]
    schema = json.loads(schema_path(SALESFORCE_CHANGE_RECEIVED).read_text())
    for record in records:
        event = decode(record.key, record.value, record.headers)
        assert event.type == SALESFORCE_CHANGE_RECEIVED
        jsonschema.validate(event.data, schema, format_checker=jsonschema.FormatChecker())
    [accepted] = [e for e in logs if e["event"] == "salesforce.outbound.accepted"]
    assert (accepted["notifications"], accepted["sobject_types"]) == (2, ["Contact", "Lead"])
    assert not {SESSION, ENTERPRISE_URL, "ada@analytical.example", "Lovelace"} & {
        v for e in logs for v in map(str, e.values())}


def test_given_either_org_id_form_when_an_event_id_is_derived_then_it_is_the_same():
    def event_id(org: str) -> str:
        message = soap.parse_outbound_message(a_message(org=org), 1_000_000)
        received = datetime(2025, 1, 1, tzinfo=UTC)
        return event_id_for(change_for(message, message.notifications[0], received))

    assert event_id(ORG) == event_id(ORG[:15]) != event_id("00D5e000000ZzZzEAF")


def test_given_kafka_does_not_acknowledge_when_posted_then_503_retry_after_and_no_ack():
    answer = post(client_for(StubPublisher(fail=True)), a_message())
    assert (answer.status_code, answer.headers["content-type"]) == (503, "application/problem+json")
    assert answer.headers["Retry-After"] == "5"
    assert b"Ack" not in answer.content


def test_given_an_unknown_org_with_an_invalid_notification_when_posted_then_403_first():
    publisher = StubPublisher()
    body = a_message(a_notification(an_sobject("Case")), org="00D5e000000ZzZzEAF")
    answer = post(client_for(publisher), body)
    assert answer.status_code == 403
    assert answer.json()["errors"][0]["field"] == "notifications/OrganizationId"
    assert publisher.sent == []


def test_given_the_route_when_documented_then_the_xml_body_and_every_answer_are_listed():
    operation = client_for(StubPublisher()).get("/openapi.json").json()["paths"][PATH]["post"]
    assert set(operation["requestBody"]["content"]) == {"text/xml"}
    assert set(operation["responses"]) == {"200", "400", "403", "413", "415", "422", "503"}
    assert set(operation["responses"]["200"]["content"]) == {"text/xml"}
    assert "Retry-After" in operation["responses"]["503"]["headers"]
