"""Outbound Messages from the Salesforce sandbox: every change to a Lead or an Opportunity,
through the REST API or as a sales rep, is posted as a SOAP ``notifications`` call and
retried with backoff until the listener acknowledges it; Accord's ingest accepts them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from services.contracts.events import SalesforceChangeReceived
from services.ingest.salesforce_outbound import event_id_for
from services.ingest.salesforce_soap import OutboundMessage, org_accepted
from tests.integration.sandboxes.conftest import running_sandbox
from tests.integration.sandboxes.salesforce_client import (
    INTEGRATION_USER,
    JAMES,
    MARIA,
    ORG_ID,
    connect,
    eventually,
    lead,
    new_key,
)
from tests.integration.sandboxes.salesforce_receivers import OutboundReceiver, running_ingest
from tests.recording_publisher import StubPublisher

if TYPE_CHECKING:
    from tests.integration.sandboxes.conftest import SalesforceSandbox

pytestmark = pytest.mark.integration

KEY = "Accord_Lead_Key__c"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SalesforceSandbox]:
    """A sandbox that retries unacknowledged messages after 0.2 s, doubling up to 0.8 s."""
    started = running_sandbox(tmp_path_factory, {
        "SALESFORCE_SANDBOX_OUTBOUND_RETRY_INITIAL_SECONDS": "0.2",
        "SALESFORCE_SANDBOX_OUTBOUND_RETRY_MAX_SECONDS": "0.8",
        "SALESFORCE_SANDBOX_OUTBOUND_TIMEOUT_SECONDS": "5"})
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def receiver(sandbox: SalesforceSandbox) -> Iterator[OutboundReceiver]:
    """A listener the sandbox sends to; everything queued is delivered before the next test."""
    with OutboundReceiver() as listening:
        sandbox.knobs(outbound_message_url=listening.url)
        try:
            yield listening
        finally:
            listening.delay_seconds = 0
            eventually(lambda: sandbox.admin("GET", "/outbound").json()["pending"] == 0,
                       timeout=20)
            sandbox.admin("DELETE", "/knobs")


def notifications_of(receiver: OutboundReceiver, record_id: str,
                     count: int = 1) -> list[tuple[OutboundMessage, dict[str, Any]]]:
    """The first ``count`` notifications about ``record_id``, with their message."""
    def found() -> list[tuple[OutboundMessage, dict[str, Any]]] | None:
        seen = [(m, {"id": n.id, "type": n.sobject_type, **n.fields})
                for m in receiver.messages() for n in m.notifications
                if n.sobject_id == record_id]
        return seen[:count] if len(seen) >= count else None
    return eventually(found, timeout=15)


def test_given_lead_upserted_by_integration_when_delivered_then_soap_message_ingest_reads(
        sandbox: SalesforceSandbox, receiver: OutboundReceiver) -> None:
    sf = connect(sandbox)
    key = new_key()
    sf.Lead.upsert(f"{KEY}/{key}", lead(Email=key, Accord_Score__c=72))
    lead_id = sf.Lead.get_by_custom_id(KEY, key)["Id"]

    [(message, fields)] = notifications_of(receiver, lead_id)

    assert org_accepted(message.organization_id, [ORG_ID[:15]])
    assert message.action_id.startswith("04k") and fields["id"].startswith("04l")
    assert fields["type"] == "Lead"
    assert (fields[KEY], fields["Email"], fields["Status"]) == (key, key, "Marketing Qualified")
    assert (fields["OwnerId"], fields["Accord_Score__c"]) == (MARIA, "72.0")
    assert fields["LastModifiedById"] == INTEGRATION_USER
    assert fields["IsConverted"] == "false" and fields["LastModifiedDate"].endswith("Z")
    posted = receiver.received[0]
    assert posted.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert posted.headers["SOAPAction"] == '""'
    assert b'<SessionId xsi:nil="true"/>' in posted.body
    assert b"<EnterpriseUrl>https://127.0.0.1:" in posted.body


def test_given_sales_rep_changes_status_when_delivered_then_last_modified_by_is_the_rep(
        sandbox: SalesforceSandbox, receiver: OutboundReceiver) -> None:
    sf = connect(sandbox)
    key = new_key()
    sf.Lead.upsert(f"{KEY}/{key}", lead())
    lead_id = sf.Lead.get_by_custom_id(KEY, key)["Id"]
    notifications_of(receiver, lead_id)

    changed = sandbox.admin("POST", f"/sales/leads/{key}/status",
                            {"status": "Working - Contacted", "user_id": JAMES})

    assert changed.status_code == 200, changed.text
    assert changed.json()["LastModifiedById"] == JAMES
    _, fields = notifications_of(receiver, lead_id, 2)[1]
    assert (fields["Status"], fields["LastModifiedById"]) == ("Working - Contacted", JAMES)


def test_given_rep_wins_opportunity_when_delivered_then_closed_won_with_amount(
        sandbox: SalesforceSandbox, receiver: OutboundReceiver) -> None:
    sf = connect(sandbox)
    key = new_key()
    sf.Lead.upsert(f"{KEY}/{key}", lead(Company="Globex"))
    converted = sandbox.admin("POST", f"/sales/leads/{key}/convert",
                              {"opportunity": {"Amount": 1000}}).json()

    won = sandbox.admin("POST", f"/sales/opportunities/{converted['opportunityId']}/win",
                        {"amount": 52000})

    assert won.status_code == 200, won.text
    fields = notifications_of(receiver, converted["opportunityId"], 2)[1][1]
    assert fields["type"] == "Opportunity"
    assert (fields["StageName"], fields["Amount"], fields["IsWon"]) == (
        "Closed Won", "52000.0", "true")
    assert (fields["LastModifiedById"], fields[KEY]) == (MARIA, key)
    assert fields["Name"] == "Globex-" and fields["CloseDate"] == won.json()["CloseDate"]


def test_given_listener_failing_when_delivered_then_retried_with_same_id_until_ack(
        sandbox: SalesforceSandbox, receiver: OutboundReceiver) -> None:
    receiver.script = [(500, b"down"), (200, b"<ok/>")]
    sf = connect(sandbox)
    key = new_key()

    sf.Lead.upsert(f"{KEY}/{key}", lead())
    lead_id = sf.Lead.get_by_custom_id(KEY, key)["Id"]

    attempts = notifications_of(receiver, lead_id, 3)
    assert len({fields["id"] for _, fields in attempts}) == 1
    assert [r.answered for r in receiver.received[:3]] == [500, 200, 200]
    summary = eventually(lambda: _delivered(sandbox, attempts[0][1]["id"]))
    assert summary["attempts"] == 3
    time.sleep(1.0)
    assert len(notifications_of(receiver, lead_id, 3)) == 3
    assert len([r for r in receiver.received if lead_id.encode() in r.body]) == 3


def _delivered(sandbox: SalesforceSandbox, notification_id: str) -> dict[str, Any] | None:
    latest = sandbox.admin("GET", "/outbound").json()["latest"]
    found = [n for n in latest if n["id"] == notification_id and n["state"] == "delivered"]
    return found[0] if found else None


def test_given_slow_listener_when_lead_upserted_then_rest_answer_is_not_delayed(
        sandbox: SalesforceSandbox, receiver: OutboundReceiver) -> None:
    receiver.delay_seconds = 2.0
    sf = connect(sandbox)
    sf.Lead.upsert(f"{KEY}/{new_key()}", lead())  # the listener is now busy for 2 s

    started = time.monotonic()
    sf.Lead.upsert(f"{KEY}/{new_key()}", lead())

    assert time.monotonic() - started < 1.0


def test_given_150_leads_in_one_collection_when_delivered_then_two_messages_of_one_action(
        sandbox: SalesforceSandbox, receiver: OutboundReceiver) -> None:
    sf = connect(sandbox)
    rows = [{"attributes": {"type": "Lead"}, KEY: new_key(), **lead()} for _ in range(150)]

    sf.restful(f"composite/sobjects/Lead/{KEY}", method="PATCH", json={"records": rows})

    keys = {row[KEY] for row in rows}

    def ours() -> list[OutboundMessage] | None:
        found = [m for m in receiver.messages()
                 if any(n.fields.get(KEY) in keys for n in m.notifications)]
        total = sum(1 for m in found for n in m.notifications if n.fields.get(KEY) in keys)
        return found if total == 150 else None
    messages = eventually(ours)
    assert len(messages) == 2
    assert all(len(m.notifications) <= 100 for m in messages)
    assert len({m.action_id for m in messages}) == 1


def test_given_contact_changed_when_only_leads_and_opportunities_configured_then_no_message(
        sandbox: SalesforceSandbox, receiver: OutboundReceiver) -> None:
    sf = connect(sandbox)

    contact_id = sf.Contact.create({"LastName": "Lee"})["id"]
    key = new_key()
    sf.Lead.upsert(f"{KEY}/{key}", lead())

    notifications_of(receiver, sf.Lead.get_by_custom_id(KEY, key)["Id"])
    assert all(n.sobject_id != contact_id for m in receiver.messages()
               for n in m.notifications)


def test_given_no_endpoint_when_lead_changed_then_nothing_is_queued(
        sandbox: SalesforceSandbox) -> None:
    before = sandbox.admin("GET", "/outbound").json()
    sf = connect(sandbox)

    sf.Lead.upsert(f"{KEY}/{new_key()}", lead())

    after = sandbox.admin("GET", "/outbound").json()
    assert (after["pending"], after["delivered"]) == (before["pending"], before["delivered"])


def test_given_accord_ingest_when_broker_down_then_retried_until_published_with_stable_ids(
        sandbox: SalesforceSandbox) -> None:
    publisher = StubPublisher(fail=True)
    with running_ingest([ORG_ID], publisher) as url:
        sandbox.knobs(outbound_message_url=url)
        try:
            sf = connect(sandbox)
            key = new_key()
            sf.Lead.upsert(f"{KEY}/{key}", lead(Email=key))
            lead_id = sf.Lead.get_by_custom_id(KEY, key)["Id"]
            eventually(lambda: _attempted(sandbox, lead_id))
            publisher.fail = False

            _, records = eventually(lambda: publisher.sent[0] if publisher.sent else None)
        finally:
            sandbox.admin("DELETE", "/knobs")

    record = records[0]
    change = SalesforceChangeReceived.model_validate_json(record.value)
    assert record.key == f"salesforce:{ORG_ID}:Lead:{lead_id}".encode()
    assert dict(record.headers)["ce_id"].decode() == event_id_for(change)
    assert (change.fields[KEY], change.fields["LastModifiedById"]) == (key, INTEGRATION_USER)
    state = eventually(lambda: _state(sandbox, lead_id, "delivered"))
    assert state["attempts"] >= 2


def _attempted(sandbox: SalesforceSandbox, record_id: str) -> bool:
    latest = sandbox.admin("GET", "/outbound").json()["latest"]
    return any(n["record_id"] == record_id and n["attempts"] >= 1 for n in latest)


def _state(sandbox: SalesforceSandbox, record_id: str, state: str) -> dict[str, Any] | None:
    latest = sandbox.admin("GET", "/outbound").json()["latest"]
    found = [n for n in latest if n["record_id"] == record_id and n["state"] == state]
    return found[0] if found else None
