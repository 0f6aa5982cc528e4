"""Webhooks the HubSpot sandbox sends: HubSpot's payload, v3 signature, batching, retries.

Each batch is checked with Accord's own ingest code (signature verification and batch
parsing), so what the sandbox sends is what ingest accepts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import Iterator

import httpx
import hubspot
import pytest
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInputUpsert,
    SimplePublicObjectBatchInputUpsert,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.deals import BatchInputSimplePublicObjectBatchInputUpsert as DealUpserts
from hubspot.crm.deals import SimplePublicObjectBatchInputUpsert as DealUpsert

from services.ingest import hubspot_signature
from services.ingest.hubspot_webhooks import parse_batch
from tests.integration.sandboxes.hubspot_fixture import HubSpotSandbox, start_hubspot_sandbox
from tests.integration.sandboxes.hubspot_webhook_receiver import (
    Delivery,
    Receiver,
    start_receiver,
)

pytestmark = pytest.mark.integration

APP_ID = 4400777
SECRET = "sandbox-webhook-test-secret"
PORTAL = 62515
MAX_ATTEMPTS = 4
REP_USER_ID = 41000002 + 34_000_000  # James Chen's user id (owner id + offset)


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    yield from start_receiver()


@pytest.fixture(scope="module")
def sandbox(receiver: Receiver,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubSpotSandbox]:
    started = start_hubspot_sandbox(tmp_path_factory.mktemp("hubspot-webhooks") / "data", {
        "HUBSPOT_SANDBOX_WEBHOOK_TARGET_URL": receiver.url,
        "HUBSPOT_SANDBOX_APP_ID": str(APP_ID),
        "HUBSPOT_SANDBOX_CLIENT_SECRET": SECRET,
        "HUBSPOT_SANDBOX_WEBHOOK_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
        "HUBSPOT_SANDBOX_WEBHOOK_RETRY_BASE_SECONDS": "0.05",
        "HUBSPOT_SANDBOX_WEBHOOK_RETRY_CAP_SECONDS": "0.2",
        "HUBSPOT_SANDBOX_WEBHOOK_TIMEOUT_SECONDS": "1",
    })
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def client(sandbox: HubSpotSandbox, receiver: Receiver) -> hubspot.Client:
    receiver.planned.clear()
    receiver.delay_seconds = 0.0
    return hubspot.Client.create(access_token=sandbox.access_token, host=sandbox.base_url)


def email() -> str:
    return f"hook.{uuid.uuid4().hex[:8]}@example.com"


def create_contact(client: hubspot.Client, **values: str) -> str:
    created = client.crm.contacts.basic_api.create(
        simple_public_object_input_for_create=SimplePublicObjectInputForCreate(
            properties={"email": email(), **values}))
    return str(created.id)


def accepted_by_ingest(delivery: Delivery, url: str) -> None:
    """Accord's ingest checks: v3 signature against the public URL, then the batch shape."""
    verdict = hubspot_signature.verify(
        hubspot_signature.SignedRequest("POST", url, delivery.body, delivery.headers),
        SECRET, ["v3"], now_ms=time.time_ns() // 1_000_000)
    assert verdict.ok, verdict.detail
    assert len(parse_batch(delivery.body)) == len(delivery.events) <= 100


def test_given_contact_created_through_api_when_delivered_then_integration_events_signed(
        client, receiver):
    contact_id = create_contact(client, firstname="Ann", lifecyclestage="lead")

    receiver.wait_for(lambda: len(receiver.events_for(contact_id)) == 4)

    events = receiver.events_for(contact_id)
    creation = next(e for e in events if e["subscriptionType"] == "contact.creation")
    assert creation["changeFlag"] == "CREATED"
    changed = {e["propertyName"]: e["propertyValue"] for e in events
               if e["subscriptionType"] == "contact.propertyChange"}
    assert changed.pop("email").startswith("hook.")
    assert changed == {"firstname": "Ann", "lifecyclestage": "lead"}
    for event in events:
        assert (event["portalId"], event["appId"], event["attemptNumber"]) == (PORTAL, APP_ID, 0)
        assert (event["changeSource"], event["sourceId"]) == ("INTEGRATION", str(APP_ID))
        assert event["objectId"] == int(contact_id)
        assert abs(event["occurredAt"] - time.time() * 1000) < 60_000
    delivery = next(d for d in receiver.received() if d.events[0]["objectId"] == int(contact_id))
    assert delivery.path == "/webhooks/hubspot"
    assert delivery.headers["Content-Type"] == "application/json"
    accepted_by_ingest(delivery, receiver.url)
    # Also the v1 signature HubSpot sends next to v3: SHA-256 of secret + body.
    assert delivery.headers["X-HubSpot-Signature-Version"] == "v1"
    assert delivery.headers["X-HubSpot-Signature"] == hashlib.sha256(
        SECRET.encode() + delivery.body).hexdigest()


def test_given_signature_when_recomputed_from_hubspot_docs_then_it_matches(client, receiver):
    contact_id = create_contact(client)
    receiver.wait_for(lambda: bool(receiver.events_for(contact_id)))
    delivery = next(d for d in receiver.received() if d.events[0]["objectId"] == int(contact_id))

    timestamp = delivery.headers["X-HubSpot-Request-Timestamp"]
    message = b"POST" + receiver.url.encode() + delivery.body + timestamp.encode()
    expected = base64.b64encode(hmac.new(SECRET.encode(), message, hashlib.sha256).digest())

    assert delivery.headers["X-HubSpot-Signature-v3"] == expected.decode()
    assert abs(int(timestamp) - time.time() * 1000) < 60_000


def test_given_rep_edits_contact_in_crm_ui_when_delivered_then_crm_ui_change_of_that_value(
        sandbox, client, receiver):
    contact_id = create_contact(client, firstname="Ann", jobtitle="CTO")
    receiver.wait_for(lambda: bool(receiver.events_for(contact_id)))

    sandbox.admin("POST", f"rep/contacts/{contact_id}",
                  {"properties": {"firstname": "Anna", "jobtitle": "CTO"},
                   "owner_id": "41000002"})

    def rep_events() -> list[dict]:
        return [e for e in receiver.events_for(contact_id) if e["changeSource"] == "CRM_UI"]
    receiver.wait_for(lambda: bool(rep_events()))
    time.sleep(0.3)
    [event] = rep_events()  # jobtitle did not change, so it raised no event
    assert event["subscriptionType"] == "contact.propertyChange"
    assert (event["propertyName"], event["propertyValue"]) == ("firstname", "Anna")
    assert event["sourceId"] == f"userId:{REP_USER_ID}"


def test_given_api_update_when_delivered_then_only_changed_properties_reported(
        client, receiver):
    contact_id = create_contact(client, firstname="Bo", company="Acme")
    receiver.wait_for(lambda: bool(receiver.events_for(contact_id)))
    before = len(receiver.events_for(contact_id))

    client.crm.contacts.basic_api.update(contact_id, simple_public_object_input=(
        SimplePublicObjectInput(properties={"company": "Acme", "accord_score": "42"})))

    receiver.wait_for(lambda: len(receiver.events_for(contact_id)) > before)
    time.sleep(0.3)
    new = receiver.events_for(contact_id)[before:]
    assert [(e["propertyName"], e["propertyValue"], e["changeSource"]) for e in new] == [
        ("accord_score", "42", "INTEGRATION")]


def test_given_deal_upserts_when_delivered_then_deal_creation_and_property_changes(
        client, receiver):
    key = f"deal-{uuid.uuid4().hex[:8]}"
    batch = DealUpserts(inputs=[DealUpsert(id_property="accord_deal_key", id=key,
                                           properties={"dealname": "Hooked"})])
    deal_id = client.crm.deals.batch_api.upsert(
        batch_input_simple_public_object_batch_input_upsert=batch).results[0].id
    receiver.wait_for(lambda: len(receiver.events_for(deal_id)) == 4)
    batch.inputs[0].properties = {"dealstage": "closedwon"}

    client.crm.deals.batch_api.upsert(batch_input_simple_public_object_batch_input_upsert=batch)

    receiver.wait_for(lambda: len(receiver.events_for(deal_id)) == 5)
    kinds = [(e["subscriptionType"], e.get("propertyName")) for e in receiver.events_for(deal_id)]
    assert kinds[0] == ("deal.creation", None)
    assert set(kinds[1:4]) == {("deal.propertyChange", name)
                               for name in ("dealname", "accord_deal_key", "pipeline")}
    assert kinds[4] == ("deal.propertyChange", "dealstage")
    for delivery in receiver.received():
        accepted_by_ingest(delivery, receiver.url)


def test_given_many_changes_at_once_when_delivered_then_batches_of_at_most_100(
        client, receiver):
    emails = [email() for _ in range(60)]
    batch = BatchInputSimplePublicObjectBatchInputUpsert(inputs=[
        SimplePublicObjectBatchInputUpsert(id_property="email", id=address,
                                           properties={"firstname": "Many"})
        for address in emails])
    results = client.crm.contacts.batch_api.upsert(
        batch_input_simple_public_object_batch_input_upsert=batch).results
    ids = {int(r.id) for r in results}

    def ours() -> list[Delivery]:
        return [d for d in receiver.received() if {e["objectId"] for e in d.events} & ids]
    receiver.wait_for(lambda: sum(len(d.events) for d in ours()) == 180)

    assert len(ours()) >= 2
    assert all(len(d.events) <= 100 for d in ours())
    assert len({e["eventId"] for d in ours() for e in d.events}) == 180


def test_given_target_failing_twice_when_delivered_then_retried_with_attempt_numbers(
        client, receiver):
    receiver.planned.extend([503, 500])
    contact_id = create_contact(client)

    receiver.wait_for(lambda: bool(receiver.events_for(contact_id)))

    tries = [d for d in receiver.received() if d.events[0]["objectId"] == int(contact_id)]
    assert [d.status for d in tries] == [503, 500, 204]
    assert [d.events[0]["attemptNumber"] for d in tries] == [0, 1, 2]
    assert len({tuple(e["eventId"] for e in d.events) for d in tries}) == 1
    assert len({d.headers["X-HubSpot-Request-Timestamp"] for d in tries}) == 3
    for delivery in tries:
        accepted_by_ingest(delivery, receiver.url)


def test_given_target_always_failing_when_attempts_run_out_then_batch_dropped(
        sandbox, client, receiver):
    failed_before = sandbox.admin("GET", "webhooks")["failedEvents"]
    receiver.planned.extend([500] * MAX_ATTEMPTS)
    contact_id = create_contact(client)

    receiver.wait_for(lambda: sandbox.admin("GET", "webhooks")["failedEvents"] > failed_before)

    tries = [d for d in receiver.received() if d.events[0]["objectId"] == int(contact_id)]
    assert [d.events[0]["attemptNumber"] for d in tries] == list(range(MAX_ATTEMPTS))
    status = sandbox.admin("GET", "webhooks")
    assert status["targetUrl"] == receiver.url
    assert status["attempts"][-1]["status"] == 500


def test_given_slow_target_when_api_called_then_answer_does_not_wait_and_timeout_retried(
        client, receiver):
    receiver.delay_seconds = 2.0  # beyond the sandbox's 1 s webhook timeout
    started = time.monotonic()
    contact_id = create_contact(client)
    elapsed = time.monotonic() - started
    receiver.wait_for(lambda: len([d for d in receiver.received()
                                   if d.events[0]["objectId"] == int(contact_id)]) >= 2)
    receiver.delay_seconds = 0.0

    assert elapsed < 0.5
    receiver.wait_for(lambda: bool(receiver.events_for(contact_id)), timeout=20)
    attempts = {e["attemptNumber"] for d in receiver.received() for e in d.events
                if e["objectId"] == int(contact_id)}
    assert {0, 1} <= attempts


def test_given_webhook_status_when_listed_without_target_then_empty(tmp_path):
    quiet = start_hubspot_sandbox(tmp_path / "data")
    try:
        status = quiet.admin("GET", "webhooks")
        refused = httpx.get(f"{quiet.base_url}/__sandbox/webhooks", trust_env=False)
    finally:
        quiet.stop()

    assert status["targetUrl"] is None and status["deliveredEvents"] == 0
    assert refused.status_code == 401  # the admin API needs the admin token
