"""Background delivery of webhook events: batched, signed, retried with backoff.

Events wait in a queue; a batch takes whatever is queued (up to 100) once the first event
has waited a moment. Each batch is POSTed on its own task, at most ``max_concurrent`` at a
time, and retried after a non-2xx answer, a timeout or a connection failure, with
``attemptNumber`` counting the tries, until ``max_attempts`` (HubSpot: 10). Nothing here
runs on a request's path: publishing only puts events on the queue.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import httpx

from sandboxes.hubspot.webhook_signing import signed_headers

logger = logging.getLogger("sandboxes.hubspot.webhooks")

MAX_BATCH_EVENTS = 100
USER_AGENT = "HubSpot Connect 2.0 (http://dev.hubspot.com/) - WebhooksExecutorDaemon-executor"
_LINGER_SECONDS = 0.05
_LOG_SIZE = 200
_jitter = random.SystemRandom()


@dataclass(frozen=True)
class DeliveryPolicy:
    """Where batches go, how they are signed, and how failures are retried."""

    target_url: str
    client_secret: str
    max_attempts: int = 10
    retry_base_seconds: float = 1.0
    retry_cap_seconds: float = 300.0
    timeout_seconds: float = 5.0
    max_concurrent: int = 10

    def delay_after(self, attempt: int) -> float:
        """Seconds to wait after failed attempt ``attempt`` (0-based): doubling, jittered."""
        ceiling = min(self.retry_cap_seconds, self.retry_base_seconds * 2.0 ** attempt)
        return ceiling * _jitter.uniform(0.75, 1.0)


@dataclass(frozen=True)
class Attempt:
    """One POST of one batch and how it ended."""

    batch: int
    attempt_number: int
    events: int
    status: int | None
    error: str | None
    at_ms: int

    def to_wire(self) -> dict[str, Any]:
        """The attempt as ``GET /__sandbox/webhooks`` lists it."""
        return {"batch": self.batch, "attemptNumber": self.attempt_number,
                "events": self.events, "status": self.status, "error": self.error,
                "at": self.at_ms}


class WebhookDispatcher:
    """Sends published events to the target URL from a task on the running event loop."""

    def __init__(self, policy: DeliveryPolicy,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._policy = policy
        self._transport = transport
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._slots = asyncio.Semaphore(policy.max_concurrent)
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self._batches = 0
        self._in_flight = 0
        self.delivered_events = 0
        self.failed_events = 0
        self.attempts: deque[Attempt] = deque(maxlen=_LOG_SIZE)

    def start(self) -> None:
        """Begin delivering (call from the event loop, e.g. in the app's lifespan)."""
        # The sandbox's environment may name proxies and CA bundles meant for other traffic.
        self._client = httpx.AsyncClient(timeout=self._policy.timeout_seconds, trust_env=False,
                                         transport=self._transport)
        self._runner = asyncio.create_task(self._run(), name="hubspot-webhooks")

    async def stop(self) -> None:
        """Stop delivering; events still queued or being retried are dropped."""
        tasks = [*self._tasks, *([self._runner] if self._runner else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()

    def publish(self, events: list[dict[str, Any]]) -> None:
        """Queue events for delivery; never waits."""
        for event in events:
            self._queue.put_nowait(event)

    def status(self) -> dict[str, Any]:
        """Counts and the latest attempts, for tests and demos."""
        return {"targetUrl": self._policy.target_url, "queued": self._queue.qsize(),
                "inFlightBatches": self._in_flight, "deliveredEvents": self.delivered_events,
                "failedEvents": self.failed_events,
                "attempts": [a.to_wire() for a in self.attempts]}

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            await asyncio.sleep(_LINGER_SECONDS)
            batch = [first]
            while len(batch) < MAX_BATCH_EVENTS and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._slots.acquire()
            self._batches += 1
            task = asyncio.create_task(self._deliver(self._batches, batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _deliver(self, number: int, batch: list[dict[str, Any]]) -> None:
        self._in_flight += 1
        try:
            for attempt in range(self._policy.max_attempts):
                if await self._post(number, attempt, batch):
                    self.delivered_events += len(batch)
                    return
                if attempt + 1 < self._policy.max_attempts:
                    await asyncio.sleep(self._policy.delay_after(attempt))
            self.failed_events += len(batch)
            logger.warning("webhook batch %s dropped after %s attempts", number,
                           self._policy.max_attempts)
        finally:
            self._in_flight -= 1
            self._slots.release()

    async def _post(self, number: int, attempt: int, batch: list[dict[str, Any]]) -> bool:
        assert self._client is not None
        body = json.dumps([{**event, "attemptNumber": attempt} for event in batch],
                          separators=(",", ":")).encode()
        now_ms = time.time_ns() // 1_000_000
        headers = signed_headers(self._policy.client_secret, self._policy.target_url, body,
                                 now_ms)
        headers["User-Agent"] = USER_AGENT
        headers["X-HubSpot-Timeout-Millis"] = str(int(self._policy.timeout_seconds * 1000))
        status: int | None = None
        error: str | None = None
        try:
            answer = await self._client.post(self._policy.target_url, content=body,
                                             headers=headers)
            status = answer.status_code
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:200]
        self.attempts.append(Attempt(number, attempt, len(batch), status, error, now_ms))
        delivered = status is not None and 200 <= status < 300
        if not delivered:
            logger.info("webhook batch %s attempt %s failed: %s", number, attempt,
                        status if error is None else error)
        return delivered
