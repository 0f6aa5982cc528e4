"""What the router does with one event: a pure step from (record, event) to (record, decision)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.contracts.envelope import Envelope
from services.contracts.events import (
    ENGAGEMENT_RECORDED,
    LEAD_CAPTURED,
    REVENUE_RECORDED,
    EngagementRecorded,
    LeadCaptured,
    LeadRouted,
    RevenueRecorded,
)
from services.router.decide import decide
from services.router.golden_record import (
    GoldenRecord,
    merge_captured,
    merge_engagement,
    merge_revenue,
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
    merge = _MERGES.get(envelope.type)
    if merge is None:
        raise UnsupportedEventError(envelope.type)
    model, apply = merge
    event = model.model_validate(envelope.data)
    current = record or new_record(event.lead_key)
    if current.has_seen(envelope.id):
        last = current.last_decision
        again = last if last is not None and last.caused_by == envelope.id else None
        return Outcome(current, again, duplicate=True)
    merged = apply(current, envelope.id, event, envelope.source)
    decision = decide(rules, merged, envelope.id, now)
    return Outcome(record_decision(merged, decision), decision)


_MERGES: dict[str, tuple[Any, Any]] = {
    LEAD_CAPTURED: (LeadCaptured, merge_captured),
    ENGAGEMENT_RECORDED: (EngagementRecorded, merge_engagement),
    REVENUE_RECORDED: (RevenueRecorded, merge_revenue),
}


class UnsupportedEventError(ValueError):
    """The router received an event type it does not handle."""

    def __init__(self, event_type: str) -> None:
        super().__init__(f"unsupported event type {event_type!r}")
