"""What the router does with one event: a pure step from (record, event) to (record, decision,
announcements)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.contracts.envelope import Envelope
from services.contracts.events import (
    ENGAGEMENT_RECORDED,
    HUBSPOT_CHANGE_RECEIVED,
    LEAD_CAPTURED,
    REVENUE_RECORDED,
    SALESFORCE_CHANGE_RECEIVED,
    EngagementRecorded,
    HubSpotChangeReceived,
    LeadCaptured,
    LeadRouted,
    RevenueRecorded,
    SalesforceChangeReceived,
)
from services.router.announcements import Announcement as Announcement
from services.router.announcements import announcements
from services.router.crm_changes import (
    LEAD_KEY_FIELD,
    is_own_write,
    linked_lead_key,
    merge_hubspot_change,
    merge_salesforce_change,
)
from services.router.decide import Decision, evaluate
from services.router.golden_record import (
    GoldenRecord,
    merge_captured,
    merge_engagement,
    merge_revenue,
    new_record,
    recheck_recycle_rules,
    record_decision,
)
from services.router.rules.model import RuleSet


@dataclass(frozen=True)
class Outcome:
    """The record to store, the decision to emit (if any) as ``lead.routed``, and the other
    events it announces (``lead.scored``, ``lead.qualified``, ``lead.recycled``), to be
    published after it, in order."""

    record: GoldenRecord
    decision: LeadRouted | None
    duplicate: bool = False
    announcements: tuple[Announcement, ...] = ()


def handle_event(rules: RuleSet, record: GoldenRecord | None, envelope: Envelope,
                 now: datetime, own_user_ids: Collection[str] = ()) -> Outcome:
    """Apply one event to a lead's golden record and decide again when it matters.

    A redelivered event changes nothing. If it caused the latest decision, that decision is
    emitted again, unchanged (same id), with the same announcements (same ids: they are
    derived from the decision alone): the first emission may have been lost in a crash
    between storing the record and publishing, and downstream writes are idempotent. A
    redelivery of an older event emits and announces nothing.
    """
    if envelope.type in (SALESFORCE_CHANGE_RECEIVED, HUBSPOT_CHANGE_RECEIVED):
        return _handle_crm_change(rules, record, envelope, now, own_user_ids)
    merge = _MERGES.get(envelope.type)
    if merge is None:
        raise UnsupportedEventError(envelope.type)
    model, apply = merge
    event = model.model_validate(envelope.data)
    current = record or new_record(event.lead_key)
    if current.has_seen(envelope.id):
        return _redelivered(current, envelope.id)
    merged = apply(current, envelope.id, event, envelope.source)
    return _decided(merged, evaluate(rules, merged, envelope.id, now))


def _redelivered(record: GoldenRecord, event_id: str) -> Outcome:
    last = record.last_decision
    if last is None or last.caused_by != event_id:
        return Outcome(record, None, duplicate=True)
    return Outcome(record, last, duplicate=True, announcements=announcements(last))


def _decided(record: GoldenRecord, decision: Decision) -> Outcome:
    """The record remembers the decision; with a pool route it also remembers that the
    pool has yet to pick (``awaiting_pool``): the pool's partition publishes it then."""
    decided = record_decision(record, decision.routed, decision.recycle_held)
    if decided.awaiting_pool != decision.awaiting_pool:
        decided = decided.model_copy(update={"awaiting_pool": decision.awaiting_pool})
    return Outcome(decided, decision.routed, announcements=announcements(decision.routed))


def _handle_crm_change(rules: RuleSet, record: GoldenRecord | None, envelope: Envelope,
                       now: datetime, own_user_ids: Collection[str]) -> Outcome:
    # A change re-keyed by the linking step (a HubSpot property change carries only the
    # object id) belongs to the record it was routed to.
    lead_key = linked_lead_key(envelope) or (record.lead_key if record else None)
    if lead_key is None:
        raise UnlinkedChangeError(envelope.type)
    current = record or new_record(lead_key)
    if current.has_seen(envelope.id):
        return _redelivered(current, envelope.id)
    if envelope.type == HUBSPOT_CHANGE_RECEIVED:
        hubspot = HubSpotChangeReceived.model_validate(envelope.data)
        # Linking only: HubSpot's own values reach decisions through sync's mapping rules.
        return Outcome(merge_hubspot_change(current, envelope.id, hubspot), None)
    change = SalesforceChangeReceived.model_validate(envelope.data)
    merged = merge_salesforce_change(current, envelope.id, change)
    if is_own_write(change, own_user_ids) or merged.salesforce_status == current.salesforce_status:
        # An echo of our own write, or nothing the rules read changed: no new decision.
        return Outcome(merged, None)
    # A status a person set is news even if a recycle rule held already (e.g. "Closed - Not
    # Converted" for a lead recycled on "Recycled" and qualified again since): sales can
    # hand a lead back again.
    fresh = recheck_recycle_rules(merged)
    return _decided(fresh, evaluate(rules, fresh, envelope.id, now))


_MERGES: dict[str, tuple[Any, Any]] = {
    LEAD_CAPTURED: (LeadCaptured, merge_captured),
    ENGAGEMENT_RECORDED: (EngagementRecorded, merge_engagement),
    REVENUE_RECORDED: (RevenueRecorded, merge_revenue),
}


class UnlinkedChangeError(ValueError):
    """A CRM change that names no lead (no lead key or email in it)."""

    def __init__(self, event_type: str) -> None:
        super().__init__(f"{event_type} names no lead: no {LEAD_KEY_FIELD} or email in it")


class UnsupportedEventError(ValueError):
    """The router received an event type it does not handle."""

    def __init__(self, event_type: str) -> None:
        super().__init__(f"unsupported event type {event_type!r}")
