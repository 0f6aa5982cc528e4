"""``Idempotency-Key``: a retry with the same key gets the first answer; nothing new is sent.

Answers are kept in this process for a day (bounded in size). Behind a load balancer a retry
may reach another replica: event ids are derived from the key, so even then downstream
drops the duplicate.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

_NAMESPACE = uuid.UUID("0b5f4d9e-8a43-4f55-bb0e-1c6c1d2d7e10")
IDEMPOTENCY_HEADER = "Idempotency-Key"


@dataclass(frozen=True)
class StoredAnswer:
    """The first answer to a key, replayed to its retries."""

    status: int
    body: bytes
    fingerprint: str


@dataclass
class _Entry:
    fingerprint: str
    at: float
    answer: StoredAnswer | None = None  # None while the first request is in flight


Claim = Literal["new", "in_flight", "mismatch"]


def body_fingerprint(body: bytes) -> str:
    """What identifies a request body: its SHA-256."""
    return hashlib.sha256(body).hexdigest()


def event_id_for(identity: str, key: str, index: int) -> str:
    """A stable event id for the ``index``-th event of the request with this key."""
    return str(uuid.uuid5(_NAMESPACE, f"{identity}\x00{key}\x00{index}"))


class IdempotencyStore:
    """Remembers answers per (sender, key) for ``ttl`` seconds, at most ``capacity`` of them."""

    def __init__(self, ttl: float = 86_400, capacity: int = 100_000) -> None:
        self._ttl = ttl
        self._capacity = capacity
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()

    def _expire(self, now: float) -> None:
        while self._entries:
            key, entry = next(iter(self._entries.items()))
            if now - entry.at < self._ttl and len(self._entries) <= self._capacity:
                break
            del self._entries[key]

    def replay(self, identity: str, key: str, fingerprint: str) -> StoredAnswer | None:
        """The stored answer for a retry of the same request, if there is one."""
        entry = self._entries.get((identity, key))
        if entry and entry.answer and entry.fingerprint == fingerprint:
            return entry.answer
        return None

    def claim(self, identity: str, key: str, fingerprint: str) -> Claim:
        """Start handling a key: ``new``, or why it cannot be handled now."""
        now = time.monotonic()
        self._expire(now)
        entry = self._entries.get((identity, key))
        if entry is None:
            self._entries[(identity, key)] = _Entry(fingerprint, now)
            return "new"
        if entry.fingerprint != fingerprint:
            return "mismatch"
        return "in_flight"

    def complete(self, identity: str, key: str, answer: StoredAnswer) -> None:
        """Keep the answer for later retries."""
        entry = self._entries.get((identity, key))
        if entry is not None:
            entry.answer = answer

    def release(self, identity: str, key: str) -> None:
        """Forget a key whose request failed (for example 503), so a retry is handled anew."""
        self._entries.pop((identity, key), None)
