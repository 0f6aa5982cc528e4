"""What the router does with one event: a pure step from (record, event) to (record, decision)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.contracts.envelope import Envelope
from services.contracts.events import LEAD_CAPTURED, LeadCaptured, LeadRouted
from services.router.decide import decide
from services.router.golden_record import (
    GoldenRecord,
    merge_captured,
    new_record,
    record_decision,
)
from services.router.rules.model import RuleSet


@dataclass(frozen=True)
class Outcome:
    """The record to store, and the decision to emit (if any)."""

    record: GoldenRecord
    decision: LeadRouted | None
    duplicate: bool = False


def handle_event(rules: RuleSet, record: GoldenRecord | None, envelope: Envelope,
                 now: datetime) -> Outcome:
    """Apply one event to a lead's golden record and decide again when it matters.

    A redelivered event changes nothing. If it caused the latest decision, that decision is
    emitted again, unchanged (same id): the first emission may have been lost in a crash
    between storing the record and publishing, and downstream writes are idempotent.
    """
    if envelope.type != LEAD_CAPTURED:
        raise UnsupportedEventError(envelope.type)
    captured = LeadCaptured.model_validate(envelope.data)
    current = record or new_record(captured.lead_key)
    if current.has_seen(envelope.id):
        last = current.last_decision
        again = last if last is not None and last.caused_by == envelope.id else None
        return Outcome(current, again, duplicate=True)
    merged = merge_captured(current, envelope.id, captured, envelope.source)
    decision = decide(rules, merged, envelope.id, now)
    return Outcome(record_decision(merged, decision), decision)


class UnsupportedEventError(ValueError):
    """The router received an event type it does not handle."""

    def __init__(self, event_type: str) -> None:
        super().__init__(f"unsupported event type {event_type!r}")
