"""Accepting a request: idempotency, publishing with a bounded wait, and the answer.

Every JSON source goes through ``accept``: a 2xx leaves only after Kafka acknowledged every
event the request carried; a retry with the same ``Idempotency-Key`` (or Standard Webhooks
``webhook-id``) gets the first answer back and publishes nothing new.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from services.contracts.envelope import KafkaRecord
from services.ingest.idempotency import (
    IDEMPOTENCY_HEADER,
    IdempotencyStore,
    StoredAnswer,
    body_fingerprint,
    event_id_for,
)
from services.ingest.problems import ProblemError
from services.ingest.publisher import EventPublisher
from services.ingest.sender_auth import Sender


@dataclass(frozen=True)
class EventIds:
    """Hands out event ids: stable per idempotency key, random otherwise."""

    sender: Sender
    key: str | None

    def for_index(self, index: int) -> str:
        """The id of the ``index``-th event of this request."""
        if self.key is None:
            return str(uuid.uuid4())
        return event_id_for(self.sender.identity, self.key, index)


@dataclass(frozen=True)
class Outcome:
    """What a route wants published, and what to answer once it is."""

    topic: str
    records: list[KafkaRecord]
    status: int
    body: dict[str, Any]


def _json_response(status: int, body: bytes) -> Response:
    return Response(body, status_code=status, media_type="application/json")


async def accept(request: Request, sender: Sender, idempotency_key: str | None,
                 build: Callable[[EventIds], Outcome]) -> Response:
    """Publish what ``build`` returns and answer, honouring idempotency keys."""
    publisher: EventPublisher = request.app.state.publisher
    store: IdempotencyStore = request.app.state.idempotency
    key = idempotency_key or sender.webhook_id
    fingerprint = body_fingerprint(await request.body())
    if key is not None:
        stored = store.replay(sender.identity, key, fingerprint)
        if stored is not None:
            return _json_response(stored.status, stored.body)
        claim = store.claim(sender.identity, key, fingerprint)
        if claim == "mismatch":
            raise ProblemError(409, "Idempotency key reused",
                               "this key was used for a different body; use a new key",
                               header=IDEMPOTENCY_HEADER)
        if claim == "in_flight":
            raise ProblemError(409, "Request in progress",
                               "a request with this key is still being handled; retry later",
                               headers={"Retry-After": "1"}, header=IDEMPOTENCY_HEADER)
    try:
        outcome = build(EventIds(sender, key))
        if outcome.records:
            await publisher.publish_many(outcome.topic, outcome.records)
    except BaseException:
        # Nothing was accepted (a 503 for Kafka, answered by the app's handler): a retry
        # with this key must be handled anew.
        if key is not None:
            store.release(sender.identity, key)
        raise
    body = json.dumps(outcome.body).encode()
    if key is not None:
        store.complete(sender.identity, key, StoredAnswer(outcome.status, body, fingerprint))
    return _json_response(outcome.status, body)
