"""Nothing accepted is lost: the broker is killed and restarted under a steady stream.

Every request that got 202 must have its event in Kafka, under its lead key, in the
partition that key maps to; every request that did not get 202 must have been told so
(503 with Retry-After). The outage must really be hit, and ingest must recover.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.partitioner import murmur2

from deploy.local.kafka_broker import KafkaBroker, fetch_broker_jars
from services.messaging.settings import KafkaSettings
from services.messaging.topics import LEAD_EVENTS, accord_topics, ensure_topics
from tests.builders import a_lead
from tests.conftest import free_port
from tests.integration.service_processes import start_ingest

pytestmark = pytest.mark.integration
API_KEY = "outage-test-key"
CLIENTS = 8


@dataclass(frozen=True)
class Answer:
    lead_key: str
    status: int
    event_id: str | None
    problem: dict[str, object] | None
    retry_after: str | None


async def steady_stream(url: str, stop: asyncio.Event, answers: list[Answer]) -> None:
    async def client(n: int) -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            i = 0
            while not stop.is_set():
                email = f"c{n}-{i}-{uuid.uuid4().hex[:6]}@stream.example"
                i += 1
                answer = await http.post(f"{url}/v1/leads", json=a_lead(email=email),
                                         headers={"X-Api-Key": API_KEY})
                body = answer.json()
                answers.append(Answer(
                    email, answer.status_code,
                    body.get("event_id") if answer.status_code == 202 else None,
                    body if answer.status_code != 202 else None,
                    answer.headers.get("Retry-After")))
                await asyncio.sleep(0.02)
    await asyncio.gather(*(client(n) for n in range(CLIENTS)))


async def all_records(settings: KafkaSettings) -> list[Any]:
    consumer = AIOKafkaConsumer(settings.topic(LEAD_EVENTS),
                                bootstrap_servers=settings.bootstrap_servers,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        records: list[Any] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
            assignment = consumer.assignment()
            if assignment:
                ends = await consumer.end_offsets(list(assignment))
                positions = {tp: await consumer.position(tp) for tp in ends}
                if all(positions[tp] >= end for tp, end in ends.items()):
                    break
        return records
    finally:
        await consumer.stop()


async def test_given_a_steady_stream_when_the_broker_dies_and_returns_then_no_2xx_is_lost(
        tmp_path: Path):
    fetch_broker_jars()
    broker = KafkaBroker(free_port(), free_port(), tmp_path / "kafka")
    broker.start()
    settings = KafkaSettings(bootstrap_servers=broker.bootstrap_servers)
    await ensure_topics(settings, accord_topics(settings))
    url, ingest = start_ingest(settings, tmp_path / "ingest.log",
                               {"ACCORD_INGEST_API_KEYS": json.dumps([API_KEY])})
    answers: list[Answer] = []
    try:
        stop = asyncio.Event()
        stream = asyncio.create_task(steady_stream(url, stop, answers))
        await asyncio.sleep(3)
        before_outage = len(answers)
        await asyncio.to_thread(broker.kill)          # SIGKILL: a crash, not a shutdown
        await asyncio.sleep(6)
        await asyncio.to_thread(broker.start)         # same data directory
        restarted_at = len(answers)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:           # until ingest accepts again
            await asyncio.sleep(1)
            if any(a.status == 202 for a in answers[restarted_at:]):
                break
        await asyncio.sleep(3)
        stop.set()
        await stream
        records = await all_records(settings)
    finally:
        ingest.stop()
        broker.stop()

    accepted = [a for a in answers if a.status == 202]
    refused = [a for a in answers if a.status != 202]
    assert before_outage > 0 and accepted, ingest.output()[-2000:]
    assert refused, "the outage was never hit: no request was refused"
    assert any(a.status == 202 for a in answers[restarted_at:]), "ingest never recovered"
    for answer in refused:
        assert answer.status == 503, answer
        assert answer.problem is not None and answer.problem["status"] == 503
        assert answer.retry_after is not None and int(answer.retry_after) > 0

    by_id = {dict(r.headers)["ce_id"].decode(): r for r in records}
    [spec] = [t for t in accord_topics(settings) if t.name == settings.topic(LEAD_EVENTS)]
    for answer in accepted:
        record = by_id.get(answer.event_id or "")
        assert record is not None, f"202 for {answer.event_id} but the event is not in Kafka"
        assert record.key == answer.lead_key.encode()
        # The Java client's partitioner (murmur2), which aiokafka's default reproduces.
        assert record.partition == (murmur2(record.key) & 0x7FFFFFFF) % spec.partitions
    print(f"\n{len(accepted)} accepted, {len(refused)} refused (503), "
          f"{len(records)} records in Kafka")
