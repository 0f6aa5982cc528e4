"""Reading and replaying Accord's dead letters on Kafka (used by ``accord dlq`` and the admin API).

Reading never joins a consumer group and never commits: partitions are assigned, read from
the beginning up to their end offsets as they were when the read started (read_committed).

Replaying re-publishes the original record (key, value and headers without the
``accord.errors.*`` context, plus ``accord_replayed_from=<dead-letter id>``) to its original
topic with an idempotent producer and ``acks=all``, then records a replay marker (key: the
dead-letter id) on the compacted topic ``accord.dead-letters.replayed``. The two writes are
not one transaction: a crash between them leaves a replay unmarked, and replaying it again
is safe — the router de-duplicates lead events by event id (``ce_id``) and the sync writes
are idempotent upserts keyed by lead, so a record replayed twice has the effect of one.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer

from services.messaging.dead_letter_view import (
    DeadLetter,
    DeadLetterFilter,
    parse_dead_letter_id,
    replay_headers,
    select,
    to_dead_letter,
)
from services.messaging.settings import KafkaSettings
from services.messaging.topics import (
    ROUTER_DEAD_LETTERS,
    SYNC_DEAD_LETTERS,
    TopicSpec,
    accord_topics,
    ensure_topics,
    read_to_end,
    topic_partitions,
)

REPLAYED_TOPIC = "accord.dead-letters.replayed"
_DLQ_BY_STAGE = {"router": ROUTER_DEAD_LETTERS, "sync": SYNC_DEAD_LETTERS}
# Bound every send ourselves: an idempotent aiokafka producer never gives up on its own.
_SEND_TIMEOUT_SECONDS = 15.0


class UnknownDeadLetterError(LookupError):
    """A dead-letter id that names no dead letter of Accord's dead-letter topics."""


class NotReplayableError(ValueError):
    """A dead letter that does not say which topic it came from."""


@dataclass(frozen=True)
class Replayed:
    """One dead letter replayed (or, in a dry run, that would be)."""

    id: str
    to_topic: str
    to_partition: int | None
    to_offset: int | None
    dry_run: bool

    def as_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"id": self.id, "to_topic": self.to_topic, "to_partition": self.to_partition,
                "to_offset": self.to_offset, "dry_run": self.dry_run}


def dead_letter_topics(settings: KafkaSettings, stage: str | None = None) -> list[str]:
    """The full names of the dead-letter topics, all or those of one stage."""
    stages = [stage] if stage in _DLQ_BY_STAGE else list(_DLQ_BY_STAGE)
    return [settings.topic(_DLQ_BY_STAGE[name]) for name in stages if name is not None]


def replayed_topic(settings: KafkaSettings) -> str:
    """The full name of the compacted topic of replay markers."""
    return settings.topic(REPLAYED_TOPIC)


async def read_topic(settings: KafkaSettings, topic: str) -> list[Any]:
    """Every committed record of ``topic`` from the beginning up to its current end.

    A topic that does not exist reads as empty.
    """
    return await read_to_end(settings, await topic_partitions(settings, topic))


async def replayed_ids(settings: KafkaSettings) -> set[str]:
    """The ids of the dead letters that have a replay marker."""
    records = await read_topic(settings, replayed_topic(settings))
    latest: dict[str, bool] = {}
    for record in records:
        if record.key:
            latest[record.key.decode()] = record.value is not None
    return {key for key, present in latest.items() if present}


async def list_dead_letters(settings: KafkaSettings,
                            criteria: DeadLetterFilter | None = None) -> list[DeadLetter]:
    """The dead letters of the stage's topics (all stages if none), matching ``criteria``,
    each marked with whether it was replayed."""
    criteria = criteria or DeadLetterFilter()
    replayed = await replayed_ids(settings)
    letters: list[DeadLetter] = []
    for topic in dead_letter_topics(settings, criteria.stage):
        for record in await read_topic(settings, topic):
            letter_id = f"{record.topic}:{record.partition}:{record.offset}"
            letters.append(to_dead_letter(record.topic, record.partition, record.offset,
                                          record.key, record.value, list(record.headers),
                                          record.timestamp, letter_id in replayed))
    return select(letters, criteria)


