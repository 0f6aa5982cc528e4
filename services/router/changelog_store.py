"""The router's state for one partition: a key → JSON map mirrored in a compacted changelog.

This is the table half of a Kafka Streams / Faust style processor, kept small on purpose.
Partition *p* of the input topic owns partition *p* of the changelog (co-partitioned), so
the worker that owns an input partition restores exactly its slice of the state from the
changelog's start and then keeps it current by writing every change, in the same Kafka
transaction that commits the input offset. A restore therefore sees the state as of the
last committed offset, never a half-processed batch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition

from services.messaging.settings import KafkaSettings


@dataclass
class ChangelogStore:
    """One partition's state: raw JSON values by key, as the changelog last committed them."""

    partition: int
    values: dict[str, bytes] = field(default_factory=dict)

    def get(self, key: str) -> bytes | None:
        """The committed value of ``key``, or None."""
        return self.values.get(key)

    def apply(self, changes: dict[str, bytes | None]) -> None:
        """Apply changes that a committed transaction wrote (None deletes, as a tombstone)."""
        for key, value in changes.items():
            if value is None:
                self.values.pop(key, None)
            else:
                self.values[key] = value

    def keys_with_prefix(self, prefix: str) -> Iterator[str]:
        """Keys that start with ``prefix`` (for the few scans the router needs)."""
        return (key for key in self.values if key.startswith(prefix))


async def restore(settings: KafkaSettings, changelog: str, partition: int,
                  ) -> ChangelogStore:
    """Read one changelog partition from its start to its end (committed records only).

    Call this after the partition's transactional producer started: starting it aborts a
    transaction a dead worker left open, so the end is reachable and final.
    """
    store = ChangelogStore(partition)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers,
                                security_protocol=settings.security_protocol,
                                enable_auto_commit=False, isolation_level="read_committed")
    await consumer.start()
    try:
        tp = TopicPartition(changelog, partition)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        while await consumer.position(tp) < end:
            batch = await consumer.getmany(tp, timeout_ms=1000, max_records=5000)
            for record in batch.get(tp, []):
                if record.key is None:
                    continue
                key = record.key.decode()
                if record.value is None:
                    store.values.pop(key, None)
                else:
                    store.values[key] = record.value
    finally:
        with contextlib.suppress(Exception):
            await consumer.stop()
    return store
