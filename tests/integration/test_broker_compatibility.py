"""The pinned Apache Kafka broker works with what Accord uses of aiokafka.

The suite's broker runs from the jars pinned in deploy/kafka/pom.xml (Kafka 4.0.0, KRaft).
The ingest tests exercise aiokafka's idempotent producer and the router tests its
transactions; these tests pin the facts down directly.
"""

from __future__ import annotations

import contextlib
import re

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import ProducerFenced

from deploy.local.kafka_broker import LIBS_DIR, POM
from services.messaging.settings import KafkaSettings
from services.messaging.topics import (
    CRM_CHANGES,
    LEAD_DECISIONS,
    LEAD_EVENTS,
    RULES,
    accord_topics,
    router_changelog,
)
from tests.conftest import Broker

pytestmark = pytest.mark.integration


def test_given_the_pinned_pom_when_fetched_then_the_broker_jar_has_that_version(
        kafka_broker: Broker):
    version = re.search(r"<kafka.version>([^<]+)</kafka.version>", POM.read_text())
    assert version is not None
    assert (LIBS_DIR / f"kafka_2.13-{version.group(1)}.jar").exists()
    if kafka_broker.process is not None:  # the suite started it: its log names the version
        log = kafka_broker.process.log_file.read_text()
        assert f"Kafka version: {version.group(1)}" in log


async def test_given_the_broker_when_an_idempotent_acks_all_producer_sends_then_read_back(
        kafka: KafkaSettings):
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all",
                                enable_idempotence=True)
    await producer.start()
    try:
        meta = await producer.send_and_wait(kafka.topic(LEAD_EVENTS), b"v", key=b"k",
                                            headers=[("ce_id", b"x")])
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([meta.topic_partition])
        consumer.seek(meta.topic_partition, meta.offset)
        record = await consumer.getone()
    finally:
        await consumer.stop()
    assert (record.key, record.value, record.headers) == (b"k", b"v", (("ce_id", b"x"),))


async def test_given_transactions_when_committed_aborted_and_fenced_then_readers_see_commits(
        kafka: KafkaSettings):
    # The router commits state, decisions and offsets in one transaction per batch, and a
    # new owner of a partition fences the old one by reusing its transactional id.
    topic, group = kafka.topic(LEAD_DECISIONS), kafka.group("txn-check")
    source = TopicPartition(kafka.topic(LEAD_EVENTS), 3)
    old = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers,
                           transactional_id=kafka.group("txn-check-3"))
    await old.start()
    async with old.transaction():
        await old.send(topic, b"committed", key=b"txn", partition=2)
        await old.send_offsets_to_transaction({source: 7}, group)
    await old.begin_transaction()
    await old.send(topic, b"aborted", key=b"txn", partition=2)
    await old.abort_transaction()
    await old.begin_transaction()
    await old.send(topic, b"left open by a dead worker", key=b"txn", partition=2)
    new = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers,
                           transactional_id=kafka.group("txn-check-3"))
    await new.start()  # aborts the open transaction and fences the old producer
    with pytest.raises(ProducerFenced):
        await old.commit_transaction()
    await new.stop()
    with contextlib.suppress(ProducerFenced):
        await old.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, group_id=group,
                                enable_auto_commit=False, isolation_level="read_committed")
    await consumer.start()
    try:
        partition = TopicPartition(topic, 2)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        batch = await consumer.getmany(partition, timeout_ms=3000)
        committed = await consumer.committed(source)
    finally:
        await consumer.stop()
    values = [r.value for r in batch.get(partition, []) if r.key == b"txn"]
    assert values == [b"committed"]
    assert committed == 7


async def test_given_accords_topics_when_described_then_partitions_and_policies_are_set(
        kafka: KafkaSettings):
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    await admin.start()
    try:
        specs = accord_topics(kafka)
        described = {d["topic"]: d for d in await admin.describe_topics([s.name for s in specs])}
        configs = await admin.describe_configs([
            ConfigResource(ConfigResourceType.TOPIC, router_changelog(kafka))])
    finally:
        await admin.close()
    for spec in specs:
        assert len(described[spec.name]["partitions"]) == spec.partitions
    for topic in (LEAD_EVENTS, CRM_CHANGES, LEAD_DECISIONS):
        assert len(described[kafka.topic(topic)]["partitions"]) >= 6
    # One key, one ordered history of published rule sets.
    assert len(described[kafka.topic(RULES)]["partitions"]) == 1
    entries = {c[0]: c[1] for c in configs[0].resources[0][4]}
    assert entries["cleanup.policy"] == "compact"


def test_given_a_cluster_id_starting_with_a_dash_when_the_broker_starts_then_it_runs(
        tmp_path, monkeypatch):
    # URL-safe base64 ids start with "-" 1 time in 64; the storage tool once read them as
    # an option and refused to format.
    from deploy.local import kafka_broker
    from tests.conftest import free_port

    monkeypatch.setattr(kafka_broker, "_random_cluster_id", lambda: "-AbCdEfGhIjKlMnOpQrStUw")
    kafka_broker.fetch_broker_jars()
    broker = kafka_broker.KafkaBroker(free_port(), free_port(), tmp_path / "kafka")
    try:
        broker.start()
        assert kafka_broker.is_listening("127.0.0.1", broker.port)
    finally:
        broker.stop()
