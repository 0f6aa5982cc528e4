"""The router worker: consume lead events, keep golden records, publish decisions.

Exactly-once per partition, with Kafka transactions: for each input partition the worker
owns, one transactional producer writes the batch's state changes (changelog), its
decisions and dead letters, and the consumed offset, then commits them together. A worker
killed mid-batch leaves an open transaction; the next owner's producer (same
transactional id, one per partition) aborts it on start and fences the dead worker, then
restores the state from the changelog and resumes from the committed offset. Readers of
the decisions topic use ``isolation_level="read_committed"``.

Why not faust-streaming (the first design): its consumer drops records fetched while a
rebalance's recovery is finishing, and then stalls or skips them (reproduced here, see the
README's "Router runtime" section), and its per-event overhead held the router to a
twelfth of a plain consume-and-produce loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord, TopicPartition

from services.messaging.partition_batches import BATCH_BYTES, PartitionBatches
from services.messaging.topics import (
    CRM_CHANGES,
    CRM_CHANGES_BY_LEAD,
    LEAD_DECISIONS,
    LEAD_EVENTS,
    POOL_REQUESTS,
    ROUTER_APP_ID,
    ROUTER_DEAD_LETTERS,
    router_changelog,
)
from services.router.changelog_store import ChangelogStore, restore
from services.router.crm_fields import NO_CRM, CrmContext
from services.router.handoff import SLA_PREFIX
from services.router.pool_stage import pick_from_pool
from services.router.record_processing import (
    Incoming,
    StepResult,
    link_crm_change,
    process_record,
)
from services.router.rule_publication import CurrentRules
from services.router.rules.model import RuleSet
from services.router.settings import RouterSettings
from services.router.sla import SlaClock
from services.router.sla_escalation import breach_due_clocks

log = structlog.get_logger(__name__)


@dataclass
class OwnedPartition:
    """An input partition this worker owns: its producer and its slice of the state."""

    partition: int
    producer: AIOKafkaProducer
    store: ChangelogStore
    # Running SLA clocks of this partition's leads: lead key -> due time (for the timer).
    due: dict[str, datetime] = field(default_factory=dict)

    def lookup_through(self, result: StepResult) -> Callable[[str], bytes | None]:
        """Reads a step's own pending changes first, then the committed state."""
        def lookup(key: str) -> bytes | None:
            pending = result.changes.get(key)
            return pending if pending is not None else self.store.get(key)
        return lookup

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


