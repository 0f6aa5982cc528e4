"""The topics Accord owns, with their partition counts and cleanup policies.

Topics are created explicitly (the local broker refuses auto-creation) so that partition
counts, which bound how many router and sync workers can share the work, are a decision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from services.messaging.settings import KafkaSettings

LEAD_EVENTS = "accord.lead-events"
LEAD_DECISIONS = "accord.lead-decisions"
# CRM changes are keyed by the CRM object (e.g. hubspot:<portal>:contact:<id>): a change
# does not always carry the email, so the router resolves it to a lead key.
CRM_CHANGES = "accord.crm-changes"
# The router's own copy of CRM changes, re-keyed by lead key (co-partitioned with lead events).
CRM_CHANGES_BY_LEAD = "accord.router.crm-changes-by-lead"
# Requests for a pick from a round-robin pool, keyed by pool name: one writer per pool.
POOL_REQUESTS = "accord.router.pool-requests"
SYNC_DEAD_LETTERS = "accord.sync.dead-letters"
# What sync last saw each CRM accept, keyed <crm>:<lead key>, compacted; partition p holds
# the records of the leads on partition p of the decisions (sync writes it so).
SYNC_KNOWN_VALUES = "accord.sync.known-values"
ROUTER_DEAD_LETTERS = "accord.router.dead-letters"
# Published rule sets: one key, compacted, so the latest version is always there to read.
RULES = "accord.rules"
RULES_KEY = b"lead-rules"
ROUTER_APP_ID = "accord-router"
GOLDEN_RECORDS_TABLE = "golden-records"

_WEEK_MS = str(7 * 24 * 3600 * 1000)
_MONTH_MS = str(30 * 24 * 3600 * 1000)


@dataclass(frozen=True)
class TopicSpec:
    """One topic as Accord wants it to exist."""

    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


def router_changelog(settings: KafkaSettings) -> str:
    """The golden records' changelog, ``<router group>-golden-records-changelog``: partition
    *p* holds the state of the leads on partition *p* of the lead events."""
    return f"{settings.group(ROUTER_APP_ID)}-{GOLDEN_RECORDS_TABLE}-changelog"


def accord_topics(settings: KafkaSettings) -> list[TopicSpec]:
    """Every topic Accord needs, named with the configured prefix."""
    return [
        TopicSpec(settings.topic(LEAD_EVENTS), 6,
                  {"cleanup.policy": "delete", "retention.ms": _WEEK_MS}),
        TopicSpec(settings.topic(CRM_CHANGES), 6,
                  {"cleanup.policy": "delete", "retention.ms": _WEEK_MS}),
        TopicSpec(settings.topic(CRM_CHANGES_BY_LEAD), 6,
                  {"cleanup.policy": "delete", "retention.ms": _WEEK_MS}),
        TopicSpec(settings.topic(POOL_REQUESTS), 6,
                  {"cleanup.policy": "delete", "retention.ms": _WEEK_MS}),
        TopicSpec(settings.topic(LEAD_DECISIONS), 6,
                  {"cleanup.policy": "delete", "retention.ms": _WEEK_MS}),
        TopicSpec(settings.topic(RULES), 1, {"cleanup.policy": "compact"}),
        # As many partitions as the decisions: each restores with its decisions' partition.
        TopicSpec(settings.topic(SYNC_KNOWN_VALUES), 6, {"cleanup.policy": "compact"}),
        TopicSpec(settings.topic(SYNC_DEAD_LETTERS), 6,
                  {"cleanup.policy": "delete", "retention.ms": _MONTH_MS}),
        TopicSpec(settings.topic(ROUTER_DEAD_LETTERS), 6,
                  {"cleanup.policy": "delete", "retention.ms": _MONTH_MS}),
        # The golden record's changelog must be compacted, never time-retained: a worker
        # taking over a partition restores its state by reading it from the start.
        TopicSpec(router_changelog(settings), 6, {"cleanup.policy": "compact"}),
    ]


class TopicMismatchError(RuntimeError):
    """An existing topic differs from what Accord needs (for example fewer partitions)."""


async def ensure_topics(settings: KafkaSettings, specs: list[TopicSpec]) -> list[str]:
    """Create the missing topics; check the partition count of those that exist.

    Returns the names of the topics it created.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers,
                                security_protocol=settings.security_protocol)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        if missing:
            await admin.create_topics([
                NewTopic(s.name, s.partitions, settings.replication_factor,
                         topic_configs=s.config) for s in missing
            ])
        present = [s for s in specs if s.name in existing]
        if present:
            described = await admin.describe_topics([s.name for s in present])
            counts = {d["topic"]: len(d["partitions"]) for d in described}
            for spec in present:
                if counts.get(spec.name, 0) < spec.partitions:
                    raise TopicMismatchError(
                        f"topic {spec.name} has {counts.get(spec.name)} partitions; "
                        f"Accord needs at least {spec.partitions}"
                    )
        return [s.name for s in missing]
    finally:
        await admin.close()


async def topic_partitions(settings: KafkaSettings, topic: str) -> list[TopicPartition]:
    """The partitions of ``topic`` as the cluster describes them; none if it does not exist."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers,
                                security_protocol=settings.security_protocol)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return [TopicPartition(topic, p["partition"]) for d in described
            if not d.get("error_code") for p in d["partitions"]]


async def committed_offsets(settings: KafkaSettings, group: str, topic: str) -> dict[int, int]:
    """The offsets ``group`` committed on ``topic``, by partition (partitions it never
    committed are absent)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers,
                                security_protocol=settings.security_protocol)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items()
            if isinstance(tp, TopicPartition) and tp.topic == topic and meta.offset >= 0}


async def read_to_end(settings: KafkaSettings, partitions: list[TopicPartition],
                      ) -> list[Any]:
    """Every committed record of ``partitions`` from their beginning up to their end as it
    is when called, partition by partition in offset order. Reads with no group: nothing is
    committed, so a reader never moves any consumer's offsets."""
    if not partitions:
        return []
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers,
                                security_protocol=settings.security_protocol,
                                group_id=None, enable_auto_commit=False,
                                isolation_level="read_committed")
    await consumer.start()
    records: list[Any] = []
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        # Up to the end as it is now: records arriving meanwhile belong to the next read.
        ends = await consumer.end_offsets(partitions)
        pending = {tp for tp in partitions if await consumer.position(tp) < ends[tp]}
        while pending:
            batch = await consumer.getmany(*pending, timeout_ms=1000)
            for tp, messages in batch.items():
                records.extend(m for m in messages if m.offset < ends[tp])
            pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
    finally:
        await consumer.stop()
    return records
