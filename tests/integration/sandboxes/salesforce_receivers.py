"""Listeners for the Salesforce sandbox's Outbound Messages: a scripted one that records what
it gets, and Accord's own ingest app (publishing to a stub instead of Kafka)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import uvicorn

from services.ingest.app import create_app
from services.ingest.salesforce_soap import ACK, OutboundMessage, parse_outbound_message
from services.ingest.settings import IngestSettings
from tests.conftest import free_port
from tests.recording_publisher import StubPublisher


@dataclass(frozen=True)
class Received:
    """One POST the receiver got."""

    headers: dict[str, str]
    body: bytes
    answered: int

    def message(self) -> OutboundMessage:
        """The body read by ingest's own parser."""
        return parse_outbound_message(self.body, 10_000_000)


class OutboundReceiver:
    """Answers each POST with the next scripted (status, body), then with the Ack."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.script: list[tuple[int, bytes]] = []
        self.delay_seconds = 0.0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                time.sleep(receiver.delay_seconds)
                with receiver._lock:
                    status, answer = receiver.script.pop(0) if receiver.script else (200, ACK)
                    receiver.received.append(Received(dict(self.headers), body, status))
                self.send_response(status)
                self.send_header("Content-Type", "text/xml; charset=utf-8")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/outbound"

    def messages(self) -> list[OutboundMessage]:
        with self._lock:
            return [r.message() for r in self.received]

    def __enter__(self) -> OutboundReceiver:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def running_ingest(org_ids: list[str], publisher: StubPublisher) -> Iterator[str]:
    """Accord's ingest app on a free port, accepting ``org_ids``; yields its outbound URL."""
    port = free_port()
    settings = IngestSettings(salesforce_org_ids=org_ids, port=port, api_keys=[])
    server = uvicorn.Server(uvicorn.Config(create_app(settings, publisher), host="127.0.0.1",
                                           port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "ingest did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/webhooks/salesforce/outbound"
    finally:
        server.should_exit = True
        thread.join(10)
