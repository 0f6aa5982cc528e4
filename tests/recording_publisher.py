"""A publisher for unit tests of ingest routes: records what would go to Kafka, or fails
like an unreachable broker. Integration tests use the real broker instead."""

from __future__ import annotations

from typing import Any

from services.ingest.publisher import BrokerUnavailableError


class StubPublisher:
    """Records what would go to Kafka, or fails like an unreachable broker."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.sent: list[tuple[str, list[Any]]] = []

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish_many(self, topic: str, records: list[Any]) -> None:
        if self.fail:
            raise BrokerUnavailableError("Kafka did not acknowledge in time")
        self.sent.append((topic, records))
