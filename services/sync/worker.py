"""Consumes decisions and writes them to both CRMs in batches; commits only after they are
durable.

Each poll gives up to ``batch_size`` records of a partition. The partition is paused while
its batch is written (the last decision per lead, one ``upsert_leads`` and one
``upsert_contacts`` call, then ``upsert_deals`` for the wins, the writers chunking them), so
the consumer keeps polling — and stays in its group — however long the CRMs take, and its
offset is committed once both CRMs accepted or refused every record and what they accepted
is kept as known (:mod:`services.sync.skip_state`): the next write of the same values is
skipped. When a CRM says Accord's share of its allowance is used (:class:`CrmLimitReached`)
every partition is paused until the CRM takes calls again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

import structlog
from aiokafka import (
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRebalanceListener,
    ConsumerRecord,
    TopicPartition,
)
from aiokafka.errors import CommitFailedError, IllegalStateError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    retry_if_not_exception_type,
    wait_exponential_jitter,
)

from services.mapping.crm_mapping import CrmMapping
from services.messaging.dead_letters import dead_letter_headers
from services.messaging.topics import LEAD_DECISIONS, SYNC_DEAD_LETTERS
from services.sync.batch_plan import DeadLetter, ReadBatch, dead_letters, read_batch, to_keep
from services.sync.crm_errors import CrmLimitReached, TransientCrmError
from services.sync.crm_sides import CrmSides, Written
from services.sync.hubspot_writer import HubSpotWriter
from services.sync.known_values import state_key
from services.sync.metrics import SyncMetrics
from services.sync.outcome_mapping import OutcomeMapping
from services.sync.salesforce_writer import SalesforceWriter
from services.sync.settings import SyncSettings
from services.sync.skip_state import KnownValuesStore

log = structlog.get_logger(__name__)
T = TypeVar("T")
SYNC_GROUP = "accord-sync"
_POLL_MS = 500


class _Stopped(Exception):
    """Stop was asked for before the batch was durable: leave it uncommitted."""


class _CancelRevoked(ConsumerRebalanceListener):  # type: ignore[misc]
    """Abandons the batches of revoked partitions, uncommitted: their next owner redoes them
    (every write is an idempotent upsert); and forgets their known values, which the next
    owner keeps from now on."""

    def __init__(self, tasks: dict[TopicPartition, asyncio.Task[None]],
                 known: KnownValuesStore) -> None:
        self._tasks = tasks
        self._known = known

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        gone = [self._tasks.pop(tp) for tp in revoked if tp in self._tasks]
        for task in gone:
            task.cancel()
        await asyncio.gather(*gone, return_exceptions=True)
        self._known.forget(tp.partition for tp in revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        return None


async def _sleep(seconds: float, stop: asyncio.Event) -> None:
    """Sleep ``seconds``, or less if ``stop`` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


def _known_keys(batch: ReadBatch) -> list[str]:
    """The known-values keys a batch's records are diffed against."""
    leads = [state_key(crm, d.lead_key) for d in batch.latest for crm in ("salesforce",
                                                                          "hubspot")]
    return [*leads, *(state_key("hubspot", f"deal:{w.won.opportunity_id}") for w in batch.won)]


