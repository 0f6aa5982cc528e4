"""The router worker: consume lead events, keep golden records, publish decisions.

Exactly-once per partition, with Kafka transactions: for each input partition the worker
owns, one transactional producer writes the batch's state changes (changelog), its
decisions and dead letters, and the consumed offset, then commits them together. A worker
killed mid-batch leaves an open transaction; the next owner's producer (same
transactional id, one per partition) aborts it on start and fences the dead worker, then
restores the state from the changelog and resumes from the committed offset. Readers of
the decisions topic use ``isolation_level="read_committed"``. A partition's next batch is
processed while its previous transaction commits, and dropped if that one fails (see
``owned_partition``).

Why not faust-streaming (the first design): its consumer drops records fetched while a
rebalance's recovery is finishing, and then stalls or skips them (reproduced here, see the
README's "Router runtime" section), and its per-event overhead held the router to a
twelfth of a plain consume-and-produce loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord, TopicPartition

from services.messaging.partition_batches import PartitionBatches
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
from services.router.crm_fields import NO_CRM, CrmContext
from services.router.owned_partition import InFlight, OwnedPartition, stop_quietly, take_over
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
from services.router.sla_escalation import breach_due_clocks

log = structlog.get_logger(__name__)
# Records processed between two chances for a transaction in flight to take its next step.
_YIELD_EVERY = 8


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
        # Bumped when fetch positions go back to the committed offsets, for one partition
        # (a rebuild) or all (a rebalance): records fetched before come again, unused.
        self.rebuilds: dict[int, int] = {}
        self.rebalances = 0
        # Every transaction sent and not over yet (including one rebuilding its partition).
        self.committing: set[asyncio.Task[bool]] = set()
        self.failure: BaseException | None = None
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
                if self.failure is not None:
                    raise self.failure
                batches = await self.consumer.getmany(timeout_ms=500,
                                                      max_records=self.settings.max_batch)
                fetched = self.rebalances, dict(self.rebuilds)
                for tp, records in batches.items():
                    async with self.lock:
                        if self._went_back(tp.partition, fetched):
                            continue  # its positions went back since: they come again
                        await self._process_batch(tp, records)
        finally:
            for task in (follower, timer):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            async with self.lock:
                with contextlib.suppress(Exception):  # stopping: what committed, committed
                    await self._settle_all()
                await self.consumer.stop()
                for owned in self.owned.values():
                    await stop_quietly(owned.producer)
                self.owned.clear()
            log.info("router.stopped", processed=self.processed)

    def _went_back(self, partition: int, fetched: tuple[int, dict[int, int]]) -> bool:
        """Whether ``partition``'s fetch positions went back since ``fetched``."""
        rebalances, rebuilds = fetched
        return (self.rebalances != rebalances
                or self.rebuilds.get(partition) != rebuilds.get(partition))

    async def _process_batch(self, tp: TopicPartition, records: list[ConsumerRecord]) -> None:
        """Process a batch and send its transaction in the background; at most one other
        transaction of the partition is then in flight (see ``owned_partition``)."""
        owned = self.owned.get(tp.partition)
        if owned is None or not records:
            return  # revoked while the batch was in flight: the next owner reads it again
        await owned.settle(keep=1)
        if self.owned.get(tp.partition) is not owned:
            return  # that transaction failed: the partition is read again from its offsets
        result = StepResult()
        rules, now = self.rules.rules, self.clock()

        lookup = owned.lookup_through(result)
        for done, record in enumerate(records, 1):
            incoming = Incoming(record.topic, record.partition, record.offset, record.key,
                                record.value, list(record.headers or ()))
            if record.topic == self.crm_changes:
                link_crm_change(lookup, incoming, result, self.crm)
            elif record.topic == self.pool_requests:
                pick_from_pool(rules, lookup, incoming, now, result)
            else:
                process_record(rules, lookup, incoming, now, self.crm, result)
            if done % _YIELD_EVERY == 0:
                await asyncio.sleep(0)  # let the transaction in flight take its next step
        commit = asyncio.create_task(
            self._commit_after(owned.last_commit(), owned, tp, records, result))
        self.committing.add(commit)
        commit.add_done_callback(self._sent)
        owned.in_flight.append(InFlight(commit, result))

    async def _commit_after(self, earlier: asyncio.Task[bool] | None, owned: OwnedPartition,
                            tp: TopicPartition, records: list[ConsumerRecord],
                            result: StepResult) -> bool:
        """Commit a batch once the partition's transaction before it committed; a batch
        after a failed one is dropped unsent (the rebuild reads it again)."""
        if earlier is not None and not await earlier:
            return False
        if self.owned.get(tp.partition) is not owned:
            return False  # rebuilt or handed over meanwhile
        if not await self._commit(owned, tp, records[-1].offset + 1, result):
            return False
        self.processed += len(records)
        log.debug("router.batch", partition=tp.partition, records=len(records),
                  decided=result.decided, dead_lettered=result.dead_lettered)
        return True

    def _sent(self, commit: asyncio.Task[bool]) -> None:
        self.committing.discard(commit)
        if not commit.cancelled() and commit.exception() is not None:
            self.failure = commit.exception()  # a bug: the loop stops the worker on it

    async def _settle_all(self) -> None:
        """Wait until no transaction is in flight, nor a rebuild after a failed one (before
        partitions change hands); raises what a transaction raised."""
        while self.committing:
            outcomes = await asyncio.gather(*self.committing, return_exceptions=True)
            for owned in self.owned.values():
                owned.in_flight = [sent for sent in owned.in_flight if not sent.commit.done()]
            for outcome in outcomes:
                if isinstance(outcome, BaseException):
                    raise outcome

    async def _sla_timer(self, stop: asyncio.Event) -> None:
        """Breach the clocks that fell due, partition by partition, each in a transaction."""
        while not stop.is_set():
            await asyncio.sleep(self.settings.sla_tick_seconds)
            async with self.lock:
                for owned in list(self.owned.values()):
                    await self._breach_due(owned)

    async def _breach_due(self, owned: OwnedPartition) -> None:
        await owned.settle()  # the timer's transaction reads, and follows, the batches'
        if self.owned.get(owned.partition) is not owned:
            return
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
        """After a failed commit: a new producer and state, and every input topic's
        partition back to its committed offset (batches read ahead of the failed one, of
        any of them, were dropped unsent)."""
        old = self.owned.pop(tp.partition, None)
        if old is not None:
            await stop_quietly(old.producer)
        assert self.consumer is not None
        assignment = self.consumer.assignment()
        if tp not in assignment:
            self._went_back_now(tp.partition)
            return
        owned = await self._take_over(tp.partition)
        mine = [each for each in (TopicPartition(topic, tp.partition) for topic in (
            self.input_topic, self.crm_changes, self.crm_changes_by_lead, self.pool_requests))
            if each in assignment]
        starts = await self.consumer.beginning_offsets(mine)
        offsets = {each: await self.consumer.committed(each) for each in mine}
        # No await from here on: no fetch returns between the seeks and the partition
        # taking batches again, so a batch it takes was fetched from the new positions.
        for each, committed in offsets.items():
            self.consumer.seek(each, starts[each] if committed is None else committed)
        self.owned[tp.partition] = owned
        self._went_back_now(tp.partition)

    def _went_back_now(self, partition: int) -> None:
        self.rebuilds[partition] = self.rebuilds.get(partition, 0) + 1

    async def _take_over(self, partition: int) -> OwnedPartition:
        return await take_over(self.kafka, f"{self.group_id}-{self.input_topic}-{partition}",
                               self.changelog, partition)

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        """Stop after the batch in flight; keep the state until we know who owns what."""
        # The lock waits out the batch in flight; with eager rebalancing every partition
        # is revoked here and most come straight back in on_partitions_assigned.
        async with self.lock:
            await self._settle_all()

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        """Let go of partitions now owned elsewhere; take over the new ones."""
        async with self.lock:
            # Fetch positions restart from the committed offsets: drop what was fetched.
            self.rebalances += 1
            await self._settle_all()
            mine = {tp.partition for tp in assigned if tp.topic == self.input_topic}
            for partition in set(self.owned) - mine:
                await stop_quietly(self.owned.pop(partition).producer)
            new = sorted(mine - set(self.owned))
            taken = await asyncio.gather(*(self._take_over(p) for p in new))
            self.owned.update(zip(new, taken, strict=True))
            log.info("router.assigned", partitions=sorted(mine))