class RouterWorker(ConsumerRebalanceListener):  # type: ignore[misc]
    """One router worker; start several with the same settings to share the partitions."""

    def __init__(self, settings: RouterSettings, rules: RuleSet, crm: CrmContext = NO_CRM,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.settings = settings
        self.crm = crm
        self.kafka = settings.kafka
        self.rules = CurrentRules(rules)
        self.clock = clock
        self.group_id = self.kafka.group(ROUTER_APP_ID)
        self.input_topic = self.kafka.topic(LEAD_EVENTS)
        self.crm_changes = self.kafka.topic(CRM_CHANGES)
        self.crm_changes_by_lead = self.kafka.topic(CRM_CHANGES_BY_LEAD)
        self.pool_requests = self.kafka.topic(POOL_REQUESTS)
        self.changelog = router_changelog(self.kafka)
        self.topics = {"decisions": self.kafka.topic(LEAD_DECISIONS),
                       "dead_letters": self.kafka.topic(ROUTER_DEAD_LETTERS),
                       "crm_changes_by_lead": self.crm_changes_by_lead,
                       "pool_requests": self.pool_requests}
        self.owned: dict[int, OwnedPartition] = {}
        # Held while a batch is processed and while partitions change hands.
        self.lock = asyncio.Lock()
        self.consumer: AIOKafkaConsumer | None = None
        self.processed = 0

    async def run(self, stop: asyncio.Event, ready: asyncio.Event | None = None) -> None:
        """Consume until ``stop`` is set; ``ready`` is set once the rules are known."""
        rules_ready = asyncio.Event()
        follower = asyncio.create_task(self.rules.follow(self.kafka, rules_ready))
        # Decide nothing until the latest published rule set is known.
        await rules_ready.wait()
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=self.kafka.bootstrap_servers,
            security_protocol=self.kafka.security_protocol,
            group_id=self.group_id, enable_auto_commit=False,
            auto_offset_reset="earliest", isolation_level="read_committed",
            session_timeout_ms=int(self.settings.session_timeout_seconds * 1000),
            heartbeat_interval_ms=int(self.settings.session_timeout_seconds * 200),
            max_poll_interval_ms=int(self.settings.max_poll_interval_seconds * 1000),
            # Range keeps partition p of every input topic on the same worker.
            partition_assignment_strategy=(RangePartitionAssignor,),
        )
        # All four have the same partition count: partition p of each is one unit of work
        # with one slice of state and one transactional producer.
        self.consumer.subscribe([self.input_topic, self.crm_changes, self.crm_changes_by_lead,
                                 self.pool_requests], listener=self)
        await self.consumer.start()
        if ready is not None:
            ready.set()
        log.info("router.started", group=self.group_id, rules=self.rules.rules.version)
        timer = asyncio.create_task(self._sla_timer(stop))
        try:
            while not stop.is_set():
                batches = await self.consumer.getmany(timeout_ms=500,
                                                      max_records=self.settings.max_batch)
                for tp, records in batches.items():
                    async with self.lock:
                        await self._process_batch(tp, records)
        finally:
            for task in (follower, timer):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            async with self.lock:
                await self.consumer.stop()
                for owned in self.owned.values():
                    await _stop_quietly(owned.producer)
                self.owned.clear()
            log.info("router.stopped", processed=self.processed)

    async def _process_batch(self, tp: TopicPartition, records: list[ConsumerRecord]) -> None:
        owned = self.owned.get(tp.partition)
        if owned is None or not records:
            return  # revoked while the batch was in flight: the next owner reads it again
        result = StepResult()
        rules, now = self.rules.rules, self.clock()

        lookup = owned.lookup_through(result)
        for record in records:
            incoming = Incoming(record.topic, record.partition, record.offset, record.key,
                                record.value, list(record.headers or ()))
            if record.topic == self.crm_changes:
                link_crm_change(lookup, incoming, result, self.crm)
            elif record.topic == self.pool_requests:
                pick_from_pool(rules, lookup, incoming, now, result)
            else:
                process_record(rules, lookup, incoming, now, self.crm, result)
        if not await self._commit(owned, tp, records[-1].offset + 1, result):
            return
        self.processed += len(records)
        log.debug("router.batch", partition=tp.partition, records=len(records),
                  decided=result.decided, dead_lettered=result.dead_lettered)

    async def _sla_timer(self, stop: asyncio.Event) -> None:
        """Breach the clocks that fell due, partition by partition, each in a transaction."""
        while not stop.is_set():
            await asyncio.sleep(self.settings.sla_tick_seconds)
            async with self.lock:
                for owned in list(self.owned.values()):
                    await self._breach_due(owned)

    async def _breach_due(self, owned: OwnedPartition) -> None:
        now = self.clock()
        due = [lead for lead, at in owned.due.items() if at < now]
        if not due:
            return
        result = StepResult()

        lookup = owned.lookup_through(result)
        breach_due_clocks(self.rules.rules, lookup, sorted(due), now, result)
        tp = TopicPartition(self.input_topic, owned.partition)
        if not await self._commit(owned, tp, None, result):
            return
        log.info("router.sla_breached", partition=owned.partition, leads=len(due))

    async def _commit(self, owned: OwnedPartition, tp: TopicPartition, next_offset: int | None,
                      result: StepResult) -> bool:
        """Commit a step's effects (and ``next_offset``, for a batch) in one transaction,
        then apply them to the partition's state; False when the commit failed."""
        try:
            async with asyncio.timeout(self.settings.transaction_timeout_seconds):
                await self._send_in_transaction(owned, tp, next_offset, result)
        except (KafkaError, TimeoutError) as exc:
            # Nothing of this step became visible: rebuild the partition from the
            # changelog and read again from the committed offset.
            log.warning("router.commit_failed", partition=tp.partition, error=repr(exc))
            await self._rebuild(tp)
            return False
        owned.store.apply(dict(result.changes))
        owned.index_clocks(result.changes)
        return True

    async def _send_in_transaction(self, owned: OwnedPartition, tp: TopicPartition,
                                   next_offset: int | None, result: StepResult) -> None:
        producer = owned.producer
        await producer.begin_transaction()
        batches = PartitionBatches(producer)
        for key, value in result.changes.items():
            batches.add(self.changelog, tp.partition, key.encode(), value)
        for out in result.outputs:
            await batches.add_keyed(self.topics[out.kind], out.key, out.value, out.headers)
        delivered = await batches.send()
        if next_offset is not None:
            await producer.send_offsets_to_transaction({tp: next_offset}, self.group_id)
        await asyncio.gather(*delivered)
        await producer.commit_transaction()

    async def _rebuild(self, tp: TopicPartition) -> None:
        old = self.owned.pop(tp.partition, None)
        if old is not None:
            await _stop_quietly(old.producer)
        assert self.consumer is not None
        if tp not in self.consumer.assignment():
            return
        self.owned[tp.partition] = await self._take_over(tp.partition)
        committed = await self.consumer.committed(tp)
        if committed is None:
            await self.consumer.seek_to_beginning(tp)
        else:
            self.consumer.seek(tp, committed)

    async def _take_over(self, partition: int) -> OwnedPartition:
        # The producer starts first: that aborts the previous owner's open transaction
        # and fences it, so the changelog restored next is final.
        producer = AIOKafkaProducer(
            bootstrap_servers=self.kafka.bootstrap_servers,
            security_protocol=self.kafka.security_protocol,
            transactional_id=f"{self.group_id}-{self.input_topic}-{partition}",
            linger_ms=5, max_batch_size=BATCH_BYTES,
        )
        await producer.start()
        store = await restore(self.kafka, self.changelog, partition)
        owned = OwnedPartition(partition, producer, store)
        owned.index_clocks({key: store.values[key] for key in store.keys_with_prefix(SLA_PREFIX)})
        log.info("router.partition_restored", partition=partition, records=len(store.values),
                 running_clocks=len(owned.due))
        return owned

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        """Stop after the batch in flight; keep the state until we know who owns what."""
        # The lock waits out the batch in flight; with eager rebalancing every partition
        # is revoked here and most come straight back in on_partitions_assigned.
        async with self.lock:
            return None

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        """Let go of partitions now owned elsewhere; take over the new ones."""
        async with self.lock:
            mine = {tp.partition for tp in assigned if tp.topic == self.input_topic}
            for partition in set(self.owned) - mine:
                await _stop_quietly(self.owned.pop(partition).producer)
            new = sorted(mine - set(self.owned))
            taken = await asyncio.gather(*(self._take_over(p) for p in new))
            self.owned.update(zip(new, taken, strict=True))
            log.info("router.assigned", partitions=sorted(mine))


async def _stop_quietly(producer: AIOKafkaProducer) -> None:
    # An idempotent producer can wait forever on an absent broker (aiokafka #1101).
    with contextlib.suppress(Exception):
        async with asyncio.timeout(10):
            await producer.stop()