class SyncWorker:
    """One sync worker; several share the decision topic's partitions."""

    def __init__(self, settings: SyncSettings, mapping: CrmMapping, outcomes: OutcomeMapping,
                 salesforce: SalesforceWriter, hubspot: HubSpotWriter,
                 metrics: SyncMetrics | None = None) -> None:
        self._settings = settings
        self._sides = CrmSides(mapping, outcomes, salesforce, hubspot)
        self.metrics = metrics or SyncMetrics()
        self._dead_letters: AIOKafkaProducer | None = None
        self._known: KnownValuesStore | None = None
        self._threads = asyncio.Semaphore(settings.max_concurrency)
        self._tasks: dict[TopicPartition, asyncio.Task[None]] = {}
        self._parked = 0  # writes waiting for a CRM's limit to lift

    async def _until_done(self, crm: str, write: Callable[[], T], stop: asyncio.Event) -> T:
        """Run a blocking CRM write off the event loop (at most ``max_concurrency`` at once),
        retrying transient failures with backoff and waiting out a reached limit."""
        while True:
            try:
                async for attempt in AsyncRetrying(
                    retry=(retry_if_exception_type(TransientCrmError)
                           & retry_if_not_exception_type(CrmLimitReached)),
                    wait=wait_exponential_jitter(initial=0.5, max=30),
                    stop=lambda _state: stop.is_set(),
                    sleep=lambda seconds: _sleep(seconds, stop),
                    before_sleep=lambda state: _log_retry(crm, state), reraise=True,
                ):
                    with attempt:
                        async with self._threads:
                            return await asyncio.to_thread(write)
            except CrmLimitReached as exc:
                log.warning("sync.parked", crm=crm, seconds=exc.resume_after_seconds,
                            error=str(exc))
                self._parked += 1
                try:
                    await _sleep(exc.resume_after_seconds, stop)
                finally:
                    self._parked -= 1
            except TransientCrmError as exc:
                if not stop.is_set():
                    raise
                raise _Stopped from exc
            if stop.is_set():
                raise _Stopped

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], reason: str,
                           extra: Mapping[str, str]) -> None:
        assert self._dead_letters is not None
        headers = dead_letter_headers(list(record.headers), topic=record.topic,
                                      partition=record.partition, offset=record.offset,
                                      stage="sync", reason=reason, extra=dict(extra))
        await self._dead_letters.send_and_wait(
            self._settings.kafka.topic(SYNC_DEAD_LETTERS), record.value, key=record.key,
            headers=headers)
        log.warning("sync.dead_lettered", reason=reason[:300], **extra)

    async def _send(self, letters: Sequence[DeadLetter]) -> None:
        for letter in letters:
            await self._dead_letter(letter.record, letter.reason, letter.extra)

    async def process_batch(self, records: Sequence[ConsumerRecord[bytes, bytes]],
                            stop: asyncio.Event) -> None:
        """Write one partition's batch to both CRMs and dead-letter what they refuse; returns
        once all of it is durable. Raises ``_Stopped`` if ``stop`` cut it short."""
        assert self._known is not None, "run() first"
        batch = read_batch(records)
        await self._send(batch.unreadable)
        latest, won = list(batch.latest), list(batch.won)
        if not latest and not won:
            return
        partition = records[0].partition
        await self._known.ensure(partition)
        known = self._known.snapshot(partition, _known_keys(batch))
        sides = self._sides

        async def to_hubspot() -> list[tuple[str, Written]]:
            # Contacts first: a deal is associated with a contact that must exist.
            contacts = await self._until_done(
                "hubspot", lambda: sides.write_contacts(latest, known), stop)
            if not won:
                return [("contact", contacts)]
            deals = await self._until_done("hubspot", lambda: sides.write_deals(won, known),
                                           stop)
            return [("contact", contacts), ("deal", deals)]

        async def to_salesforce() -> list[tuple[str, Written]]:
            return [("lead", await self._until_done(
                "salesforce", lambda: sides.write_salesforce(latest, known), stop))]

        both = [asyncio.create_task(to_salesforce()), asyncio.create_task(to_hubspot())]
        try:
            written = [item for side in await asyncio.gather(*both) for item in side]
        except BaseException:
            for task in both:
                task.cancel()
            await asyncio.gather(*both, return_exceptions=True)
            raise
        for kind, (writes, outcome) in written:
            await self._send(dead_letters(writes, outcome))
            await self._known.keep(partition, to_keep(writes, outcome))
            rejected = len(writes.refused) + len(outcome.rejected)
            self.metrics.count(writes.crm, kind, len(outcome.written), len(writes.skipped),
                               rejected)
            log.info("sync.batch_written", crm=writes.crm, object=kind,
                     written=len(outcome.written), skipped=len(writes.skipped),
                     rejected=rejected)

    async def _process_partition(self, consumer: AIOKafkaConsumer, tp: TopicPartition,
                                 records: list[ConsumerRecord[bytes, bytes]],
                                 stop: asyncio.Event) -> None:
        try:
            await self.process_batch(records, stop)
        except _Stopped:
            log.info("sync.batch_left_uncommitted", partition=tp.partition,
                     first_offset=records[0].offset)
            return
        try:
            # Only now is every record of the batch written or dead-lettered.
            await consumer.commit({tp: max(r.offset for r in records) + 1})
        except (CommitFailedError, IllegalStateError) as exc:
            # The partition went to another worker: it redoes the batch (upserts).
            log.warning("sync.commit_lost", partition=tp.partition, error=str(exc))

    def _pause_busy(self, consumer: AIOKafkaConsumer) -> None:
        """Pause the partitions with a batch in flight, or all of them while parked; poll
        keeps the consumer in its group and returns nothing for paused partitions."""
        for tp, task in list(self._tasks.items()):
            if task.done():
                del self._tasks[tp]
                task.result()  # a failure other than the CRMs' ends the worker
        assigned = consumer.assignment()
        paused = set(assigned) if self._parked else set(self._tasks) & assigned
        if paused:
            consumer.pause(*paused)
        if assigned - paused:
            consumer.resume(*(assigned - paused))

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set; each partition's offset is committed after its
        batch is written."""
        kafka = self._settings.kafka
        consumer = AIOKafkaConsumer(
            bootstrap_servers=kafka.bootstrap_servers,
            group_id=kafka.group(SYNC_GROUP), enable_auto_commit=False,
            auto_offset_reset="earliest", security_protocol=kafka.security_protocol,
            # The router writes decisions in transactions: never act on an aborted one.
            isolation_level="read_committed")
        self._dead_letters = AIOKafkaProducer(
            bootstrap_servers=kafka.bootstrap_servers, acks="all", enable_idempotence=True,
            security_protocol=kafka.security_protocol)
        await self._dead_letters.start()
        self._known = known = KnownValuesStore(kafka, self._dead_letters)
        try:
            await known.start()
        except BaseException:
            await known.stop()
            await self._dead_letters.stop()
            raise
        consumer.subscribe([kafka.topic(LEAD_DECISIONS)],
                           listener=_CancelRevoked(self._tasks, known))
        await consumer.start()
        try:
            while not stop.is_set():
                self._pause_busy(consumer)
                batches = await consumer.getmany(timeout_ms=_POLL_MS,
                                                 max_records=self._settings.batch_size)
                for tp, records in batches.items():
                    if not records:
                        continue
                    if tp in self._tasks:  # not expected (paused): read them again later
                        consumer.seek(tp, records[0].offset)
                        continue
                    consumer.pause(tp)
                    self._tasks[tp] = asyncio.create_task(
                        self._process_partition(consumer, tp, records, stop))
        finally:
            stop.set()  # batches in flight end at their next CRM call, uncommitted
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)
            await consumer.stop()
            await known.stop()
            await self._dead_letters.stop()


def _log_retry(crm: str, state: RetryCallState) -> None:
    log.warning("sync.retrying", crm=crm, attempt=state.attempt_number,
                error=str(state.outcome.exception() if state.outcome else ""))
