"""Pools and SLA timers on real router processes and the real broker: a pick is published
once, a clock that fell due while no router ran fires after the restart, a touch meets it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from services.contracts.envelope import decode, encode
from services.contracts.events import (
    LEAD_CAPTURED,
    LEAD_ROUTED,
    LEAD_SLA_BREACHED,
    SALESFORCE_CHANGE_RECEIVED,
)
from services.messaging.settings import KafkaSettings
from services.messaging.topics import CRM_CHANGES, LEAD_DECISIONS
from tests.builders import a_captured_lead, an_example_of
from tests.conftest import read_records
from tests.integration.service_processes import start_service
from tests.integration.test_router import publish

pytestmark = pytest.mark.integration

RULES = """\
version: "handoff-1"
stages:
  - {stage: mql, when: lead.lead_source == 'demo_request'}
pools:
  - name: sdr
    fallback: queue@accord.example
    members:
      - {email: first@accord.example, weight: 2}
      - {email: second@accord.example, weight: 1}
slas:
  - name: fast
    first_touch: 4s
    escalate: {to: next_in_pool, manager: boss@accord.example}
    max_escalations: 1
routing:
  - name: demo_to_sdr
    when: stage == 'mql'
    assign: {pool: sdr}
    sla: fast
  - name: rest
    default: true
    assign: {queue: queue@accord.example}
"""


def _env(kafka: KafkaSettings, rules: Path) -> dict[str, str]:
    return {"ACCORD_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
            "ACCORD_KAFKA_TOPIC_PREFIX": kafka.topic_prefix,
            "ACCORD_ROUTER_RULES_FILE": str(rules),
            "ACCORD_ROUTER_SLA_TICK_SECONDS": "0.5"}


def _lead(email: str, event_id: str) -> tuple[bytes, bytes, list]:
    lead = a_captured_lead(email=email, lead_source="demo_request")
    record = encode(LEAD_CAPTURED, "/test", lead.lead_key, lead, event_id=event_id)
    return record.key, record.value, record.headers


async def test_given_a_clock_due_while_no_router_ran_when_restarted_then_it_escalates_once(
        fresh_kafka: KafkaSettings, tmp_path: Path):
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    router = start_service("services.router", _env(fresh_kafka, rules), tmp_path / "r1.log")
    try:
        await publish(fresh_kafka, [_lead("ana@buyer.example", "e1")])
        [routed] = await read_records(fresh_kafka, LEAD_DECISIONS, 1, within=60,
                                      only_type=LEAD_ROUTED)
    finally:
        assert router.stop() == 0, router.output()[-2000:]
    first = decode(routed.key, routed.value, list(routed.headers)).data["owner"]
    assert (first["email"], first["pool"]) == ("first@accord.example", "sdr")

    await asyncio.sleep(5)  # the 4 s clock falls due while no router runs
    router = start_service("services.router", _env(fresh_kafka, rules), tmp_path / "r2.log")
    try:
        [breached] = await read_records(fresh_kafka, LEAD_DECISIONS, 1, within=60,
                                        only_type=LEAD_SLA_BREACHED)
        # Long enough for a second (wrong) breach of the same clock to show up.
        routed_all = await read_records(fresh_kafka, LEAD_DECISIONS, 2, within=30, settle=3,
                                        only_type=LEAD_ROUTED)
        breaches = await read_records(fresh_kafka, LEAD_DECISIONS, 1, within=10, settle=6,
                                      only_type=LEAD_SLA_BREACHED)
    finally:
        assert router.stop() == 0, router.output()[-2000:]
    facts = decode(breached.key, breached.value, list(breached.headers)).data["sla"]
    assert (facts["owner"], facts["escalated_to"]) == ("first@accord.example",
                                                       "second@accord.example")
    owners = [decode(r.key, r.value, list(r.headers)).data["owner"]["email"]
              for r in routed_all]
    assert owners == ["first@accord.example", "second@accord.example"]
    # The second owner's clock lapses too (4 s), but max_escalations is 1: that breach
    # leaves the lead with them. Each clock breaches once; there is never a third owner.
    pairs = [(f["owner"], f["escalated_to"]) for f in
             (decode(r.key, r.value, list(r.headers)).data["sla"] for r in breaches)]
    assert pairs[0] == ("first@accord.example", "second@accord.example")
    assert pairs[1:] in ([], [("second@accord.example", None)])


async def test_given_a_touch_in_time_when_the_deadline_passes_then_no_breach(
        fresh_kafka: KafkaSettings, tmp_path: Path):
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES.replace("first_touch: 4s", "first_touch: 6s"))
    router = start_service("services.router", _env(fresh_kafka, rules), tmp_path / "r.log")
    try:
        await publish(fresh_kafka, [_lead("bo@buyer.example", "e1")])
        await read_records(fresh_kafka, LEAD_DECISIONS, 1, within=60, only_type=LEAD_ROUTED)
        change = an_example_of(SALESFORCE_CHANGE_RECEIVED).model_copy(update={
            "fields": {"Status": "Working - Contacted", "Email": "bo@buyer.example"}})
        record = encode(SALESFORCE_CHANGE_RECEIVED, "/sf", "salesforce:Lead:00Q1", change,
                        event_id="touch-1")
        await publish_to(fresh_kafka, CRM_CHANGES, record.key, record.value, record.headers)
        await asyncio.sleep(9)  # past the deadline
        late = await read_records(fresh_kafka, LEAD_DECISIONS, 0, within=5, settle=2,
                                  only_type=LEAD_SLA_BREACHED)
    finally:
        assert router.stop() == 0, router.output()[-2000:]
    assert late == []


async def publish_to(settings: KafkaSettings, topic: str, key: bytes, value: bytes,
                     headers: list) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all",
                                enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(settings.topic(topic), value, key=key, headers=headers)
    finally:
        await producer.stop()
