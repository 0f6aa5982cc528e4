"""A webhook endpoint for tests: records every POST the HubSpot sandbox sends, and answers
with the statuses (and delays) a test asks for."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PATH = "/webhooks/hubspot"


@dataclass(frozen=True)
class Delivery:
    """One POST as received."""

    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def events(self) -> list[dict[str, Any]]:
        """The batch's events."""
        parsed: list[dict[str, Any]] = json.loads(self.body)
        return parsed


@dataclass
class Receiver:
    """A threaded HTTP server on 127.0.0.1 and what it has received."""

    server: ThreadingHTTPServer
    deliveries: list[Delivery] = field(default_factory=list)
    # Statuses for the next POSTs, in order; 204 once they are used up.
    planned: list[int] = field(default_factory=list)
    delay_seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        """The webhook target URL to configure."""
        return f"http://127.0.0.1:{self.server.server_address[1]}{PATH}"

    def next_status(self) -> int:
        with self.lock:
            return self.planned.pop(0) if self.planned else 204

    def record(self, delivery: Delivery) -> None:
        with self.lock:
            self.deliveries.append(delivery)

    def received(self) -> list[Delivery]:
        with self.lock:
            return list(self.deliveries)

    def events_for(self, object_id: int | str, accepted_only: bool = True,
                   ) -> list[dict[str, Any]]:
        """Events about one record, from accepted (2xx) deliveries unless told otherwise."""
        return [e for d in self.received() if not accepted_only or d.status < 300
                for e in d.events if str(e["objectId"]) == str(object_id)]

    def wait_for(self, condition: Callable[[], bool], timeout: float = 15.0) -> None:
        """Wait until ``condition()`` holds, or fail."""
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"not received in {timeout}s: {self.received()}"
            time.sleep(0.05)


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = receiver.next_status()
            if receiver.delay_seconds:
                time.sleep(receiver.delay_seconds)
            receiver.record(Delivery(self.path, dict(self.headers.items()), body, status))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


def start_receiver() -> Iterator[Receiver]:
    """Serve until the generator is closed (use it as a fixture body)."""
    receiver = Receiver(ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler))
    receiver.server.RequestHandlerClass = _handler(receiver)
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
