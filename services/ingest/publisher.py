"""Publishes CloudEvents to Kafka and answers only once the broker acknowledged them."""

from __future__ import annotations

import asyncio
import contextlib
import time

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from services.contracts.envelope import KafkaRecord
from services.ingest.metrics import IngestMetrics
from services.messaging.settings import KafkaSettings

log = structlog.get_logger(__name__)


class BrokerUnavailableError(RuntimeError):
    """Kafka did not acknowledge in time; the sender must retry later."""


class EventPublisher:
    """An idempotent, ``acks=all`` producer whose every wait is bounded.

    aiokafka's idempotent producer never gives up on a send while the broker is away
    (aiokafka issue #1101), so each publish is bounded here and reported as unavailable.
    """

    def __init__(self, settings: KafkaSettings, metrics: IngestMetrics | None = None) -> None:
        self._settings = settings
        self._metrics = metrics or IngestMetrics()
        self._producer: AIOKafkaProducer | None = None
        self._connecting: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Connect in the background, retrying, so ingest starts even while Kafka is away."""
        self._connecting = asyncio.create_task(self._connect_until_up())

    async def _connect_until_up(self) -> None:
        delay = 0.5
        while True:
            producer = AIOKafkaProducer(
                bootstrap_servers=self._settings.bootstrap_servers,
                security_protocol=self._settings.security_protocol,
                acks="all",
                enable_idempotence=True,
                linger_ms=2,
                request_timeout_ms=10_000,
            )
            try:
                await producer.start()
            except KafkaError as exc:
                log.warning("kafka.connect_failed", error=str(exc), retry_in=delay)
                with contextlib.suppress(Exception):
                    await producer.stop()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            self._producer = producer
            log.info("kafka.connected", bootstrap=self._settings.bootstrap_servers)
            return

    async def stop(self) -> None:
        """Flush what can be flushed in a bounded time, then close."""
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
        if self._producer is not None:
            try:
                await asyncio.wait_for(self._producer.stop(), timeout=10)
            except TimeoutError:
                log.error("kafka.stop_timed_out")

    @property
    def connected(self) -> bool:
        """True once the producer has reached the cluster."""
        return self._producer is not None

    async def ready(self) -> bool:
        """True when the cluster answers a metadata request now."""
        if self._producer is None:
            return False
        try:
            await asyncio.wait_for(self._producer.client.fetch_all_metadata(), timeout=1.0)
        except (TimeoutError, KafkaError):
            return False
        return True

    async def publish_many(self, topic: str, records: list[KafkaRecord]) -> None:
        """Send records and wait until every one is acknowledged, within the timeout."""
        source = dict(records[0].headers).get("ce_source", b"unknown").decode()
        producer = self._producer
        if producer is None:
            self._metrics.refused(source, len(records))
            raise BrokerUnavailableError("not connected to Kafka yet")
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._settings.publish_timeout_seconds):
                futures = [
                    await producer.send(topic, r.value, key=r.key, headers=r.headers)
                    for r in records
                ]
                # shield: a timeout must not cancel aiokafka's own delivery futures.
                await asyncio.shield(asyncio.gather(*futures))
        except TimeoutError as exc:
            self._metrics.refused(source, len(records))
            raise BrokerUnavailableError("Kafka did not acknowledge in time") from exc
        except KafkaError as exc:
            self._metrics.refused(source, len(records))
            raise BrokerUnavailableError(f"Kafka refused the write: {exc}") from exc
        self._metrics.published(source, len(records), started)
