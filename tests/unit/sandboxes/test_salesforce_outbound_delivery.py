"""The Salesforce sandbox's outbox and its delivery: what a change queues, when a failed
message is tried again, when it is given up, and what data it carries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandboxes.salesforce.auth import ApiUsage, Sessions
from sandboxes.salesforce.knobs import Knobs
from sandboxes.salesforce.metadata import CONTACT, INTEGRATION_USER_ID, LEAD, SObjectDef
from sandboxes.salesforce.outbound_delivery import OutboundDelivery
from sandboxes.salesforce.outbox import Outbox
from sandboxes.salesforce.records import Records
from sandboxes.salesforce.seed import seed_users, users_from_owners_file
from sandboxes.salesforce.settings import SalesforceSandboxSettings
from sandboxes.salesforce.sobject_collections import upsert_collection
from sandboxes.salesforce.store import Store
from services.ingest.salesforce_soap import ACK, parse_outbound_message

OWNERS = Path(__file__).resolve().parents[3] / "sandboxes" / "owners.yaml"
MARIA = "005000000000001AAA"
KEY = "Accord_Lead_Key__c"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Listener:
    """Answers with ``status`` and ``body``; keeps every request body."""

    status: int = 500
    body: bytes = b"down"
    bodies: list[bytes] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(request.content)
        return httpx.Response(self.status, content=self.body)

    def fields(self, index: int = -1) -> dict[str, Any]:
        return dict(parse_outbound_message(self.bodies[index], 10_000_000)
                    .notifications[0].fields)


@dataclass
class Org:
    store: Store
    records: Records
    outbox: Outbox
    delivery: OutboundDelivery
    clock: Clock
    sessions: Sessions


@pytest.fixture
def org(tmp_path: Path) -> Org:
    clock = Clock()
    settings = SalesforceSandboxSettings(data_dir=tmp_path, outbound_message_url="http://x/om",
                                         outbound_retry_initial_seconds=30,
                                         outbound_retry_max_seconds=100)
    store = Store(settings.database_path)
    seed_users(store, users_from_owners_file(OWNERS), datetime.now(UTC))
    outbox = Outbox(store, ["Lead"], clock)

    def notify(target: SObjectDef, record: dict[str, Any]) -> None:
        if outbox.wants(target):
            outbox.enqueue(target, record)

    sessions = Sessions(settings, store, clock)
    knobs = Knobs(settings, ApiUsage(store, 100))
    return Org(store, Records(store, on_save=notify), outbox,
               OutboundDelivery(settings, store, outbox, knobs, sessions, clock), clock, sessions)


def lead(**fields: object) -> dict[str, object]:
    return {"LastName": "Lee", "Company": "Acme", "OwnerId": MARIA, **fields}


async def deliver(org: Org, listener: Listener) -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(listener)) as client:
        await org.delivery.deliver_due(client)


def test_given_lead_and_contact_saved_when_only_leads_configured_then_one_queued(org: Org) -> None:
    org.records.create(LEAD, lead())
    org.records.create(CONTACT, {"LastName": "Lee"})

    due = org.outbox.due(org.clock.now)

    assert [(p.sobject, p.snapshot["LastModifiedById"]) for p in due] == [
        ("Lead", INTEGRATION_USER_ID)]


async def test_given_listener_failing_when_delivered_then_retries_double_up_to_the_cap(
        org: Org) -> None:
    org.records.create(LEAD, lead())
    listener = Listener()
    waits = []

    for _ in range(4):
        await deliver(org, listener)
        waits.append(org.outbox.next_attempt_at() - org.clock.now)
        org.clock.now += waits[-1]

    assert waits == [30, 60, 100, 100]
    assert len(listener.bodies) == 4
    assert len({parse_outbound_message(b, 10**7).notifications[0].id
                for b in listener.bodies}) == 1


async def test_given_ack_when_delivered_then_nothing_left_to_send(org: Org) -> None:
    org.records.create(LEAD, lead())
    listener = Listener(200, ACK)

    await deliver(org, listener)
    await deliver(org, listener)

    assert len(listener.bodies) == 1
    assert org.outbox.summary()["delivered"] == 1
    assert org.outbox.next_attempt_at() is None


async def test_given_200_without_ack_when_delivered_then_retried(org: Org) -> None:
    org.records.create(LEAD, lead())

    await deliver(org, Listener(200, b"<ok/>"))

    assert org.outbox.summary()["latest"][0]["last_error"].startswith("HTTP 200 without")


async def test_given_day_undelivered_when_due_then_dropped_unsent(org: Org) -> None:
    org.records.create(LEAD, lead())
    org.clock.now += 86_400
    listener = Listener(200, ACK)

    await deliver(org, listener)

    assert listener.bodies == []
    assert org.outbox.summary()["dropped"] == 1


async def test_given_record_changed_before_delivery_when_sent_then_latest_data(org: Org) -> None:
    lead_id = org.records.create(LEAD, lead(Status="Nurture"))
    org.records.as_user(MARIA).update(LEAD, lead_id, {"Status": "Working - Contacted"})
    listener = Listener(200, ACK)

    await deliver(org, listener)

    message = parse_outbound_message(listener.bodies[0], 10**7)
    assert [(n.fields["Status"], n.fields["LastModifiedById"])
            for n in message.notifications] == [("Working - Contacted", MARIA)] * 2


async def test_given_session_id_setting_when_sent_then_live_integration_session(
        org: Org, tmp_path: Path) -> None:
    settings = SalesforceSandboxSettings(data_dir=tmp_path, outbound_message_url="http://x/om",
                                         outbound_send_session_id=True)
    delivery = OutboundDelivery(settings, org.store, org.outbox,
                                Knobs(settings, ApiUsage(org.store, 1)), org.sessions, org.clock)
    org.records.create(LEAD, lead())
    listener = Listener(200, ACK)

    async with httpx.AsyncClient(transport=httpx.MockTransport(listener)) as client:
        await delivery.deliver_due(client)

    session = listener.bodies[0].split(b"<SessionId>")[1].split(b"</SessionId>")[0].decode()
    assert org.sessions.user_for(f"Bearer {session}") == INTEGRATION_USER_ID


def test_given_all_or_none_rolled_back_when_collection_fails_then_no_notification(
        org: Org) -> None:
    body = {"allOrNone": True, "records": [
        {"attributes": {"type": "Lead"}, KEY: "a@example.com", **lead()},
        {"attributes": {"type": "Lead"}, KEY: "b@example.com", **lead(Status="Hot")}]}

    results = upsert_collection(org.records, LEAD, KEY, body)

    assert [r["success"] for r in results] == [False, False]
    assert org.outbox.due(org.clock.now) == []
    assert org.store.records("Lead") == []


def test_given_collection_partly_valid_when_upserted_then_valid_ones_notified(org: Org) -> None:
    body = {"records": [{"attributes": {"type": "Lead"}, KEY: "a@example.com", **lead()},
                        {"attributes": {"type": "Lead"}, KEY: "b@example.com",
                         **lead(Status="Hot")}]}

    results = upsert_collection(org.records, LEAD, KEY, body)

    assert [r["success"] for r in results] == [True, False]
    assert [p.snapshot[KEY] for p in org.outbox.due(org.clock.now)] == ["a@example.com"]
