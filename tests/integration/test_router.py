"""The router as a real worker process on the real broker: events in, explained decisions out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from services.contracts.envelope import decode, encode
from services.contracts.events import LEAD_CAPTURED, LEAD_ROUTED
from services.messaging.dead_letters import PREFIX
from services.messaging.settings import KafkaSettings
from services.messaging.topics import LEAD_EVENTS, ROUTER_DEAD_LETTERS
from tests.builders import a_captured_lead
from tests.conftest import read_decisions, read_records
from tests.integration.service_processes import ServiceProcess, start_service

pytestmark = pytest.mark.integration


@pytest.fixture
def router(fresh_kafka: KafkaSettings, tmp_path: Path) -> Iterator[ServiceProcess]:
    """One router worker on this test's own topics."""
    process = start_service("services.router", {
        "ACCORD_KAFKA_BOOTSTRAP_SERVERS": fresh_kafka.bootstrap_servers,
        "ACCORD_KAFKA_TOPIC_PREFIX": fresh_kafka.topic_prefix,
    }, tmp_path / "router.log")
    yield process
    process.stop()


async def publish(settings: KafkaSettings, records: list[tuple[bytes, bytes, list]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all",
                                enable_idempotence=True)
    await producer.start()
    try:
        for key, value, headers in records:
            await producer.send_and_wait(settings.topic(LEAD_EVENTS), value, key=key,
                                         headers=headers)
    finally:
        await producer.stop()


async def test_given_three_leads_and_a_redelivery_when_routed_then_one_decision_each(
        router: ServiceProcess, fresh_kafka: KafkaSettings):
    leads = [
        a_captured_lead(email="ada@siemens.example", employees=5000, country="DE"),
        a_captured_lead(email="bo@shop.example", employees=300, country="US"),
        a_captured_lead(email="cy@gmail.com", employees=None, country=None, title=None,
                        lead_source="web_form"),
    ]
    records = [encode(LEAD_CAPTURED, "/test", lead.lead_key, lead, event_id=f"evt-{i}")
               for i, lead in enumerate(leads)]
    redelivered = records[0]
    await publish(fresh_kafka, [(r.key, r.value, r.headers) for r in [*records, redelivered]])

    decisions = await read_decisions(fresh_kafka, 4, within=60)
    by_lead = {}
    for record in decisions:
        envelope = decode(record.key, record.value, list(record.headers))
        assert envelope.type == LEAD_ROUTED
        by_lead.setdefault(envelope.data["lead_key"], []).append(envelope)
    assert {k: v[0].data["owner"]["email"] for k, v in by_lead.items()} == {
        "ada@siemens.example": "maria.garcia@accord.example",
        "bo@shop.example": "amara.okafor@accord.example",
        "cy@gmail.com": "nurture.queue@accord.example",
    }
    # The redelivery re-emits the same decision (same id) and never a different owner.
    ada = by_lead["ada@siemens.example"]
    assert len(ada) == 2 and ada[0].id == ada[1].id and ada[0].data == ada[1].data
    explained = ada[0].data
    assert explained["ruleset_version"] == "2026.11.23-5"
    assert "routing.enterprise_emea" in explained["matched_rules"]
    assert explained["score"] == sum(line["points"] for line in explained["score_breakdown"])


async def test_given_a_poison_event_when_routed_then_dead_lettered_and_the_next_one_routed(
        router: ServiceProcess, fresh_kafka: KafkaSettings):
    good = a_captured_lead(email="after.poison@example.com")
    good_record = encode(LEAD_CAPTURED, "/test", good.lead_key, good, event_id="good")
    poison_headers = [("ce_id", b"poison"), ("ce_type", LEAD_CAPTURED.encode()),
                      ("ce_source", b"/test"), ("ce_specversion", b"1.0"),
                      ("content-type", b"application/json")]
    await publish(fresh_kafka, [
        (good.lead_key.encode(), json.dumps({"lead_key": good.lead_key}).encode(),
         poison_headers),
        (good_record.key, good_record.value, good_record.headers),
    ])
    [dead] = await read_records(fresh_kafka, ROUTER_DEAD_LETTERS, 1, within=60)
    headers = dict(dead.headers)
    assert headers["ce_id"] == b"poison"
    assert b"fields" in headers[PREFIX + "reason"]
    assert headers[PREFIX + "stage"] == b"router"
    [decision] = await read_decisions(fresh_kafka, 1, within=60)
    assert decode(decision.key, decision.value, list(decision.headers)).data["caused_by"] == "good"


async def test_given_a_restarted_router_when_a_later_event_arrives_then_record_was_restored(
        fresh_kafka: KafkaSettings, tmp_path: Path):
    env = {"ACCORD_KAFKA_BOOTSTRAP_SERVERS": fresh_kafka.bootstrap_servers,
           "ACCORD_KAFKA_TOPIC_PREFIX": fresh_kafka.topic_prefix}
    first = a_captured_lead(email="dee@siemens.example", employees=5000, country="DE")
    record = encode(LEAD_CAPTURED, "/test", first.lead_key, first, event_id="first")
    router = start_service("services.router", env, tmp_path / "router-1.log")
    try:
        await publish(fresh_kafka, [(record.key, record.value, record.headers)])
        await read_decisions(fresh_kafka, 1, within=60)
    finally:
        assert router.stop() == 0, router.output()[-2000:]

    # A page view alone would score far below MQL; only the restored record keeps the stage.
    later = a_captured_lead(email="dee@siemens.example", lead_source="page_view",
                            employees=None, title=None, country=None)
    later_record = encode(LEAD_CAPTURED, "/test", later.lead_key, later, event_id="later")
    router = start_service("services.router", env, tmp_path / "router-2.log")
    try:
        await publish(fresh_kafka, [(later_record.key, later_record.value,
                                     later_record.headers)])
        decisions = await read_decisions(fresh_kafka, 2, within=60)
    finally:
        router.stop()
    [after] = [decode(r.key, r.value, list(r.headers)).data for r in decisions
               if dict(r.headers)["ce_id"] != dict(decisions[0].headers)["ce_id"]]
    assert after["caused_by"] == "later"
    assert after["stage"] == "mql"
    assert after["lead"]["employees"] == 5000  # merged from the first event


async def test_given_a_routed_lead_when_sales_accepts_it_in_salesforce_then_sql_and_no_echo(
        router: ServiceProcess, fresh_kafka: KafkaSettings):
    from datetime import UTC, datetime

    from services.contracts.events import SALESFORCE_CHANGE_RECEIVED, SalesforceChangeReceived
    from services.messaging.topics import CRM_CHANGES

    lead = a_captured_lead(email="ada@siemens.example", employees=5000, country="DE")
    captured = encode(LEAD_CAPTURED, "/test", lead.lead_key, lead, event_id="captured")

    def change(notification: str, status: str, by: str):
        data = SalesforceChangeReceived(
            organization_id="00D000000000001AAA", action_id="04k000000000001AAA",
            notification_id=notification, sobject_type="Lead",
            sobject_id="00Q000000000001AAA", received_at=datetime.now(UTC),
            fields={"Accord_Lead_Key__c": lead.lead_key, "Status": status,
                    "LastModifiedById": by})
        return encode(SALESFORCE_CHANGE_RECEIVED, "/accord/ingest/webhooks/salesforce",
                      "salesforce:00D000000000001AAA:Lead:00Q000000000001AAA", data,
                      event_id=notification)

    echo = change("echo", "Marketing Qualified", "005000000000009AAA")   # our own write
    accepted = change("accepted", "Working - Contacted", "005000000000001AAA")  # a rep
    await publish(fresh_kafka, [(captured.key, captured.value, captured.headers)])
    await read_decisions(fresh_kafka, 1, within=60)
    producer = AIOKafkaProducer(bootstrap_servers=fresh_kafka.bootstrap_servers, acks="all",
                                enable_idempotence=True)
    await producer.start()
    try:
        for record in (echo, accepted):
            await producer.send_and_wait(fresh_kafka.topic(CRM_CHANGES), record.value,
                                         key=record.key, headers=record.headers)
    finally:
        await producer.stop()
    decisions = [decode(r.key, r.value, list(r.headers)).data
                 for r in await read_decisions(fresh_kafka, 2, within=60)]
    assert [d["caused_by"] for d in decisions] == ["captured", "accepted"]  # no echo decision
    assert decisions[1]["stage"] == "sql"
    assert decisions[1]["owner"]["email"] == "maria.garcia@accord.example"
