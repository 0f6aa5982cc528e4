"""What one batch of decisions comes to, before and after the CRMs: pure functions, no I/O.

A batch is the records one poll gave for one partition. Of its ``lead.routed`` decisions only
the last per lead is written (upsert semantics: an earlier decision of the same lead in the
same batch is superseded, as a Kafka Connect sink with upserts would do). What cannot be
decoded, and what a CRM refuses, becomes a :class:`DeadLetter` naming the original record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

from aiokafka import ConsumerRecord
from pydantic import ValidationError

from services.contracts.envelope import EnvelopeError, decode
from services.contracts.events import LEAD_ROUTED, LeadRouted
from services.sync.crm_writes import BatchOutcome, RecordRejected, RecordToWrite

Record: TypeAlias = ConsumerRecord[bytes, bytes]
UNKNOWN_OWNER = "UNKNOWN_OWNER"


@dataclass(frozen=True)
class Decided:
    """A decoded decision and the record that carried it."""

    record: Record
    decision: LeadRouted


@dataclass(frozen=True)
class DeadLetter:
    """A record to send to the sync dead-letter topic, why, and the headers to add."""

    record: Record
    reason: str
    extra: Mapping[str, str]


@dataclass(frozen=True)
class ReadBatch:
    """A batch read: the decisions to write (last per lead) and what could not be read."""

    latest: tuple[Decided, ...] = ()
    unreadable: tuple[DeadLetter, ...] = ()


@dataclass(frozen=True)
class Writes:
    """One CRM's records for a batch, the decision behind each key, and the records refused
    before any call (an owner the CRM does not know)."""

    crm: str
    records: tuple[RecordToWrite, ...] = ()
    sources: Mapping[str, Decided] = field(default_factory=dict)
    refused: tuple[RecordRejected, ...] = ()


def read_batch(records: Iterable[Record]) -> ReadBatch:
    """Decode ``records``; keep ``lead.routed`` decisions, the last per lead in offset order;
    an undecodable record becomes a dead letter with the reason."""
    latest: dict[str, Decided] = {}
    unreadable: list[DeadLetter] = []
    for record in sorted(records, key=lambda r: r.offset):
        try:
            envelope = decode(record.key, record.value, list(record.headers))
            if envelope.type != LEAD_ROUTED:
                continue  # other decision types are not written to the CRMs
            decision = LeadRouted.model_validate(envelope.data)
        except (EnvelopeError, ValidationError) as exc:
            unreadable.append(DeadLetter(record, f"unreadable decision: {exc}",
                                         {"crm": "none"}))
            continue
        latest.pop(decision.lead_key, None)  # keep the dict in order of the last decisions
        latest[decision.lead_key] = Decided(record, decision)
    return ReadBatch(tuple(latest.values()), tuple(unreadable))


def build_writes(crm: str, decided: Sequence[Decided], owner_ids: Mapping[str, str | None],
                 key_of: Callable[[LeadRouted], str],
                 fields_of: Callable[[LeadRouted, str], Mapping[str, object]]) -> Writes:
    """The records for one CRM: ``key_of`` gives a decision's upsert key, ``fields_of`` its
    fields given the owner's CRM id; ``owner_ids`` maps owner emails to ids (``None``: the
    CRM has no such owner, and the record is refused with ``UNKNOWN_OWNER``)."""
    records: list[RecordToWrite] = []
    sources: dict[str, Decided] = {}
    refused: list[RecordRejected] = []
    for item in decided:
        key = key_of(item.decision)
        sources[key] = item
        email = item.decision.owner.email
        owner = owner_ids.get(email)
        if owner is None:
            refused.append(RecordRejected(
                key=key, crm=crm, code=UNKNOWN_OWNER,
                message=f"{crm} has no active owner with the email {email}",
                fields=("owner",)))
            continue
        records.append(RecordToWrite(key, fields_of(item.decision, owner)))
    return Writes(crm, tuple(records), sources, tuple(refused))


def _find(sources: Mapping[str, Decided], key: str) -> Decided | None:
    found = sources.get(key)
    if found is not None:
        return found
    folded = key.casefold()  # CRMs compare upsert keys without case
    return next((d for k, d in sources.items() if k.casefold() == folded), None)


def dead_letters(writes: Writes, outcome: BatchOutcome) -> list[DeadLetter]:
    """One dead letter per record refused (before the call or by the CRM), carrying the
    decision record written for that lead and the CRM's code, message and fields."""
    letters: list[DeadLetter] = []
    for refusal in (*writes.refused, *outcome.rejected):
        source = _find(writes.sources, refusal.key)
        if source is None:
            raise ValueError(f"{writes.crm} answered for {refusal.key!r}, which was not sent")
        letters.append(DeadLetter(
            source.record,
            f"{writes.crm} rejected the record: {refusal.code}: {refusal.message}",
            {"crm": writes.crm, "code": refusal.code, "message": refusal.message[:2000],
             "fields": ",".join(refusal.fields),
             "correlation_id": refusal.correlation_id or "",
             "lead_key": source.decision.lead_key}))
    return letters
