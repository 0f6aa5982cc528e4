"""What the router does with one event: a pure step from (record, event) to (record, decision,
announcements)."""

from __future__ import annotations

from dataclasses import dataclass, replace
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
    OpportunityWon,
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
from services.router.crm_fields import (
    NO_CRM,
    CrmContext,
    CrmValues,
    hubspot_values,
    merge_crm_values,
    salesforce_values,
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
from services.router.opportunities import book_win, is_booked, opportunity_won, won_deal
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
    # A won opportunity this event booked: published after the decision.
    won: OpportunityWon | None = None


def handle_event(rules: RuleSet, record: GoldenRecord | None, envelope: Envelope,
                 now: datetime, crm: CrmContext = NO_CRM) -> Outcome:
    """Apply one event to a lead's golden record and decide again when it matters.

    A redelivered event changes nothing. If it caused the latest decision, that decision is
    emitted again, unchanged (same id), with the same announcements (same ids: they are
    derived from the decision alone): the first emission may have been lost in a crash
    between storing the record and publishing, and downstream writes are idempotent. A
    redelivery of an older event emits and announces nothing.
    """
    if envelope.type in (SALESFORCE_CHANGE_RECEIVED, HUBSPOT_CHANGE_RECEIVED):
        return _handle_crm_change(rules, record, envelope, now, crm)
    merge = _MERGES.get(envelope.type)
    if merge is None:
        raise UnsupportedEventError(envelope.type)
    model, apply = merge
    event = model.model_validate(envelope.data)
    current = record or new_record(event.lead_key)
    if current.has_seen(envelope.id):
        return _redelivered(current, envelope.id)
    if envelope.type == LEAD_CAPTURED:
        merged = merge_captured(current, envelope.id, event, envelope.source,
                                crm.salesforce_owned)
    else:
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
                       now: datetime, crm: CrmContext) -> Outcome:
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
        linked = merge_hubspot_change(current, envelope.id, hubspot)
        own = crm.is_own_hubspot_write(hubspot.change_source, hubspot.source_id)
        values = None if own else hubspot_values(hubspot, crm)
        return _after_crm_values(rules, current, linked, values, crm, envelope.id, now)
    change = SalesforceChangeReceived.model_validate(envelope.data)
    own = is_own_write(change, crm.salesforce_user_ids)
    # The status our own write set is not a rep's: it must not read as sales' verdict.
    merged = merge_salesforce_change(current, envelope.id, change, take_status=not own,
                                     reason_field=crm.status_reason_field)
    deal = won_deal(change)
    if deal is not None and not is_booked(merged, deal):
        # A win is news whoever saved it: book it, decide again (the rules make the lead a
        # customer) and announce the revenue with its attribution.
        booked = book_win(merged, deal)
        outcome = _decided(booked, evaluate(rules, booked, envelope.id, now))
        return replace(outcome, won=opportunity_won(outcome.record, deal, envelope.id, now))
    if own:
        # An echo of our own write: ids are linked, nothing else changes.
        return Outcome(merged, None)
    values = salesforce_values(change, crm, _changed_at(change))
    return _after_crm_values(rules, current, merged, values, crm, envelope.id, now)


def _after_crm_values(rules: RuleSet, before: GoldenRecord, linked: GoldenRecord,
                      values: CrmValues | None, crm: CrmContext, event_id: str,
                      now: datetime) -> Outcome:
    """Merge a person's CRM change; decide again only when a field or the status moved."""
    merged = merge_crm_values(linked, values, crm.rules) if values else linked
    status_moved = (merged.salesforce_status, merged.salesforce_status_reason) != (
        before.salesforce_status, before.salesforce_status_reason)
    if not status_moved and merged.fields == before.fields:
        return Outcome(merged, None)  # nothing the rules or the CRMs read changed
    # A status a person set is news even if a recycle rule held already (e.g. "Closed - Not
    # Converted" for a lead recycled on "Recycled" and qualified again since): sales can
    # hand a lead back again.
    fresh = recheck_recycle_rules(merged) if status_moved else merged
    return _decided(fresh, evaluate(rules, fresh, event_id, now))


def _changed_at(change: SalesforceChangeReceived) -> datetime:
    """When Salesforce saved the change (``LastModifiedDate`` when the message sends it)."""
    stamp = change.fields.get("LastModifiedDate")
    try:
        return datetime.fromisoformat(stamp) if stamp else change.received_at
    except ValueError:
        return change.received_at


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
