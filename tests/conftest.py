"""Fixtures shared by every test layer: one per outbound dependency.

The Kafka broker is real: the suite reuses the broker at the configured address when one
runs (for example under ``make run``) and otherwise starts its own, stopped at the end.
Each session gets its own topic prefix, so runs never see each other's records.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from deploy.local.kafka_broker import REPO_ROOT, KafkaBroker, fetch_broker_jars, is_listening
from deploy.local.launcher import local_environment
from services.contracts.events import LEAD_ROUTED
from services.messaging.settings import KafkaSettings
from services.messaging.topics import LEAD_DECISIONS, accord_topics, ensure_topics


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Broker:
    """The broker the suite talks to, and whether the suite started it."""

    bootstrap_servers: str
    process: KafkaBroker | None


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[Broker]:
    """The real Kafka broker: reused if one listens at the configured address, else started."""
    bootstrap = local_environment()["ACCORD_KAFKA_BOOTSTRAP_SERVERS"].split(",")[0]
    host, _, port = bootstrap.rpartition(":")
    if is_listening(host, int(port)):
        yield Broker(bootstrap, None)
        return
    fetch_broker_jars()
    data_dir = REPO_ROOT / ".local" / "test-kafka"
    shutil.rmtree(data_dir, ignore_errors=True)
    broker = KafkaBroker(int(port), free_port(), data_dir)
    broker.start()
    try:
        yield Broker(bootstrap, broker)
    finally:
        broker.stop()


@pytest.fixture(scope="session")
async def kafka(kafka_broker: Broker) -> KafkaSettings:
    """Kafka settings for this test session, with Accord's topics created under a prefix."""
    settings = KafkaSettings(bootstrap_servers=kafka_broker.bootstrap_servers,
                             topic_prefix=f"test-{uuid.uuid4().hex[:8]}.")
    await ensure_topics(settings, accord_topics(settings))
    return settings


@pytest.fixture
async def fresh_kafka(kafka_broker: Broker) -> KafkaSettings:
    """Kafka settings with a prefix of their own, for a test that needs empty topics."""
    settings = KafkaSettings(bootstrap_servers=kafka_broker.bootstrap_servers,
                             topic_prefix=f"test-{uuid.uuid4().hex[:8]}.")
    await ensure_topics(settings, accord_topics(settings))
    return settings


def _of_type(record: Any, event_type: str | None) -> bool:
    return event_type is None or dict(record.headers).get("ce_type") == event_type.encode()


async def read_records(settings: KafkaSettings, topic: str, count: int,
                       within: float = 30.0, settle: float = 0.0,
                       only_type: str | None = None) -> list[Any]:
    """Read ``count`` records from the start of a topic (any partition), or fail; then keep
    reading ``settle`` seconds more, so that records beyond ``count`` would show too.
    ``only_type`` keeps only the CloudEvents of that type (``ce_type``)."""
    consumer = AIOKafkaConsumer(settings.topic(topic),
                                bootstrap_servers=settings.bootstrap_servers,
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                isolation_level="read_committed",
                                group_id=f"reader-{uuid.uuid4().hex[:8]}")
    await consumer.start()
    records: list[Any] = []
    try:
        async with asyncio.timeout(within):
            while len(records) < count:
                batch = await consumer.getmany(timeout_ms=500)
                for messages in batch.values():
                    records.extend(m for m in messages if _of_type(m, only_type))
        until = asyncio.get_running_loop().time() + settle
        while asyncio.get_running_loop().time() < until:
            for messages in (await consumer.getmany(timeout_ms=300)).values():
                records.extend(m for m in messages if _of_type(m, only_type))
    finally:
        await consumer.stop()
    return records


async def read_decisions(settings: KafkaSettings, count: int, within: float = 30.0,
                         settle: float = 0.0) -> list[Any]:
    """``count`` ``lead.routed`` decisions (the events announced beside them are skipped)."""
    return await read_records(settings, LEAD_DECISIONS, count, within, settle,
                              only_type=LEAD_ROUTED)


async def read_events_with_ids(settings: KafkaSettings, topic: str, ids: set[str],
                               within: float = 30.0, settle: float = 1.5) -> list[Any]:
    """Every record of ``topic`` whose ``ce_id`` is in ``ids``: waits until each was seen,
    then keeps reading ``settle`` seconds more so that duplicates would show too."""
    consumer = AIOKafkaConsumer(settings.topic(topic),
                                bootstrap_servers=settings.bootstrap_servers,
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                isolation_level="read_committed",
                                group_id=f"reader-{uuid.uuid4().hex[:8]}")
    await consumer.start()
    found: list[Any] = []
    try:
        async with asyncio.timeout(within):
            while {dict(r.headers)["ce_id"].decode() for r in found} < ids:
                for messages in (await consumer.getmany(timeout_ms=300)).values():
                    found.extend(m for m in messages
                                 if dict(m.headers).get("ce_id", b"").decode() in ids)
        loop = asyncio.get_running_loop()
        until = loop.time() + settle
        while loop.time() < until:
            for messages in (await consumer.getmany(timeout_ms=300)).values():
                found.extend(m for m in messages
                             if dict(m.headers).get("ce_id", b"").decode() in ids)
    finally:
        await consumer.stop()
    return found
