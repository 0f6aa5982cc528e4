"""The Salesforce sandbox's Outbound Messages, read back by Accord's own ingest parser."""

from __future__ import annotations

import pytest

from sandboxes.salesforce.metadata import LEAD, OPPORTUNITY
from sandboxes.salesforce.outbound_soap import (
    MessageHeader,
    NotificationData,
    is_ack,
    notifications_envelope,
    soap_value,
)
from services.ingest.salesforce_soap import ACK, org_accepted, parse_outbound_message, soap_fault

ORG = "00D000000000001AAA"
HEADER = MessageHeader(ORG, "04k5g0000000003AAA", None, "https://127.0.0.1:8443")
LEAD_RECORD = {
    "Id": "00Q5g0000000001EAA", "LastName": "O'Brien & Sons <Ltd>", "Company": "Acme",
    "Status": "Nurture", "IsConverted": False, "Accord_Score__c": 87.5, "Email": None,
    "LastModifiedById": "005000000000002AAA",
    "LastModifiedDate": "2026-11-23T09:30:00.000+0000",
}


def test_given_lead_notification_when_parsed_by_ingest_then_ids_type_and_fields_read() -> None:
    body = notifications_envelope(HEADER, [NotificationData("04l5g0000000001AAA", LEAD,
                                                            LEAD_RECORD)])

    message = parse_outbound_message(body, 1_000_000)

    assert org_accepted(message.organization_id, [ORG[:15]])
    assert message.action_id == HEADER.action_id
    [notification] = message.notifications
    assert (notification.id, notification.sobject_type, notification.sobject_id) == (
        "04l5g0000000001AAA", "Lead", "00Q5g0000000001EAA")
    assert notification.fields == {
        "Id": "00Q5g0000000001EAA", "Accord_Score__c": "87.5", "Company": "Acme",
        "IsConverted": "false", "LastModifiedById": "005000000000002AAA",
        "LastModifiedDate": "2026-11-23T09:30:00.000Z", "LastName": "O'Brien & Sons <Ltd>",
        "Status": "Nurture"}


def test_given_header_when_enveloped_then_nil_session_and_soap_api_urls() -> None:
    body = notifications_envelope(HEADER, [NotificationData("04l5g0000000001AAA", LEAD,
                                                            LEAD_RECORD)]).decode()

    assert '<SessionId xsi:nil="true"/>' in body
    assert ("<EnterpriseUrl>https://127.0.0.1:8443/services/Soap/c/62.0/00D000000000001"
            "</EnterpriseUrl>") in body
    assert "<PartnerUrl>https://127.0.0.1:8443/services/Soap/u/62.0/00D000000000001" in body


def test_given_100_opportunities_when_enveloped_then_one_message_and_101_refused() -> None:
    record = {"Id": "0065g0000000001AAA", "Name": "Deal", "StageName": "Closed Won",
              "Amount": 52000.0, "CloseDate": "2026-12-31", "IsWon": True}
    batch = [NotificationData(f"04l5g00000{i:05d}AAA", OPPORTUNITY, record) for i in range(101)]

    message = parse_outbound_message(notifications_envelope(HEADER, batch[:100]), 10_000_000)

    assert len(message.notifications) == 100
    assert message.notifications[0].fields["Amount"] == "52000.0"
    with pytest.raises(ValueError, match="1 to 100"):
        notifications_envelope(HEADER, batch)


@pytest.mark.parametrize(("body", "acked"), [
    (ACK, True),
    (ACK.replace(b"true", b"false"), False),
    (soap_fault("no"), False),
    (b"<ok/>", False),
    (b"not xml", False),
    (b'<!DOCTYPE x [<!ENTITY a "true">]><x>&a;</x>', False),
])
def test_given_listener_answer_when_read_then_only_ack_true_counts(body: bytes,
                                                                  acked: bool) -> None:
    assert is_ack(body) is acked


def test_given_values_when_written_for_soap_then_xsd_forms() -> None:
    assert [soap_value("boolean", True), soap_value("double", 2.0),
            soap_value("datetime", "2026-11-23T09:30:00.000+0000"),
            soap_value("date", "2026-12-31")] == [
        "true", "2.0", "2026-11-23T09:30:00.000Z", "2026-12-31"]