async def find_dead_letters(settings: KafkaSettings, ids: Iterable[str]) -> list[DeadLetter]:
    """The dead letters with these ids, in the order given.

    Raises ``DeadLetterIdError`` for a malformed id and :class:`UnknownDeadLetterError` for
    one that is not on a dead-letter topic.
    """
    wanted = list(dict.fromkeys(ids))
    known = set(dead_letter_topics(settings))
    for letter_id in wanted:
        topic, _, _ = parse_dead_letter_id(letter_id)
        if topic not in known:
            raise UnknownDeadLetterError(
                f"{letter_id}: {topic} is not a dead-letter topic (known: "
                f"{', '.join(sorted(known))})")
    found = {letter.id: letter for letter in await list_dead_letters(settings)}
    missing = [letter_id for letter_id in wanted if letter_id not in found]
    if missing:
        raise UnknownDeadLetterError(f"no dead letter with id {', '.join(missing)}")
    return [found[letter_id] for letter_id in wanted]


async def _ensure_replayed_topic(settings: KafkaSettings) -> None:
    await ensure_topics(settings, [TopicSpec(replayed_topic(settings), 1,
                                             {"cleanup.policy": "compact"})])


async def replay(settings: KafkaSettings, letters: list[DeadLetter],
                 dry_run: bool = False) -> list[Replayed]:
    """Re-publish each dead letter's original record to its original topic (see module doc).

    Raises :class:`NotReplayableError` before sending anything if one of them does not name
    its original topic, or names one that is not among Accord's topics (under this
    prefix). A dry run sends nothing and writes no marker.
    """
    unknown = [letter.id for letter in letters if not letter.replayable]
    if unknown:
        raise NotReplayableError(
            f"no original topic (accord.errors.topic header) on {', '.join(unknown)}")
    # Only back onto Accord's own topics under this prefix: never into another run's topics.
    allowed = {spec.name for spec in accord_topics(settings)} - set(dead_letter_topics(settings))
    foreign = [f"{letter.id} (to {letter.original_topic})" for letter in letters
               if letter.original_topic not in allowed]
    if foreign:
        raise NotReplayableError(
            f"original topic is not one of Accord's topics here: {', '.join(foreign)}")
    if dry_run or not letters:
        return [Replayed(letter.id, str(letter.original_topic), None, None, True)
                for letter in letters]
    await _ensure_replayed_topic(settings)
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers,
                                security_protocol=settings.security_protocol,
                                acks="all", enable_idempotence=True)
    await producer.start()
    done: list[Replayed] = []
    try:
        for letter in letters:
            topic = str(letter.original_topic)
            async with asyncio.timeout(_SEND_TIMEOUT_SECONDS):
                sent = await producer.send_and_wait(topic, letter.value, key=letter.key,
                                                    headers=replay_headers(letter))
                marker = json.dumps({"replayed_at": datetime.now(UTC).isoformat(),
                                     "to_topic": topic, "to_partition": sent.partition,
                                     "to_offset": sent.offset}).encode()
                await producer.send_and_wait(replayed_topic(settings), marker,
                                             key=letter.id.encode())
            done.append(Replayed(letter.id, topic, sent.partition, sent.offset, False))
    finally:
        async with asyncio.timeout(_SEND_TIMEOUT_SECONDS):
            await producer.stop()
    return done


async def select_for_replay(settings: KafkaSettings, ids: list[str],
                            criteria: DeadLetterFilter,
                            include_replayed: bool = False) -> list[DeadLetter]:
    """The dead letters a replay is about (the selection checked by ``selection_problem``).

    Ids are taken as given, replayed before or not: the operator named them. A filter (or
    ``all``) skips dead letters already replayed unless ``include_replayed``.
    """
    if ids:
        return await find_dead_letters(settings, ids)
    return [letter for letter in await list_dead_letters(settings, criteria)
            if include_replayed or not letter.replayed]
