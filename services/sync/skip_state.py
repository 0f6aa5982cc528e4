"""Where sync keeps what each CRM accepted: a compacted topic it owns, mirrored in memory.

Record ``<crm>:<lead key>`` (or ``hubspot:deal:<opportunity id>``) holds the values Accord
last saw that CRM accept for that record. Sync writes it after the CRM accepted and before it
commits the decisions' offset, to the partition of the decision it wrote — so the worker that
takes over partition *p* of the decisions reads partition *p* of this topic from the start
and knows what its predecessor wrote, as a Faust changelog would.

What can go wrong only ever makes sync write again, never skip a write: a crash between the
CRM's answer and this topic loses the record here, so the next decision is written in full;
a record that cannot be read back is ignored the same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from services.messaging.settings import KafkaSettings
from services.messaging.topics import LEAD_DECISIONS, SYNC_KNOWN_VALUES
from services.sync.known_values import Values, decode_known, encode_known

log = structlog.get_logger(__name__)
_READ_MS = 500


class KnownValuesMisfit(RuntimeError):
    """The topic cannot mirror the decisions' partitions (fewer partitions than they have)."""


class KnownValuesStore:
    """The known values of the decision partitions this worker holds, restored on first use
    after each assignment and forgotten when the partition is revoked."""

    def __init__(self, kafka: KafkaSettings, producer: AIOKafkaProducer) -> None:
        self._kafka = kafka
        self._topic = kafka.topic(SYNC_KNOWN_VALUES)
        self._producer = producer
        self._reader: AIOKafkaConsumer | None = None
        self._loaded: dict[int, dict[str, dict[str, Any]]] = {}
        self._restoring = asyncio.Lock()  # one reader, one partition at a time

    async def start(self) -> None:
        """Check the topic has a partition for each partition of the decisions; open the
        reader used to restore them."""
        mine = await self._producer.partitions_for(self._topic)
        theirs = await self._producer.partitions_for(self._kafka.topic(LEAD_DECISIONS))
        if not mine or len(mine) < len(theirs or ()):
            raise KnownValuesMisfit(
                f"topic {self._topic} has {len(mine or ())} partitions; it needs at least as "
                f"many as {self._kafka.topic(LEAD_DECISIONS)} ({len(theirs or ())})")
        self._reader = AIOKafkaConsumer(
            bootstrap_servers=self._kafka.bootstrap_servers, enable_auto_commit=False,
            security_protocol=self._kafka.security_protocol)
        await self._reader.start()

    async def stop(self) -> None:
        """Close the reader."""
        if self._reader is not None:
            await self._reader.stop()

    async def ensure(self, partition: int) -> None:
        """Restore ``partition`` unless it is in memory since its last assignment."""
        await self.ensure_all([partition])

    async def ensure_all(self, partitions: Iterable[int]) -> None:
        """Restore those of ``partitions`` not in memory since their last assignment, read
        together: a reader's assignment and seek cost the same for one partition as for
        all of them."""
        async with self._restoring:
            missing = sorted(set(partitions) - set(self._loaded))
            if missing:
                self._loaded.update(await self._read(missing))

    async def _read(self, partitions: list[int]) -> dict[int, dict[str, dict[str, Any]]]:
        assert self._reader is not None, "start() first"
        tps = [TopicPartition(self._topic, p) for p in partitions]
        self._reader.assign(tps)
        await self._reader.seek_to_beginning(*tps)
        ends = await self._reader.end_offsets(tps)
        known: dict[int, dict[str, dict[str, Any]]] = {p: {} for p in partitions}
        pending = [tp for tp in tps if ends[tp] > 0]
        while pending:
            batch = await self._reader.getmany(*pending, timeout_ms=_READ_MS)
            for tp, records in batch.items():
                kept = known[tp.partition]
                for record in records:
                    if record.key is None:
                        continue
                    values = decode_known(record.value)
                    key = record.key.decode()
                    if values is None:
                        kept.pop(key, None)  # deleted or not understood: unknown, written again
                    else:
                        kept[key] = values
            pending = [tp for tp in pending if await self._reader.position(tp) < ends[tp]]
        for partition in partitions:
            log.info("sync.known_values_restored", partition=partition,
                     records=len(known[partition]))
        return known

    def forget(self, partitions: Iterable[int]) -> None:
        """Drop revoked partitions: their next owner keeps them now, and they are read
        afresh if they come back."""
        for partition in partitions:
            self._loaded.pop(partition, None)

    def snapshot(self, partition: int, keys: Iterable[str]) -> dict[str, Values | None]:
        """The known values of ``keys`` (None for a record never seen accepted)."""
        loaded = self._loaded.get(partition, {})
        return {key: loaded.get(key) for key in keys}

    async def keep(self, partition: int, updates: Mapping[str, Values]) -> None:
        """Write ``updates`` (key -> values) and wait until Kafka has them all; only then do
        they count in memory."""
        if not updates:
            return
        sent = [await self._producer.send(self._topic, encode_known(values),
                                          key=key.encode(), partition=partition)
                for key, values in updates.items()]
        await asyncio.gather(*sent)
        loaded = self._loaded.get(partition)
        if loaded is not None:  # a revoked partition is read afresh, never half-remembered
            loaded.update({key: dict(values) for key, values in updates.items()})
