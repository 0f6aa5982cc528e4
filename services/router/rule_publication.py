"""Rule sets published on the rules topic, and the router's view of the current one.

``publish`` puts a validated rule file on a compacted topic (one key). Every router worker
reads that topic from the start with its own consumer (no group: each worker must see
every version) and swaps the rule set between two events, so a decision is always made by
exactly one version, which it names. Rolling back is publishing the old file again.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from services.messaging.settings import KafkaSettings
from services.messaging.topics import RULES, RULES_KEY
from services.router.rules.loader import RuleFileError, parse_rules
from services.router.rules.model import RuleSet

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Published:
    """Where a rule set landed."""

    version: str
    offset: int


async def publish(settings: KafkaSettings, text: str, source: str) -> Published:
    """Publish rule-file text (validate it first: the router re-validates what it reads)."""
    rules = parse_rules(text, source)
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all",
                                enable_idempotence=True,
                                security_protocol=settings.security_protocol)
    await producer.start()
    try:
        meta = await producer.send_and_wait(
            settings.topic(RULES), text.encode(), key=RULES_KEY,
            headers=[("accord_rules_version", rules.version.encode()),
                     ("accord_rules_source", source.encode())])
    finally:
        await producer.stop()
    return Published(rules.version, meta.offset)


class CurrentRules:
    """The rule set in force; replaced whole, never edited, so readers see one version."""

    def __init__(self, initial: RuleSet) -> None:
        self.rules = initial

    async def follow(self, settings: KafkaSettings, ready: asyncio.Event) -> None:
        """Apply every published version, newest last; ``ready`` is set once caught up."""
        consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers,
                                    enable_auto_commit=False,
                                    security_protocol=settings.security_protocol)
        await consumer.start()
        try:
            partition = TopicPartition(settings.topic(RULES), 0)
            consumer.assign([partition])
            await consumer.seek_to_beginning(partition)
            end = (await consumer.end_offsets([partition]))[partition]
            if end == 0:
                ready.set()
            while True:
                batch = await consumer.getmany(partition, timeout_ms=1000)
                for record in batch.get(partition, []):
                    self._apply(record.value or b"", record.offset)
                if not ready.is_set() and await consumer.position(partition) >= end:
                    ready.set()
        finally:
            with contextlib.suppress(Exception):
                await consumer.stop()

    def _apply(self, text: bytes, offset: int) -> None:
        try:
            rules = parse_rules(text.decode(), f"rules topic offset {offset}")
        except (RuleFileError, UnicodeDecodeError) as exc:
            # `publish` validates first; a bad record here was written by something else.
            log.error("rules.rejected", offset=offset, reason=str(exc)[:1000])
            return
        if rules.version != self.rules.version:
            log.info("rules.switched", version=rules.version, previous=self.rules.version,
                     offset=offset)
        self.rules = rules
