"""Delivers queued notifications in the background, as Salesforce does: up to 100 per message
and action, retried with doubling delays (30 s, 1 min, 2 min, ... up to every 2 hours) until
the listener answers ``<Ack>true</Ack>``, and dropped after 24 hours. The data sent is the
record as it is at delivery time, not at the change ("only the latest data"). The session id
and callback URLs are never logged."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from itertools import groupby

import httpx

from sandboxes.salesforce.auth import Sessions
from sandboxes.salesforce.knobs import Knobs
from sandboxes.salesforce.metadata import INTEGRATION_USER_ID, sobject
from sandboxes.salesforce.outbound_soap import (
    HEADERS,
    MAX_NOTIFICATIONS,
    MessageHeader,
    NotificationData,
    is_ack,
    notifications_envelope,
)
from sandboxes.salesforce.outbox import Outbox, Pending
from sandboxes.salesforce.settings import SalesforceSandboxSettings
from sandboxes.salesforce.store import Store

log = logging.getLogger("sandboxes.salesforce.outbound")
_IDLE_SECONDS = 60.0


class OutboundDelivery:
    """The background task that empties the outbox into the configured endpoint."""

    def __init__(self, settings: SalesforceSandboxSettings, store: Store, outbox: Outbox,
                 knobs: Knobs, sessions: Sessions,
                 clock: Callable[[], float] = time.time) -> None:
        self._settings = settings
        self._store = store
        self._outbox = outbox
        self._knobs = knobs
        self._sessions = sessions
        self._clock = clock
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._session: tuple[str, float] | None = None

    def wake(self) -> None:
        """Look at the outbox now (safe from any thread; a no-op before ``run``)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def run(self) -> None:
        """Deliver until cancelled."""
        self._loop = asyncio.get_running_loop()
        verify: str | bool = (str(self._settings.outbound_ca_bundle)
                              if self._settings.outbound_ca_bundle else True)
        async with httpx.AsyncClient(verify=verify, trust_env=False,
                                     timeout=self._settings.outbound_timeout_seconds) as client:
            while True:
                try:
                    await self.deliver_due(client)
                except Exception:  # the loop must outlive any one failure
                    log.exception("outbound delivery round failed")
                try:
                    await asyncio.wait_for(self._wake.wait(), self._idle_seconds())
                except TimeoutError:
                    pass
                self._wake.clear()

    def _idle_seconds(self) -> float:
        due = self._outbox.next_attempt_at()
        if due is None or self._knobs.outbound_message_url is None:
            return _IDLE_SECONDS
        return min(_IDLE_SECONDS, max(0.0, due - self._clock()))

    async def deliver_due(self, client: httpx.AsyncClient) -> None:
        """One round: send every due notification, grouped by action, 100 per message."""
        url = self._knobs.outbound_message_url
        if url is None:
            return
        now = self._clock()
        due = self._outbox.due(now)
        expiry = self._settings.outbound_expiry_seconds
        expired = [p.id for p in due if now - p.created_at >= expiry]
        if expired:
            self._outbox.drop(expired, now)
            log.warning("outbound: dropped %d notifications after %.0f s undelivered",
                        len(expired), self._settings.outbound_expiry_seconds)
        gone = set(expired)
        live = sorted((p for p in due if p.id not in gone), key=lambda p: p.action_id)
        for action_id, group in groupby(live, key=lambda p: p.action_id):
            batch = list(group)
            for start in range(0, len(batch), MAX_NOTIFICATIONS):
                await self._send(client, url, action_id, batch[start:start + MAX_NOTIFICATIONS])

    async def _send(self, client: httpx.AsyncClient, url: str, action_id: str,
                    batch: list[Pending]) -> None:
        header = MessageHeader(self._settings.org_id, action_id, self._session_id(),
                               self._settings.instance_url)
        body = notifications_envelope(header, [self._data(p) for p in batch])
        try:
            answer = await client.post(url, content=body, headers=HEADERS)
            acked = answer.is_success and is_ack(answer.content)
            error = "" if acked else f"HTTP {answer.status_code} without <Ack>true</Ack>"
        except httpx.HTTPError as exc:
            acked, error = False, f"{type(exc).__name__}: {exc}"
        now = self._clock()
        if acked:
            self._outbox.delivered([p.id for p in batch], now)
            log.info("outbound: %d notifications acknowledged", len(batch))
            return
        for pending in batch:
            attempts = pending.attempts + 1
            delay = min(self._settings.outbound_retry_initial_seconds * 2 ** (attempts - 1),
                        self._settings.outbound_retry_max_seconds)
            self._outbox.retry_at(pending.id, attempts, now + delay, error)
        log.warning("outbound: %d notifications not acknowledged (%s); retrying",
                    len(batch), error)

    def _data(self, pending: Pending) -> NotificationData:
        target = sobject(pending.sobject)
        assert target is not None
        stored = self._store.get(pending.record_id)
        record = stored.data if stored is not None and not stored.is_deleted else pending.snapshot
        return NotificationData(pending.id, target, record)

    def _session_id(self) -> str | None:
        """A live session of the integration user, renewed at half its lifetime."""
        if not self._settings.outbound_send_session_id:
            return None
        now = self._clock()
        if self._session is None or now - self._session[1] > self._settings.session_seconds / 2:
            self._session = (self._sessions.new_token(INTEGRATION_USER_ID), now)
        return self._session[0]
