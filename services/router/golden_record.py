"""The golden lead record: one per lead key, merged from every event. Pure functions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from services.contracts.events import LeadCaptured, LeadFields, LeadRouted, Stage
from services.router.rules.cel_conditions import LEAD_FIELD_DEFAULTS

# Enough to recognise redeliveries (retries, rebalances) without growing without bound.
REMEMBERED_EVENT_IDS = 200


class FieldValue(BaseModel):
    """A field's current value, which source set it, and when."""

    model_config = ConfigDict(frozen=True)

    value: str | int
    source: str
    at: datetime


class GoldenRecord(BaseModel):
    """Everything Accord knows about one lead, with per-field provenance."""

    model_config = ConfigDict(frozen=True)

    lead_key: str
    fields: dict[str, FieldValue] = {}
    recent_event_ids: tuple[str, ...] = ()
    stage: Stage | None = None
    last_decision: LeadRouted | None = None

    def has_seen(self, event_id: str) -> bool:
        """True when this event was already applied (a redelivery)."""
        return event_id in self.recent_event_ids


def new_record(lead_key: str) -> GoldenRecord:
    """An empty record for a lead seen for the first time."""
    return GoldenRecord(lead_key=lead_key)


def merge_captured(record: GoldenRecord, event_id: str, event: LeadCaptured,
                   source: str) -> GoldenRecord:
    """Apply a captured lead: for each field it carries, the newer value wins."""
    merged = dict(record.fields)
    for name, value in event.fields.model_dump(exclude_none=True).items():
        current = merged.get(name)
        if current is None or event.captured_at >= current.at:
            merged[name] = FieldValue(value=value, source=source, at=event.captured_at)
    seen = (*record.recent_event_ids, event_id)[-REMEMBERED_EVENT_IDS:]
    return record.model_copy(update={"fields": merged, "recent_event_ids": seen})


def lead_fields(record: GoldenRecord) -> LeadFields:
    """The record's current field values as the contract's ``LeadFields``."""
    return LeadFields(**{name: fv.value for name, fv in record.fields.items()})


def lead_view(record: GoldenRecord) -> dict[str, Any]:
    """What rule conditions see as ``lead``: every field, defaulted when unknown."""
    view = dict(LEAD_FIELD_DEFAULTS)
    view.update({name: fv.value for name, fv in record.fields.items()})
    email = str(view["email"])
    view["email_domain"] = email.rpartition("@")[2]
    return view


def record_decision(record: GoldenRecord, decision: LeadRouted) -> GoldenRecord:
    """Remember the decision (and the stage it set) on the record."""
    return record.model_copy(update={"stage": decision.stage, "last_decision": decision})
