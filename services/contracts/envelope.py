"""CloudEvents 1.0 in Kafka binary mode: ``ce_*`` headers, JSON value, lead key as key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.v1.event import CloudEvent
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
           event_id: str | None = None) -> KafkaRecord:
    """Wrap a contract model into a binary-mode CloudEvent keyed by ``key``."""
    attributes: dict[str, Any] = {
        "type": event_type,
        "source": source,
        "datacontenttype": "application/json",
        "dataschema": dataschema_uri(event_type),
    }
    if event_id is not None:
        attributes["id"] = event_id
    event = CloudEvent(attributes=attributes, data=data.model_dump(mode="json"))
    message = ce_kafka.to_binary_event(event, key_mapper=lambda _: key)
    return KafkaRecord(key=key.encode(), value=message.value,
                       headers=list(message.headers.items()))


def decode(key: bytes | None, value: bytes | None,
           headers: list[tuple[str, bytes]] | tuple[tuple[str, bytes], ...]) -> Envelope:
    """Read a binary-mode CloudEvent; raises ``EnvelopeError`` saying what is wrong."""
    header_map = {name: raw for name, raw in headers}
    for required in ("ce_id", "ce_type", "ce_source", "ce_specversion"):
        if required not in header_map:
            raise EnvelopeError(f"missing header {required}")
    try:
        event = ce_kafka.from_binary_event(
            ce_kafka.KafkaMessage(headers=header_map, key=key, value=value or b"")
        )
    except Exception as exc:  # the SDK raises several types for one cause: bad input
        raise EnvelopeError(f"not a CloudEvent: {exc}") from exc
    data = event.get_data()
    if not isinstance(data, dict):
        raise EnvelopeError("event data is not a JSON object")
    return Envelope(id=event.get_id(), type=event.get_type(), source=event.get_source(),
                    dataschema=event.get_dataschema(), data=data)
