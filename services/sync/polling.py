"""How the worker fills a round from polls: up to ``batch_size`` records, every partition's
in offset order, topped up while records keep coming."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

POLL_MS = 500
# A poll that comes back short (the fetches in flight land a moment later) is topped up for
# this long at most: a round that fills the batch fills every CRM call of it.
TOP_UP_MS = 100
# The longest a part-filled round waits for more records while the CRMs are busy.
LINGER_SECONDS = 2.0


class Pending:
    """Records polled for the next round, each partition's in offset order."""

    def __init__(self) -> None:
        self.records: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]] = {}
        self.count = 0
        self._since = 0.0

    def add(self, polled: Mapping[TopicPartition, list[ConsumerRecord[bytes, bytes]]]) -> None:
        """Append a poll's records."""
        for tp, records in polled.items():
            if not self.count:
                self._since = time.monotonic()
            self.records.setdefault(tp, []).extend(records)
            self.count += len(records)

    def age(self) -> float:
        """Seconds since the first record was polled."""
        return time.monotonic() - self._since if self.count else 0.0


async def fill(consumer: AIOKafkaConsumer, size: int, timeout_ms: int,
               ) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]:
    """Up to ``size`` records, each partition's in offset order: one poll, topped up while
    records keep coming and the batch is not full."""
    polled: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]] = {}
    count = 0
    while count < size:
        found = await consumer.getmany(timeout_ms=timeout_ms, max_records=size - count)
        found = {tp: records for tp, records in found.items() if records}
        if not found:
            break
        for tp, records in found.items():
            polled.setdefault(tp, []).extend(records)
            count += len(records)
        timeout_ms = TOP_UP_MS
    return polled


async def rewind(consumer: AIOKafkaConsumer, partitions: Iterable[TopicPartition]) -> None:
    """Read ``partitions`` (those still assigned) again from their committed offsets: the
    records polled from them are dropped unwritten. A rebalance has moved them there already;
    this covers records polled after it, which nothing else would read again."""
    for tp in set(partitions) & consumer.assignment():
        offset = await consumer.committed(tp)
        if offset is None:  # nothing committed yet: from the start, as auto_offset_reset says
            await consumer.seek_to_beginning(tp)
        else:
            consumer.seek(tp, offset)
