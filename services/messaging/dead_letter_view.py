"""What an operator sees of a dead letter: a pure view of one consumed dead-letter record.

A dead letter is the original record (key, value, headers) plus the error context that
``services.messaging.dead_letters`` adds under ``accord.errors.*``. The context follows Kafka
Connect's ``__connect.errors.*`` headers (``errors.deadletterqueue.context.headers.enable``):

- ``accord.errors.topic`` / ``partition`` / ``offset`` (Connect: ``__connect.errors.topic`` /
  ``partition`` / ``offset``): where the record was read, shown as ``original_*``;
- ``accord.errors.stage`` (Connect: ``__connect.errors.stage``): ``router`` or ``sync``;
- ``accord.errors.reason`` (Connect: ``__connect.errors.exception.message``): ``reason``;
- ``accord.errors.crm`` and ``accord.errors.code`` (sync only): the CRM that refused the
  write and its error code;
- ``accord.errors.at``: when it was dead-lettered, shown as ``first_seen``.

As with Connect, replaying means re-publishing the original record with the error-context
headers stripped; nothing in this module talks to Kafka.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.messaging.dead_letters import PREFIX

# Put on a replayed record: the id of the dead letter it was replayed from.
REPLAYED_FROM = "accord_replayed_from"
STAGES = ("router", "sync")
REDACTED = "[redacted]"
_SECRET_NAME = re.compile(r"session|token", re.IGNORECASE)

Headers = tuple[tuple[str, bytes], ...]


class DeadLetterIdError(ValueError):
    """A dead-letter id is not ``<dlq topic>:<partition>:<offset>``."""


def dead_letter_id(topic: str, partition: int, offset: int) -> str:
    """The id of the dead letter at this position of its dead-letter topic."""
    return f"{topic}:{partition}:{offset}"


def parse_dead_letter_id(value: str) -> tuple[str, int, int]:
    """Split ``<dlq topic>:<partition>:<offset>``; raise :class:`DeadLetterIdError` if malformed.

    Topic names cannot hold ``:``, so the last two fields are always partition and offset.
    """
    topic, _, rest = value.partition(":")
    partition, _, offset = rest.partition(":")
    if not topic or not partition.isdigit() or not offset.isdigit():
        raise DeadLetterIdError(
            f"{value!r} is not a dead-letter id; expected <dlq topic>:<partition>:<offset>, "
            "e.g. accord.router.dead-letters:0:42")
    return topic, int(partition), int(offset)


@dataclass(frozen=True)
class DeadLetter:
    """One dead letter as read from its topic, with the context its headers carry."""

    id: str
    dlq_topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers
    stage: str
    reason: str
    crm: str | None
    code: str | None
    original_topic: str | None
    original_partition: int | None
    original_offset: int | None
    event_type: str | None
    event_id: str | None
    lead_key: str | None
    first_seen: str | None
    replayed: bool = False

    @property
    def replayable(self) -> bool:
        """Whether the original topic is known (without it there is nowhere to replay to)."""
        return bool(self.original_topic)


def _text(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("utf-8", errors="replace")


def _int(raw: str | None) -> int | None:
    return int(raw) if raw is not None and raw.lstrip("-").isdigit() else None


def _timestamp(ms: int | None) -> str | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def to_dead_letter(topic: str, partition: int, offset: int, key: bytes | None,
                   value: bytes | None, headers: Iterable[tuple[str, bytes]],
                   timestamp_ms: int | None = None, replayed: bool = False) -> DeadLetter:
    """The view of one consumed dead-letter record.

    ``first_seen`` is when it was dead-lettered (``accord.errors.at``), else the record's
    timestamp. A record without the error context is still shown, with stage ``unknown``.
    """
    kept = tuple((name, bytes(raw or b"")) for name, raw in headers)
    named = {name: _text(raw) for name, raw in kept}

    def context(name: str) -> str | None:
        return named.get(PREFIX + name)

    return DeadLetter(
        id=dead_letter_id(topic, partition, offset), dlq_topic=topic, partition=partition,
        offset=offset, key=key, value=value, headers=kept,
        stage=context("stage") or "unknown", reason=context("reason") or "",
        crm=context("crm"), code=context("code"),
        original_topic=context("topic"), original_partition=_int(context("partition")),
        original_offset=_int(context("offset")),
        event_type=named.get("ce_type"), event_id=named.get("ce_id"), lead_key=_text(key),
        first_seen=context("at") or _timestamp(timestamp_ms), replayed=replayed)


def replay_headers(letter: DeadLetter) -> list[tuple[str, bytes]]:
    """The original record's headers (error context stripped) plus ``accord_replayed_from``.

    A dead letter that was itself a replay carries an older ``accord_replayed_from``: it is
    replaced, so a record names only the dead letter it was last replayed from.
    """
    kept = [(name, raw) for name, raw in letter.headers
            if not name.startswith(PREFIX) and name != REPLAYED_FROM]
    return [*kept, (REPLAYED_FROM, letter.id.encode())]


@dataclass(frozen=True)
class DeadLetterFilter:
    """Which dead letters to show or replay; every given criterion must hold."""

    stage: str | None = None
    code: str | None = None
    crm: str | None = None
    text: str | None = None
    ids: frozenset[str] = field(default_factory=frozenset)

    def matches(self, letter: DeadLetter) -> bool:
        """Whether ``letter`` passes: exact stage/code/crm (case-insensitive), ``text``
        anywhere in the reason (case-insensitive), id among ``ids`` when ids are given."""
        def same(wanted: str | None, actual: str | None) -> bool:
            return wanted is None or (actual or "").casefold() == wanted.casefold()

        return (same(self.stage, letter.stage) and same(self.code, letter.code)
                and same(self.crm, letter.crm)
                and (self.text is None or self.text.casefold() in letter.reason.casefold())
                and (not self.ids or letter.id in self.ids))


def select(letters: Iterable[DeadLetter], criteria: DeadLetterFilter) -> list[DeadLetter]:
    """The dead letters that match, in the order given."""
    return [letter for letter in letters if criteria.matches(letter)]


def truncate(text: str, width: int) -> str:
    """``text`` on one line, cut to ``width`` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: max(width - 1, 0)] + "…"


