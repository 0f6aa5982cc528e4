"""Consumes decisions and writes them to both CRMs in batches; commits only after they are
durable.

Polls give up to ``batch_size`` records, from every partition that has some, and become
one round (:mod:`services.sync.pipeline`; a part-filled round waits for more while the CRMs
are busy, :mod:`services.sync.polling`): of its decisions the last per lead is
written, one ``upsert_leads`` and one ``upsert_contacts`` call (then ``upsert_deals`` for the
wins), the writers chunking them — so the calls fill up however the records spread over the
partitions. Each CRM writes the rounds in poll order on its own lane; a round's offsets are
committed, partition by partition, once both CRMs accepted or refused every record of it and
every round before it, what they accepted is kept as known (:mod:`services.sync.skip_state`:
the next write of the same values is skipped), and what they refused is on the dead-letter
topic. The consumer keeps polling — and stays in its group — however long the CRMs take:
every partition is paused while a lane has enough rounds waiting, or while a CRM says
Accord's share of its allowance is used (:class:`CrmLimitReached`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence

import structlog
from aiokafka import (
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRebalanceListener,
    ConsumerRecord,
    TopicPartition,
)
from aiokafka.errors import CommitFailedError, IllegalStateError

from services.mapping.crm_mapping import CrmMapping
from services.messaging.dead_letters import dead_letter_headers
from services.messaging.topics import LEAD_DECISIONS, SYNC_DEAD_LETTERS
from services.sync.batch_plan import (
    DeadLetter,
    Decided,
    ReadBatch,
    Won,
    dead_letters,
    kept_by_partition,
    known_keys,
    read_batch,
)
from services.sync.crm_calls import CrmCalls
from services.sync.crm_sides import CrmSides, Written
from services.sync.hubspot_writer import HubSpotWriter
from services.sync.known_values import Values
from services.sync.metrics import SyncMetrics
from services.sync.outcome_mapping import OutcomeMapping
from services.sync.pipeline import Pipeline, Round
from services.sync.polling import (
    LINGER_SECONDS,
    POLL_MS,
    TOP_UP_MS,
    Pending,
    fill,
    rewind,
)
from services.sync.salesforce_writer import SalesforceWriter
from services.sync.settings import SyncSettings
from services.sync.skip_state import KnownValuesStore

log = structlog.get_logger(__name__)
SYNC_GROUP = "accord-sync"


class _AbandonOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    """Abandons the rounds in flight, uncommitted: their next owner redoes them (every write
    is an idempotent upsert); and forgets the revoked partitions' known values, which the
    next owner keeps from now on. aiokafka rebalances eagerly: every partition is revoked,
    and those assigned again are read from their committed offsets."""

    def __init__(self, worker: SyncWorker) -> None:
        self._worker = worker

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._worker.abandon(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self._worker.restore(assigned)


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
        self._consumer: AIOKafkaConsumer | None = None
        self._stop = asyncio.Event()
        self._changed = asyncio.Event()  # a lane took rounds, or a park began or ended
        self._calls = CrmCalls(settings.max_concurrency, self._stop, self._changed.set)
        self._pipeline: Pipeline | None = None
        self._restoring: set[asyncio.Task[None]] = set()

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

    async def _known_for(self, crm: str, latest: Sequence[Decided],
                         won: Sequence[Won] = ()) -> dict[str, Values | None]:
        """What ``crm`` is known to hold for these records, from each one's partition."""
        assert self._known is not None, "run() first"
        known: dict[str, Values | None] = {}
        for partition, keys in known_keys(crm, latest, won).items():
            await self._known.ensure(partition)
            known.update(self._known.snapshot(partition, keys))
        return known

    async def _settle(self, kind: str, written: Written) -> None:
        """Dead-letter what the CRM refused and keep what it accepted, each in the
        partition of its decision."""
        assert self._known is not None, "run() first"
        writes, outcome = written
        await self._send(dead_letters(writes, outcome))
        kept = kept_by_partition(writes, outcome)
        await asyncio.gather(*(self._known.keep(p, values) for p, values in kept.items()))
        rejected = len(writes.refused) + len(outcome.rejected)
        self.metrics.count(writes.crm, kind, len(outcome.written), len(writes.skipped),
                           rejected)
        log.info("sync.batch_written", crm=writes.crm, object=kind,
                 written=len(outcome.written), skipped=len(writes.skipped), rejected=rejected)

    async def write_salesforce(self, batch: ReadBatch) -> None:
        """Write a batch's Leads; returns once each is accepted or dead-lettered, and kept."""
        latest, sides = list(batch.latest), self._sides
        if not latest:
            return
        known = await self._known_for("salesforce", latest)
        await self._settle("lead", await self._calls.until_done(
            "salesforce", lambda: sides.write_salesforce(latest, known)))

    async def write_hubspot(self, batch: ReadBatch) -> None:
        """Write a batch's contacts, then its won deals (a deal is associated with a contact
        that must exist); returns once each is accepted or dead-lettered, and kept."""
        latest, won, sides = list(batch.latest), list(batch.won), self._sides
        if latest:
            known = await self._known_for("hubspot", latest)
            await self._settle("contact", await self._calls.until_done(
                "hubspot", lambda: sides.write_contacts(latest, known)))
        if won:
            known_deals = await self._known_for("hubspot", [], won)
            await self._settle("deal", await self._calls.until_done(
                "hubspot", lambda: sides.write_deals(won, known_deals)))

    async def _commit(self, round_: Round) -> None:
        """Commit a round whose records both CRMs are done with (and every round before)."""
        assert self._consumer is not None
        await self._send(round_.batch.unreadable)
        try:
            await self._consumer.commit(dict(round_.ends))
        except (CommitFailedError, IllegalStateError) as exc:
            # The partitions went to another worker: it redoes the round (upserts).
            log.warning("sync.commit_lost", partitions=sorted(tp.partition for tp in round_.ends),
                        error=str(exc))

    def _new_pipeline(self) -> Pipeline:
        return Pipeline({"salesforce": self.write_salesforce, "hubspot": self.write_hubspot},
                        self._commit, self._stop, self._changed,
                        self._settings.rounds_queued)

    async def abandon(self, revoked: set[TopicPartition]) -> None:
        """Drop every round in flight, uncommitted, and the revoked partitions' known values."""
        old, self._pipeline = self._pipeline, self._new_pipeline()
        if old is not None:
            await old.abandon()
        await self._stop_restoring()  # a read finished after forget() would look current
        if self._known is not None:
            self._known.forget(tp.partition for tp in revoked)

    def restore(self, assigned: set[TopicPartition]) -> None:
        """Start reading the assigned partitions' known values, all in one pass, while the
        first poll comes (the lanes wait for the partitions they need)."""
        if self._known is not None and assigned:
            task = asyncio.create_task(self._known.ensure_all(tp.partition for tp in assigned))
            self._restoring.add(task)
            task.add_done_callback(self._restoring.discard)

    async def _stop_restoring(self) -> None:
        for task in self._restoring:
            task.cancel()
        await asyncio.gather(*self._restoring, return_exceptions=True)

    async def _poll(self, consumer: AIOKafkaConsumer) -> None:
        pending, pending_for = Pending(), self._pipeline
        while not self._stop.is_set():
            pipeline = self._pipeline
            assert pipeline is not None
            pipeline.check()
            assigned = consumer.assignment()
            if self._calls.parked or not pipeline.has_room():
                # Poll nothing, but poll: it keeps the consumer in its group.
                consumer.pause(*assigned)
                self._changed.clear()
                await consumer.getmany(timeout_ms=0)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), POLL_MS / 1000)
                continue
            consumer.resume(*assigned)
            size = self._settings.batch_size
            polled = await fill(consumer, size - pending.count,
                                TOP_UP_MS if pending.count else POLL_MS)
            if pending_for is not self._pipeline:  # the rounds in flight were abandoned
                await rewind(consumer, [*pending.records, *polled])
                pending, pending_for = Pending(), self._pipeline
                continue
            pending.add(polled)
            # A short round only when it keeps a CRM from idling, or has waited long enough:
            # otherwise it would cost a CRM call part-filled.
            if pending.count >= size or (pending.count and (
                    pipeline.idle() or pending.age() >= LINGER_SECONDS)):
                records = [r for found in pending.records.values() for r in found]
                pipeline.add(read_batch(records),
                             {tp: found[-1].offset + 1 for tp, found in pending.records.items()},
                             {tp: found[0].offset for tp, found in pending.records.items()})
                pending = Pending()

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set; offsets are committed as rounds become durable."""
        kafka = self._settings.kafka
        consumer = self._consumer = AIOKafkaConsumer(
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
        consumer.subscribe([kafka.topic(LEAD_DECISIONS)], listener=_AbandonOnRevoke(self))
        self._stop = stop
        self._calls = CrmCalls(self._settings.max_concurrency, stop, self._changed.set)
        self._pipeline = self._new_pipeline()
        await consumer.start()
        try:
            await self._poll(consumer)
        finally:
            stop.set()  # rounds in flight end at their next CRM call, uncommitted
            await self._pipeline.close()
            await self._stop_restoring()
            await consumer.stop()
            await known.stop()
            await self._dead_letters.stop()


