"""Recorded events for ``accord rules simulate``: a JSON Lines file, or the topics the router
reads — lead events and the CRM changes it linked to their leads — as they are now.

An adapter: it reads and decodes; :mod:`services.router.simulation` decides.
"""

from __future__ import annotations

import heapq
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aiokafka.structs import TopicPartition

from services.contracts.envelope import Envelope, EnvelopeError, decode
from services.contracts.events import HUBSPOT_CHANGE_RECEIVED, SALESFORCE_CHANGE_RECEIVED
from services.messaging.settings import KafkaSettings
from services.messaging.topics import (
    CRM_CHANGES_BY_LEAD,
    LEAD_EVENTS,
    read_to_end,
    topic_partitions,
)

# (lead key, envelope), or why a record could not be read.
Recorded = tuple[str, Envelope] | EnvelopeError
# The CRM-changes-by-lead topic also carries the pool stage's answers: only people's CRM
# changes are lead events to replay.
_CRM_CHANGES = (SALESFORCE_CHANGE_RECEIVED, HUBSPOT_CHANGE_RECEIVED)


class MissingTopicError(LookupError):
    """The lead-events topic is not there: wrong cluster or topic prefix."""


def parse_recorded_event(line: str) -> tuple[str, Envelope]:
    """One JSON Lines record, ``{"key": ..., "headers": {"ce_id": ...}, "value": {...}}``,
    as (lead key, envelope); raises ``EnvelopeError`` saying what is wrong."""
    try:
        recorded = json.loads(line)
    except json.JSONDecodeError as exc:
        raise EnvelopeError(f"not JSON: {exc}") from exc
    if not isinstance(recorded, dict) or not isinstance(recorded.get("headers"), dict):
        raise EnvelopeError('expected {"key": ..., "headers": {...}, "value": {...}}')
    key = str(recorded.get("key") or "")
    headers = [(str(name), str(value).encode()) for name, value in recorded["headers"].items()]
    envelope = decode(key.encode(), json.dumps(recorded.get("value")).encode(), headers)
    return key, envelope


def file_events(path: Path, limit: int | None) -> Iterator[tuple[str, Recorded]]:
    """The events of a JSON Lines file, each with where it is (``file:line``)."""
    with path.open() as lines:
        count = 0
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            if limit is not None and count >= limit:
                return
            count += 1
            try:
                yield f"{path}:{number}", parse_recorded_event(line)
            except EnvelopeError as exc:
                yield f"{path}:{number}", exc


async def kafka_events(settings: KafkaSettings, limit: int | None,
                       ) -> list[tuple[str, Recorded]]:
    """Lead events and the CRM changes linked to leads, from their start to their end as it
    is now, in the order they were written (record time), each with where it is."""
    lead_events = settings.topic(LEAD_EVENTS)
    partitions = await topic_partitions(settings, lead_events)
    if not partitions:
        raise MissingTopicError(f"topic {lead_events} does not exist at "
                                f"{settings.bootstrap_servers}")
    partitions += await topic_partitions(settings, settings.topic(CRM_CHANGES_BY_LEAD))
    found: dict[TopicPartition, list[tuple[int, str, Recorded]]] = {tp: [] for tp in partitions}
    for message in await read_to_end(settings, partitions):
        tp = TopicPartition(message.topic, message.partition)
        item = _wanted(tp, lead_events, message)
        if item is not None:
            found[tp].append((message.timestamp, f"{tp.topic}/{tp.partition}@{message.offset}",
                              item))
    # A lead's events and its CRM changes sit in two topics: merged by write time, as the
    # router met them (closely enough for a what-if), each partition keeping its own order.
    merged = heapq.merge(*found.values(), key=lambda entry: entry[0])
    return [(where, item) for _, where, item in itertools.islice(merged, limit)]


def _wanted(tp: TopicPartition, lead_events: str, message: Any) -> Recorded | None:
    item = _decoded(message)
    if tp.topic != lead_events and not (
            isinstance(item, tuple) and item[1].type in _CRM_CHANGES):
        return None
    return item


def _decoded(message: Any) -> Recorded:
    try:
        return (message.key or b"").decode(), decode(message.key, message.value,
                                                     list(message.headers))
    except (EnvelopeError, UnicodeDecodeError) as exc:
        return EnvelopeError(str(exc))
