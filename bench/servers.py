"""Servers the ingest benchmark compares against real ingest (never used in production).

``bare``: a bare ASGI endpoint, for reference. ``ceiling``: the ingest app itself (same
routes, validation, auth and encoding) whose publisher answers at once without Kafka: the
most ingest could do if Kafka cost nothing.
"""

from __future__ import annotations

import sys

import uvicorn
from starlette.types import Receive, Scope, Send

from services.contracts.envelope import KafkaRecord
from services.ingest.app import create_app
from services.ingest.publisher import EventPublisher
from services.ingest.settings import IngestSettings


async def bare_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Reads the body and answers 202: the HTTP stack alone."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 202,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"accepted":true}'})


class NoKafkaPublisher(EventPublisher):
    """The ceiling's publisher: everything but the broker round trip."""

    async def start(self) -> None:
        """Nothing to connect to."""

    async def stop(self) -> None:
        """Nothing to close."""

    async def ready(self) -> bool:
        """Always ready."""
        return True

    async def publish_many(self, topic: str, records: list[KafkaRecord]) -> None:
        """Drop the records: the ceiling measures ingest without Kafka."""


def main() -> None:
    """``python -m bench.servers bare|ceiling PORT``."""
    kind, port = sys.argv[1], int(sys.argv[2])
    settings = IngestSettings(port=port)
    app = bare_app if kind == "bare" else create_app(
        settings, NoKafkaPublisher(settings.kafka))
    uvicorn.run(app, host="127.0.0.1", port=port, loop="uvloop", http="httptools",
                access_log=False, log_level="warning")


if __name__ == "__main__":
    main()
