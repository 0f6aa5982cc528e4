"""Consumes decisions and writes them to both CRMs; commits only after they are durable."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from pydantic import ValidationError
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential_jitter

from services.contracts.envelope import EnvelopeError, decode
from services.contracts.events import LEAD_ROUTED, LeadRouted
from services.messaging.dead_letters import dead_letter_headers
from services.messaging.topics import LEAD_DECISIONS, SYNC_DEAD_LETTERS
from services.sync.crm_errors import RejectedByCrmError, TransientCrmError
from services.sync.field_mapping import CrmMapping, hubspot_contact, salesforce_lead
from services.sync.hubspot_writer import HubSpotWriter
from services.sync.salesforce_writer import SalesforceWriter
from services.sync.settings import SyncSettings

log = structlog.get_logger(__name__)
T = TypeVar("T")
SYNC_GROUP = "accord-sync"


class SyncWorker:
    """One sync worker; several share the decision topic's partitions."""

    def __init__(self, settings: SyncSettings, mapping: CrmMapping,
                 salesforce: SalesforceWriter, hubspot: HubSpotWriter) -> None:
        self._settings = settings
        self._mapping = mapping
        self._salesforce = salesforce
        self._hubspot = hubspot
        self._dead_letters: AIOKafkaProducer | None = None

    async def _until_done(self, crm: str, write: Callable[[], T]) -> T:
        """Run a blocking CRM write off the event loop, retrying transient failures."""
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(TransientCrmError),
            wait=wait_exponential_jitter(initial=0.5, max=30),
            before_sleep=lambda state: log.warning(
                "sync.retrying", crm=crm, attempt=state.attempt_number,
                error=str(state.outcome.exception() if state.outcome else "")),
        ):
            with attempt:
                return await asyncio.to_thread(write)
        raise AssertionError("unreachable")

    def _write_salesforce(self, decision: LeadRouted) -> None:
        lead_mapping = self._mapping.salesforce.lead
        owner = self._salesforce.owner_id(decision.owner.email)
        fields = salesforce_lead(decision, lead_mapping, owner)
        self._salesforce.upsert_lead(lead_mapping.external_id_field, decision.lead_key, fields)

    def _write_hubspot(self, decision: LeadRouted) -> None:
        contact_mapping = self._mapping.hubspot.contact
        owner = self._hubspot.owner_id(decision.owner.email)
        props = hubspot_contact(decision, contact_mapping, owner)
        self._hubspot.upsert_contact(contact_mapping.id_property, decision.lead.email, props)

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], reason: str,
                           extra: dict[str, str]) -> None:
        assert self._dead_letters is not None
        headers = dead_letter_headers(list(record.headers), topic=record.topic,
                                      partition=record.partition, offset=record.offset,
                                      stage="sync", reason=reason, extra=extra)
        await self._dead_letters.send_and_wait(
            self._settings.kafka.topic(SYNC_DEAD_LETTERS), record.value, key=record.key,
            headers=headers)
        log.warning("sync.dead_lettered", reason=reason[:300], **extra)

    async def process(self, record: ConsumerRecord[bytes, bytes]) -> None:
        """Write one decision to both CRMs, or dead-letter what a CRM rejects."""
        try:
            envelope = decode(record.key, record.value, list(record.headers))
            if envelope.type != LEAD_ROUTED:
                return  # other decision types are not written to the CRMs
            decision = LeadRouted.model_validate(envelope.data)
        except (EnvelopeError, ValidationError) as exc:
            await self._dead_letter(record, f"unreadable decision: {exc}", {"crm": "none"})
            return
        writes: list[tuple[str, Callable[[], Any]]] = [
            ("salesforce", lambda: self._write_salesforce(decision)),
            ("hubspot", lambda: self._write_hubspot(decision)),
        ]
        for crm, write in writes:
            try:
                await self._until_done(crm, write)
            except RejectedByCrmError as exc:
                await self._dead_letter(record, str(exc), {"crm": crm, "code": exc.code})
        log.info("sync.written", decision_id=decision.decision_id, stage=decision.stage)

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set; each offset is committed after its writes."""
        kafka = self._settings.kafka
        consumer = AIOKafkaConsumer(
            kafka.topic(LEAD_DECISIONS), bootstrap_servers=kafka.bootstrap_servers,
            group_id=kafka.group(SYNC_GROUP), enable_auto_commit=False,
            auto_offset_reset="earliest", security_protocol=kafka.security_protocol,
            # The router writes decisions in transactions: never act on an aborted one.
            isolation_level="read_committed")
        self._dead_letters = AIOKafkaProducer(
            bootstrap_servers=kafka.bootstrap_servers, acks="all", enable_idempotence=True,
            security_protocol=kafka.security_protocol)
        await self._dead_letters.start()
        await consumer.start()
        try:
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=500, max_records=100)
                for tp, records in batches.items():
                    await self._process_partition(consumer, tp, records, stop)
        finally:
            await consumer.stop()
            await self._dead_letters.stop()

    async def _process_partition(self, consumer: AIOKafkaConsumer, tp: TopicPartition,
                                 records: list[ConsumerRecord[bytes, bytes]],
                                 stop: asyncio.Event) -> None:
        for record in records:
            if stop.is_set():
                return
            await self.process(record)
            # Commit each record once its effect is durable: a crash re-delivers at most
            # the record in flight, and its upserts are idempotent.
            await consumer.commit({tp: record.offset + 1})
