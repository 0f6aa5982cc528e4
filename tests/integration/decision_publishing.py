"""Decisions put on the decisions topic as the router puts them: in one Kafka transaction, so
a ``read_committed`` reader (sync) sees the whole batch at once or none of it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer

from services.contracts.envelope import encode
from services.messaging.settings import KafkaSettings
from services.messaging.topics import LEAD_DECISIONS


async def publish_decisions(kafka: KafkaSettings, events: Sequence[tuple[str, Any]],
                            partition: int | None = None) -> list[Any]:
    """Publish ``(event type, contract model)`` pairs keyed by their lead, to ``partition``
    or where the partitioner puts each lead; the record metadata of each, in order."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers,
                                transactional_id=f"test-{uuid.uuid4().hex[:10]}")
    await producer.start()
    try:
        async with producer.transaction():
            sent = [await producer.send(kafka.topic(LEAD_DECISIONS), r.value, key=r.key,
                                        headers=r.headers, partition=partition)
                    for r in (encode(kind, "/test", event.lead_key, event)
                              for kind, event in events)]
        return [await future for future in sent]
    finally:
        await producer.stop()
