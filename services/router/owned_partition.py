"""One input partition a router worker owns: its producer, its state, and the transactions
it has sent but not yet seen committed.

The worker processes a partition's next batch while the previous batch's transaction is
still committing (the commit waits on the broker; processing needs the CPU). The next batch
reads the state as that transaction will leave it (its changes, then the committed state),
and its own transaction starts only once the previous one committed. The committed state
changes only when a transaction committed; if one fails, every later batch of the
partition is dropped unsent and the worker rebuilds the partition and reads again from its
committed offsets (``RouterWorker._rebuild``), so what was read ahead never counts.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import structlog
from aiokafka import AIOKafkaProducer

from services.messaging.partition_batches import BATCH_BYTES
from services.messaging.settings import KafkaSettings
from services.router.changelog_store import ChangelogStore, restore
from services.router.handoff import SLA_PREFIX
from services.router.record_processing import StepResult
from services.router.sla import SlaClock

log = structlog.get_logger(__name__)


@dataclass
class InFlight:
    """A batch's transaction, sent in the background: True once committed and applied."""

    commit: asyncio.Task[bool]
    result: StepResult


@dataclass
class OwnedPartition:
    """An input partition this worker owns: its producer and its slice of the state."""

    partition: int
    producer: AIOKafkaProducer
    store: ChangelogStore
    # Running SLA clocks of this partition's leads: lead key -> due time (for the timer).
    due: dict[str, datetime] = field(default_factory=dict)
    # Transactions not known to be over yet, oldest first (each waits for the one before).
    in_flight: list[InFlight] = field(default_factory=list)

    def lookup_through(self, result: StepResult) -> Callable[[str], bytes | None]:
        """Reads a step's own pending changes first, then those of the transactions in
        flight (newest first), then the committed state."""
        layers = [result.changes, *(sent.result.changes for sent in reversed(self.in_flight))]
        store = self.store

        def lookup(key: str) -> bytes | None:
            for changes in layers:
                pending = changes.get(key)
                if pending is not None:
                    return pending
            return store.get(key)
        return lookup

    def last_commit(self) -> asyncio.Task[bool] | None:
        """The transaction the next one must wait for, if any is in flight."""
        return self.in_flight[-1].commit if self.in_flight else None

    async def settle(self, keep: int = 0) -> None:
        """Wait until at most ``keep`` transactions are in flight (oldest first); raises
        what a transaction raised beyond a failed commit (which it handles itself)."""
        while len(self.in_flight) > keep:
            await self.in_flight[0].commit
            self.in_flight.pop(0)

    def index_clocks(self, changes: dict[str, bytes]) -> None:
        """Keep ``due`` in step with the clocks a committed transaction wrote."""
        for key, value in changes.items():
            if key.startswith(SLA_PREFIX):
                clock = SlaClock.model_validate_json(value)
                lead_key = key.removeprefix(SLA_PREFIX)
                if clock.state == "running":
                    self.due[lead_key] = clock.due_at
                else:
                    self.due.pop(lead_key, None)


async def take_over(kafka: KafkaSettings, transactional_id: str, changelog: str,
                    partition: int) -> OwnedPartition:
    """Own ``partition``: its transactional producer, then its state from the changelog."""
    # The producer starts first: that aborts the previous owner's open transaction
    # and fences it, so the changelog restored next is final.
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka.bootstrap_servers, security_protocol=kafka.security_protocol,
        transactional_id=transactional_id, linger_ms=5, max_batch_size=BATCH_BYTES)
    await producer.start()
    store = await restore(kafka, changelog, partition)
    owned = OwnedPartition(partition, producer, store)
    owned.index_clocks({key: store.values[key] for key in store.keys_with_prefix(SLA_PREFIX)})
    log.info("router.partition_restored", partition=partition, records=len(store.values),
             running_clocks=len(owned.due))
    return owned


async def stop_quietly(producer: AIOKafkaProducer) -> None:
    """Stop a partition's producer, whatever state the broker is in."""
    # An idempotent producer can wait forever on an absent broker (aiokafka #1101).
    with contextlib.suppress(Exception):
        async with asyncio.timeout(10):
            await producer.stop()
