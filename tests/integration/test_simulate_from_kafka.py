"""``accord rules simulate --from-kafka``: replaying the real lead-events topic."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from typer.testing import CliRunner

from deploy.local.kafka_broker import REPO_ROOT
from services.cli import app
from services.contracts.envelope import KafkaRecord, encode, encode_json
from services.contracts.events import (
    HUBSPOT_CHANGE_RECEIVED,
    LEAD_CAPTURED,
    SALESFORCE_CHANGE_RECEIVED,
    SalesforceChangeReceived,
)
from services.messaging.settings import KafkaSettings
from services.messaging.topics import CRM_CHANGES_BY_LEAD, LEAD_EVENTS
from services.router.handoff_messages import POOL_PICK_MADE
from tests.builders import a_captured_lead, an_example_of

pytestmark = pytest.mark.integration

SHIPPED = REPO_ROOT / "rules" / "leads.yaml"
MARIA, SOFIA = "maria.garcia@accord.example", "sofia.rossi@accord.example"
AT = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


async def publish(settings: KafkaSettings, records: list[KafkaRecord],
                  topic: str = LEAD_EVENTS) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
    await producer.start()
    try:
        for record in records:
            await producer.send_and_wait(settings.topic(topic), record.value,
                                         key=record.key, headers=record.headers)
    finally:
        await producer.stop()


async def simulate(settings: KafkaSettings, *options: str, candidate: Path) -> dict:
    env = {"ACCORD_KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
           "ACCORD_KAFKA_TOPIC_PREFIX": settings.topic_prefix}
    # The command runs its own event loop: give it a thread away from the test's loop.
    result = await asyncio.to_thread(
        CliRunner().invoke, app,
        ["rules", "simulate", str(SHIPPED), str(candidate), "--from-kafka", "--json",
         *options], env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


async def test_given_lead_events_on_the_topic_when_simulated_from_kafka_then_counted(
        fresh_kafka: KafkaSettings, tmp_path: Path):
    candidate = tmp_path / "candidate.yaml"
    candidate.write_text(SHIPPED.read_text().replace(f"assign: {{user: {MARIA}}}",
                                                     f"assign: {{user: {SOFIA}}}"))
    leads = [a_captured_lead(at=AT, email="ada@siemens.example", employees=5000, country="DE"),
             a_captured_lead(at=AT, email="bo@shop.example", employees=300, country="US"),
             a_captured_lead(at=AT, email="di@havenbank.example", employees=1200, country="NL")]
    records = [encode(LEAD_CAPTURED, "/test", lead.lead_key, lead, event_id=f"evt-{i}")
               for i, lead in enumerate(leads)]
    crm = encode(HUBSPOT_CHANGE_RECEIVED, "/hubspot", "hubspot:1:contact:101",
                 an_example_of(HUBSPOT_CHANGE_RECEIVED))
    await publish(fresh_kafka, [*records, records[0], crm])

    report = await simulate(fresh_kafka, candidate=candidate)

    assert (report["leads"], report["events_replayed"], report["events_duplicate"]) == (3, 4, 1)
    assert report["events_skipped"] == {HUBSPOT_CHANGE_RECEIVED: 1}
    assert report["owner_changes"] == 2 and report["route_changes"] == 0
    owners = {row["name"]: row["delta"] for row in report["owners"]}
    assert owners[MARIA] == -2 and owners[SOFIA] == 2

    limited = await simulate(fresh_kafka, "--limit", "2", candidate=candidate)

    assert limited["events_replayed"] + sum(limited["events_skipped"].values()) == 2


async def test_given_no_lead_events_topic_when_simulated_from_kafka_then_exit_1_naming_it(
        fresh_kafka: KafkaSettings, tmp_path: Path):
    absent = fresh_kafka.model_copy(update={"topic_prefix": "absent-topics."})
    env = {"ACCORD_KAFKA_BOOTSTRAP_SERVERS": absent.bootstrap_servers,
           "ACCORD_KAFKA_TOPIC_PREFIX": absent.topic_prefix}
    result = await asyncio.to_thread(
        CliRunner().invoke, app,
        ["rules", "simulate", str(SHIPPED), str(SHIPPED), "--from-kafka"], env=env)

    assert result.exit_code == 1, result.output
    assert f"topic {absent.topic(LEAD_EVENTS)} does not exist at " \
           f"{absent.bootstrap_servers}" in result.output


async def test_given_a_rep_status_linked_by_the_router_when_simulated_then_it_is_replayed(
        fresh_kafka: KafkaSettings, tmp_path: Path):
    candidate = tmp_path / "candidate.yaml"
    # What if sales' "Working - Contacted" no longer made a lead an SQL?
    candidate.write_text(SHIPPED.read_text().replace(
        "when: lead.salesforce_status in ['Working - Contacted']", "when: false"))
    lead = a_captured_lead(at=AT, email="ada@siemens.example", employees=5000, country="DE")
    await publish(fresh_kafka, [encode(LEAD_CAPTURED, "/test", lead.lead_key, lead,
                                       event_id="evt-1")])
    change = SalesforceChangeReceived(
        organization_id="00D000000000001AAA", action_id="04k000000000001AAA",
        notification_id="n-1", sobject_type="Lead", sobject_id="00Q000000000001AAA",
        fields={"Status": "Working - Contacted", "LastModifiedById": "005000000000001AAA",
                "Accord_Lead_Key__c": lead.lead_key}, received_at=AT)
    # Where the router puts a CRM change once it linked it to its lead, beside a pool
    # answer, which is no lead event.
    await publish(fresh_kafka, [
        encode(SALESFORCE_CHANGE_RECEIVED, "/sf", lead.lead_key, change, event_id="n-1"),
        encode_json(POOL_PICK_MADE, "/accord/router/pools", lead.lead_key,
                    b'{"lead_key": "ada@siemens.example"}', event_id="pick-1")],
        CRM_CHANGES_BY_LEAD)

    report = await simulate(fresh_kafka, candidate=candidate)

    assert (report["events_replayed"], report["events_skipped"]) == (2, {})
    [changed] = report["changed"]
    assert (changed["stage_before"], changed["stage_after"]) == ("sql", "mql")