def shown_headers(headers: Sequence[tuple[str, bytes]]) -> list[tuple[str, str]]:
    """Headers as text for display, redacting any whose name mentions a session or token."""
    return [(name, REDACTED if _SECRET_NAME.search(name) else _text(raw) or "")
            for name, raw in headers]


def shown_value(value: bytes | None) -> Any:
    """The value for display: parsed JSON when it is JSON, else text (``None`` if absent)."""
    if value is None:
        return None
    try:
        return json.loads(value)
    except (ValueError, UnicodeDecodeError):
        return value.decode("utf-8", errors="replace")


def summary(letter: DeadLetter) -> dict[str, Any]:
    """The listing fields of a dead letter, JSON-ready."""
    return {
        "id": letter.id, "stage": letter.stage, "crm": letter.crm, "code": letter.code,
        "reason": letter.reason, "event_type": letter.event_type, "event_id": letter.event_id,
        "lead_key": letter.lead_key, "original_topic": letter.original_topic,
        "original_partition": letter.original_partition,
        "original_offset": letter.original_offset, "first_seen": letter.first_seen,
        "replayed": letter.replayed,
    }


def detail(letter: DeadLetter) -> dict[str, Any]:
    """Everything about a dead letter, JSON-ready: the summary, headers (redacted) and value."""
    return {**summary(letter),
            "headers": [{"name": name, "value": text}
                        for name, text in shown_headers(letter.headers)],
            "value": shown_value(letter.value)}


def selection_problem(ids: Sequence[str], criteria: DeadLetterFilter,
                      everything: bool) -> tuple[str, str] | None:
    """Why a replay selection is unusable, as ``(field, message)``; ``None`` if it is fine.

    A replay names its dead letters either by id or by filter (``code``, ``stage``, ``crm``,
    ``text``), or asks for ``all`` of them: never nothing, never ids and a filter together.
    """
    filtered = any(value is not None for value in
                   (criteria.stage, criteria.code, criteria.crm, criteria.text))
    if criteria.stage is not None and criteria.stage not in STAGES:
        return "stage", f"stage must be one of {', '.join(STAGES)}, not {criteria.stage!r}"
    if ids and (filtered or everything):
        return "ids", "give either dead-letter ids or a filter (code, stage, crm, all), not both"
    if not ids and not filtered and not everything:
        return "ids", "say what to replay: dead-letter ids, a filter (code, stage, crm), or all"
    for value in ids:
        try:
            parse_dead_letter_id(value)
        except DeadLetterIdError as exc:
            return "ids", str(exc)
    return None
