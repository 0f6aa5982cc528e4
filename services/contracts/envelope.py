"""CloudEvents 1.0 in Kafka binary mode: ``ce_*`` headers, JSON value, lead key as key."""

from __future__ import annotations

import functools
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from services.contracts.events import dataschema_uri


@dataclass(frozen=True)
class KafkaRecord:
    """What goes onto (or came off) a Kafka topic."""

    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


@dataclass(frozen=True)
class Envelope:
    """A received CloudEvent: its attributes and its JSON data."""

    id: str
    type: str
    source: str
    dataschema: str | None
    data: dict[str, Any]


class EnvelopeError(ValueError):
    """A Kafka record that is not a valid binary-mode CloudEvent with JSON data."""


def encode(event_type: str, source: str, key: str, data: BaseModel,
           event_id: str | None = None, time: str | None = None) -> KafkaRecord:
    """Wrap a contract model into a binary-mode CloudEvent keyed by ``key``.

    Binary mode is a fixed mapping (CloudEvents Kafka binding): each attribute becomes a
    ``ce_<name>`` header, the media type the ``content-type`` header, the data the value.
    It is written directly here because on the ingest hot path the SDK's encoder cost more
    than everything else per event; tests decode every contract with the SDK and compare
    with the SDK's own encoding, so the two cannot drift.
    """
    return encode_json(event_type, source, key, data.model_dump_json().encode(), event_id,
                       time)


def encode_json(event_type: str, source: str, key: str, value: bytes,
                event_id: str | None = None, time: str | None = None) -> KafkaRecord:
    """``encode`` for data serialized already: ``value`` is the JSON of a contract model
    (the router publishes a decision's fields under several event types). ``time`` is the
    ``ce_time`` (``event_time()``) of events published together; by default, now."""
    time = time or event_time()
    specversion, source_bytes, type_bytes, dataschema, content_type = _fixed(event_type,
                                                                             source)
    headers = [
        specversion,
        ("ce_id", (event_id or str(uuid.uuid4())).encode()),
        source_bytes,
        type_bytes,
        ("ce_time", time.encode()),
        dataschema,
        content_type,
    ]
    return KafkaRecord(key=key.encode(), value=value, headers=headers)


def event_time() -> str:
    """Now, as a CloudEvents ``time`` attribute (RFC 3339, UTC, microseconds)."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@functools.lru_cache(maxsize=256)
def _fixed(event_type: str, source: str) -> tuple[tuple[str, bytes], ...]:
    # The headers that depend on the type and source only, built once for each pair.
    return (("ce_specversion", b"1.0"), ("ce_source", source.encode()),
            ("ce_type", event_type.encode()),
            ("ce_dataschema", dataschema_uri(event_type).encode()),
            ("content-type", b"application/json"))


def decode(key: bytes | None, value: bytes | None,
           headers: list[tuple[str, bytes]] | tuple[tuple[str, bytes], ...]) -> Envelope:
    """Read a binary-mode CloudEvent with JSON data; raises ``EnvelopeError`` saying what
    is wrong. Like ``encode`` it reads the binding directly (tests hold it to the SDK)."""
    header_map = {name: raw for name, raw in headers}
    for required in ("ce_id", "ce_type", "ce_source", "ce_specversion"):
        if not header_map.get(required):
            raise EnvelopeError(f"missing header {required}")
    try:
        attributes = {name: raw.decode() for name, raw in header_map.items()
                      if name.startswith("ce_") or name == "content-type"}
    except UnicodeDecodeError as exc:
        raise EnvelopeError(f"a ce_ header is not UTF-8: {exc}") from exc
    if attributes["ce_specversion"] != "1.0":
        raise EnvelopeError(f"unsupported CloudEvents specversion {attributes['ce_specversion']}")
    media = attributes.get("content-type", "application/json").split(";")[0].strip()
    if media != "application/json" and not media.endswith("+json"):
        raise EnvelopeError(f"event data is {media}, not JSON")
    try:
        data = json.loads(value or b"")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EnvelopeError(f"event data is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise EnvelopeError("event data is not a JSON object")
    return Envelope(id=attributes["ce_id"], type=attributes["ce_type"],
                    source=attributes["ce_source"],
                    dataschema=attributes.get("ce_dataschema"), data=data)
