"""Publishing a rule set: a running router switches to it and decisions name it; publishing
the previous file rolls back."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from typer.testing import CliRunner

from deploy.local.kafka_broker import REPO_ROOT
from services.cli import app
from services.contracts.envelope import decode, encode
from services.contracts.events import LEAD_CAPTURED, LEAD_ROUTED
from services.messaging.settings import KafkaSettings
from services.messaging.topics import LEAD_DECISIONS
from tests.builders import a_captured_lead
from tests.integration.service_processes import ServiceProcess, start_service
from tests.integration.test_router import publish as publish_events

pytestmark = pytest.mark.integration
SHIPPED = REPO_ROOT / "rules" / "leads.yaml"


def candidate(tmp_path: Path) -> Path:
    """The shipped rules with Maria's enterprise EMEA leads going to James (examples too)."""
    text = SHIPPED.read_text().replace("maria.garcia@accord.example", "james.chen@accord.example")
    path = tmp_path / "candidate.yaml"
    path.write_text(text.replace('version: "2026.11.23-5"', 'version: "2026.11.23-6"'))
    return path


def publish_file(path: Path, kafka: KafkaSettings) -> None:
    result = CliRunner().invoke(app, ["rules", "publish", str(path)], env={
        "ACCORD_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "ACCORD_KAFKA_TOPIC_PREFIX": kafka.topic_prefix})
    assert result.exit_code == 0, result.output
    assert "published version" in result.output


async def decision_for(kafka: KafkaSettings, event_id: str, within: float = 60) -> dict[str, Any]:
    consumer = AIOKafkaConsumer(kafka.topic(LEAD_DECISIONS),
                                bootstrap_servers=kafka.bootstrap_servers,
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                group_id=f"reader-{uuid.uuid4().hex[:8]}")
    await consumer.start()
    try:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                for record in batch:
                    envelope = decode(record.key, record.value, list(record.headers))
                    if envelope.type == LEAD_ROUTED and envelope.data["caused_by"] == event_id:
                        return envelope.data
    finally:
        await consumer.stop()
    raise AssertionError(f"no decision for {event_id}")


async def switched_to(router: ServiceProcess, version: str, within: float = 60) -> None:
    """Wait for the router to say it switched (it follows the rules topic as it runs)."""
    deadline = time.monotonic() + within
    while f'"version": "{version}", "previous"' not in router.output():
        assert time.monotonic() < deadline, router.output()[-3000:]
        await asyncio.sleep(0.2)


async def route_emea_lead(kafka: KafkaSettings, event_id: str) -> dict[str, Any]:
    lead = a_captured_lead(email=f"{event_id}@siemens.example", employees=5000, country="DE")
    record = encode(LEAD_CAPTURED, "/test", lead.lead_key, lead, event_id=event_id)
    await publish_events(kafka, [(record.key, record.value, record.headers)])
    return await decision_for(kafka, event_id)


async def test_given_a_running_router_when_a_candidate_is_published_then_it_decides_and_rollback_works(  # noqa: E501
        fresh_kafka: KafkaSettings, tmp_path: Path):
    router = start_service("services.router", {
        "ACCORD_KAFKA_BOOTSTRAP_SERVERS": fresh_kafka.bootstrap_servers,
        "ACCORD_KAFKA_TOPIC_PREFIX": fresh_kafka.topic_prefix}, tmp_path / "router.log")
    try:
        before = await route_emea_lead(fresh_kafka, "before")
        assert (before["owner"]["email"], before["ruleset_version"]) == (
            "maria.garcia@accord.example", "2026.11.23-5")

        await asyncio.to_thread(publish_file, candidate(tmp_path), fresh_kafka)
        await switched_to(router, "2026.11.23-6")
        after = await route_emea_lead(fresh_kafka, "after")
        assert (after["owner"]["email"], after["ruleset_version"]) == (
            "james.chen@accord.example", "2026.11.23-6")

        await asyncio.to_thread(publish_file, SHIPPED, fresh_kafka)  # roll back
        await switched_to(router, "2026.11.23-5")
        back = await route_emea_lead(fresh_kafka, "rolled-back")
        assert (back["owner"]["email"], back["ruleset_version"]) == (
            "maria.garcia@accord.example", "2026.11.23-5")
    finally:
        router.stop()


def test_given_a_rule_file_whose_examples_fail_when_published_then_refused(tmp_path: Path):
    broken = tmp_path / "rules.yaml"
    broken.write_text(SHIPPED.read_text().replace("maria.garcia@accord.example",
                                                  "james.chen@accord.example", 1))
    result = CliRunner().invoke(app, ["rules", "publish", str(broken)],
                                env={"ACCORD_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"})
    assert result.exit_code == 1
    assert "not published" in result.output
