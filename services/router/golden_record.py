"""The golden lead record: one per lead key, merged from every event. Pure functions."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, TypeAdapter

from services.contracts.events import (
    EngagementRecorded,
    LeadCaptured,
    LeadFields,
    LeadRouted,
    RevenueRecorded,
    Stage,
)
from services.router.rules.cel_conditions import LEAD_FIELD_DEFAULTS

# Enough to recognise redeliveries (retries, rebalances) without growing without bound.
REMEMBERED_EVENT_IDS = 200
REMEMBERED_ENGAGEMENTS = 200


class FieldValue(BaseModel):
    """A field's current value, which source set it, and when."""

    model_config = ConfigDict(frozen=True)

    value: str | int
    source: str
    at: datetime


class Engaged(BaseModel):
    """One thing the lead did that marketing counts."""

    model_config = ConfigDict(frozen=True)

    action: str
    at: datetime
    campaign: str | None = None


class Touch(BaseModel):
    """Where the lead came from: the channel and campaign of its earliest known event."""

    model_config = ConfigDict(frozen=True)

    channel: str
    campaign: str | None
    at: datetime


class GoldenRecord(BaseModel):
    """Everything Accord knows about one lead, with per-field provenance."""

    model_config = ConfigDict(frozen=True)

    lead_key: str
    fields: dict[str, FieldValue] = {}
    engagements: tuple[Engaged, ...] = ()
    first_touch: Touch | None = None
    revenue: Decimal = Decimal(0)
    revenue_references: tuple[str, ...] = ()
    # Ids of this lead in the CRMs, e.g. {"salesforce.Lead": "00Q…", "hubspot.contact": "101"}.
    crm_ids: dict[str, str] = {}
    salesforce_status: str | None = None
    # The reason the rep gave with that status (e.g. why the lead is Unqualified).
    salesforce_status_reason: str | None = None
    recent_event_ids: tuple[str, ...] = ()
    stage: Stage | None = None
    last_decision: LeadRouted | None = None
    # Recycle rules whose conditions held at the last decision: one acts when it starts to.
    recycle_held: tuple[str, ...] = ()
    # The pool asked to pick this lead's owner for ``last_decision`` (None: nothing pending).
    awaiting_pool: str | None = None

    def has_seen(self, event_id: str) -> bool:
        """True when this event was already applied (a redelivery)."""
        return event_id in self.recent_event_ids


_FIELD_VALUES = TypeAdapter(dict[str, FieldValue])


def new_record(lead_key: str) -> GoldenRecord:
    """An empty record for a lead seen for the first time."""
    return GoldenRecord(lead_key=lead_key)


def merge_captured(record: GoldenRecord, event_id: str, event: LeadCaptured,
                   source: str, salesforce_owned: frozenset[str] = frozenset()) -> GoldenRecord:
    """Apply a captured lead: for each field it carries, the newer value wins — except a
    field in ``salesforce_owned`` (its sync rule prefers Salesforce) whose value came from
    Salesforce: a form does not overwrite what sales entered."""
    merged = dict(record.fields)
    at = event.captured_at
    # The hot path: the event's fields as they are (model_dump(exclude_none=True) gives the
    # same, slower), and one validation for all new values rather than one model per value.
    newer = {name: {"value": value, "source": source, "at": at}
             for name, value in event.fields.__dict__.items()
             if value is not None and (name not in merged or (
                 at >= merged[name].at and not (name in salesforce_owned
                                                and merged[name].source == "salesforce")))}
    merged.update(_FIELD_VALUES.validate_python(newer))
    touch = Touch(channel=event.fields.lead_source or event.channel,
                  campaign=event.fields.campaign, at=event.captured_at)
    return record.model_copy(update={"fields": merged, "recent_event_ids": seen(record, event_id),
                                     "first_touch": _earliest(record.first_touch, touch)})


def _earliest(current: Touch | None, candidate: Touch) -> Touch:
    return candidate if current is None or candidate.at < current.at else current


def seen(record: GoldenRecord, event_id: str) -> tuple[str, ...]:
    """The record's remembered event ids with ``event_id`` added (bounded)."""
    return (*record.recent_event_ids, event_id)[-REMEMBERED_EVENT_IDS:]


def _with_email(record: GoldenRecord, email: str, source: str, at: datetime,
                ) -> dict[str, FieldValue]:
    merged = dict(record.fields)
    merged.setdefault("email", FieldValue(value=email, source=source, at=at))
    return merged


def merge_engagement(record: GoldenRecord, event_id: str, event: EngagementRecorded,
                     source: str) -> GoldenRecord:
    """Add an engagement (the newest ``REMEMBERED_ENGAGEMENTS`` are kept, oldest first)."""
    campaign = event.attribution.campaign or event.attribution.utm_campaign
    engaged = Engaged(action=event.action, at=event.occurred_at, campaign=campaign)
    history = sorted((*record.engagements, engaged), key=lambda e: e.at)
    touch = Touch(channel=event.attribution.utm_source or event.action, campaign=campaign,
                  at=event.occurred_at)
    return record.model_copy(update={
        "fields": _with_email(record, str(event.email), source, event.occurred_at),
        "engagements": tuple(history[-REMEMBERED_ENGAGEMENTS:]),
        "first_touch": _earliest(record.first_touch, touch),
        "recent_event_ids": seen(record, event_id)})


def merge_revenue(record: GoldenRecord, event_id: str, event: RevenueRecorded,
                  source: str) -> GoldenRecord:
    """Add booked revenue once per billing reference (a re-sent invoice counts once)."""
    update: dict[str, object] = {
        "fields": _with_email(record, str(event.email), source, event.occurred_at),
        "recent_event_ids": seen(record, event_id)}
    reference = f"{event.system}:{event.reference}"
    if reference not in record.revenue_references:
        update["revenue"] = record.revenue + event.amount
        update["revenue_references"] = (*record.revenue_references, reference)
    return record.model_copy(update=update)


def lead_fields(record: GoldenRecord) -> LeadFields:
    """The record's current field values as the contract's ``LeadFields``."""
    return LeadFields(**{name: fv.value for name, fv in record.fields.items()})


def lead_view(record: GoldenRecord) -> dict[str, Any]:
    """What rule conditions see as ``lead``: every field, defaulted when unknown."""
    view = dict(LEAD_FIELD_DEFAULTS)
    view.update({name: fv.value for name, fv in record.fields.items()})
    email = str(view["email"])
    view["email_domain"] = email.rpartition("@")[2]
    # Whole currency units: conditions compare whole numbers (see the rule file's header).
    view["revenue"] = int(record.revenue)
    view["first_campaign"] = record.first_touch.campaign or "" if record.first_touch else ""
    view["engagements"] = len(record.engagements)
    view["salesforce_status"] = record.salesforce_status or ""
    return view


def record_decision(record: GoldenRecord, decision: LeadRouted,
                    recycle_held: tuple[str, ...] = ()) -> GoldenRecord:
    """Remember the decision (and the stage it set) on the record, with the recycle rules
    whose conditions held when it was made (``decide.Decision.recycle_held``)."""
    return record.model_copy(update={"stage": decision.stage, "last_decision": decision,
                                     "recycle_held": recycle_held})


def recheck_recycle_rules(record: GoldenRecord) -> GoldenRecord:
    """The record with no recycle rule remembered as holding, so each acts again at the next
    decision if its condition holds: for a status a person just set in the CRM, which is
    news even when it satisfies a rule that held already."""
    return record.model_copy(update={"recycle_held": ()})
