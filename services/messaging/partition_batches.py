"""Records grouped into one Kafka record batch per partition, for a transactional producer.

``AIOKafkaProducer.send`` costs tens of microseconds of Python per record (a future per
record, the accumulator, the pure-Python murmur2 of the default partitioner), and the
router writes about four records per event. Appending to one ``BatchBuilder`` per
partition and handing each whole batch to ``send_batch`` costs a fraction of that. The
records are the same and land where ``send`` would put them: keyed records go to the
partition the default partitioner picks (murmur2 of the key, as the Java client does),
and each partition keeps the order the records were added in. The batches join the
producer's open transaction like any other send.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2
from aiokafka.structs import TopicPartition

# Room for a few hundred decisions per partition and batch, well under the broker's
# default record-batch limit (message.max.bytes, about 1 MiB) and the producer's request
# limit: create the producer with ``max_batch_size=BATCH_BYTES``.
BATCH_BYTES = 512 * 1024


@functools.lru_cache(maxsize=65_536)
def _key_hash(key: bytes) -> int:
    # The lead key repeats for every record of a decision (and for every event of a lead).
    return int(murmur2(key)) & 0x7FFFFFFF


def default_partition(key: bytes, partitions: Sequence[int]) -> int:
    """The partition aiokafka's (and the Java client's) default partitioner gives ``key``;
    ``partitions`` are the topic's partition ids, sorted."""
    return partitions[_key_hash(key) % len(partitions)]


class PartitionBatches:
    """Records to send in the producer's open transaction, one batch per partition."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer
        self._open: dict[TopicPartition, Any] = {}
        self._full: list[tuple[TopicPartition, Any]] = []
        self._partitions: dict[str, list[int]] = {}

    async def partitions(self, topic: str) -> list[int]:
        """The topic's partition ids, sorted (from the producer's metadata)."""
        known = self._partitions.get(topic)
        if known is None:
            known = self._partitions[topic] = sorted(await self._producer.partitions_for(topic))
        return known

    def add(self, topic: str, partition: int, key: bytes | None, value: bytes | None,
            headers: list[tuple[str, bytes]] | None = None) -> None:
        """Add a record for ``partition`` of ``topic`` (after the ones added before)."""
        tp = TopicPartition(topic, partition)
        headers = headers or []  # the C record builder takes a list only
        builder = self._open.get(tp)
        if builder is None:
            builder = self._open[tp] = self._producer.create_batch()
        if builder.append(timestamp=None, key=key, value=value, headers=headers) is None:
            # Full: it goes before the partition's next batch (a builder always takes
            # its first record, whatever its size).
            builder.close()
            self._full.append((tp, builder))
            builder = self._open[tp] = self._producer.create_batch()
            builder.append(timestamp=None, key=key, value=value, headers=headers)

    async def add_keyed(self, topic: str, key: bytes, value: bytes | None,
                        headers: list[tuple[str, bytes]] | None = None) -> None:
        """Add a record to the partition the default partitioner gives ``key``."""
        self.add(topic, default_partition(key, await self.partitions(topic)), key, value,
                 headers)

    async def send(self) -> list[asyncio.Future[Any]]:
        """Hand every batch to the producer, each partition's in the order they filled;
        returns their delivery futures.

        Await them all before ``commit_transaction``: it waits for the batches to be
        delivered but does not fail when one was not, and a transaction committed without
        one of its batches would lose those records.
        """
        delivered = []
        for tp, builder in [*self._full, *self._open.items()]:
            builder.close()  # closed: the sender takes it now rather than after linger_ms
            delivered.append(await self._producer.send_batch(builder, tp.topic,
                                                             partition=tp.partition))
        self._full.clear()
        self._open.clear()
        return delivered
