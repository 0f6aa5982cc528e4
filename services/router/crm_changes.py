"""Changes people make in the CRMs, as the golden record sees them. Pure functions.

CRM changes arrive keyed by the CRM object (ingest cannot always know the email). The router
links each to its lead key — a Salesforce notification carries ``Accord_Lead_Key__c`` or
``Email``; a HubSpot change of the ``email`` property carries the address — and re-keys it,
so a lead's CRM changes meet its other events in the same partition. Changes made by
Accord's own integration user only update ids: they are echoes of our own writes.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from services.contracts.envelope import Envelope
from services.contracts.events import (
    HUBSPOT_CHANGE_RECEIVED,
    SALESFORCE_CHANGE_RECEIVED,
    HubSpotChangeReceived,
    SalesforceChangeReceived,
)
from services.contracts.lead_key import lead_key_for
from services.router.golden_record import GoldenRecord, seen

LEAD_KEY_FIELD = "Accord_Lead_Key__c"


def linked_lead_key(envelope: Envelope) -> str | None:
    """The lead key a CRM change belongs to, or None when the change does not say."""
    if envelope.type == SALESFORCE_CHANGE_RECEIVED:
        fields: dict[str, Any] = envelope.data.get("fields") or {}
        email = fields.get(LEAD_KEY_FIELD) or fields.get("Email")
        return lead_key_for(email) if email else None
    if envelope.type == HUBSPOT_CHANGE_RECEIVED:
        data = envelope.data
        if data.get("property_name") == "email" and data.get("property_value"):
            return lead_key_for(str(data["property_value"]))
    return None


def merged_objects(envelope: Envelope, crm_object: str) -> list[str]:
    """For a HubSpot merge, every object it joined (``crm_object`` first, then the primary,
    the resulting and the merged-away ids), keyed like ``crm_object``; else just it.

    HubSpot may give the merged record a new id (``newObjectId``): the links of the old ids
    must carry over, or later changes of the new id would find no lead.
    """
    data = envelope.data
    if envelope.type != HUBSPOT_CHANGE_RECEIVED or not str(
            data.get("subscription_type", "")).endswith(".merge"):
        return [crm_object]
    prefix = crm_object.rsplit(":", 1)[0]
    ids = [data.get("primary_object_id"), data.get("new_object_id"),
           *(data.get("merged_object_ids") or [])]
    keys = [crm_object, *(f"{prefix}:{i}" for i in ids if i is not None)]
    return list(dict.fromkeys(keys))


def is_own_write(change: SalesforceChangeReceived, own_user_ids: Collection[str]) -> bool:
    """True when Accord's integration user made the change (compared on 15-character ids)."""
    modified_by = (change.fields.get("LastModifiedById") or "")[:15]
    return bool(modified_by) and modified_by in {u[:15] for u in own_user_ids}


def merge_salesforce_change(record: GoldenRecord, event_id: str,
                            change: SalesforceChangeReceived,
                            take_status: bool = True,
                            reason_field: str | None = None) -> GoldenRecord:
    """Link the Salesforce record's id, and keep the Lead's status as sales set it, with the
    reason in ``reason_field`` (``take_status`` False: the change is Accord's own, the status
    is not sales' word)."""
    ids = {**record.crm_ids, f"salesforce.{change.sobject_type}": change.sobject_id}
    update: dict[str, object] = {"crm_ids": ids, "recent_event_ids": seen(record, event_id)}
    status = change.fields.get("Status")
    if change.sobject_type == "Lead" and status and take_status:
        update["salesforce_status"] = status
        if reason_field is not None:
            # A notification carries the fields that hold a value: a reason left out is
            # blank now, and a reason kept from an earlier status would be stale.
            update["salesforce_status_reason"] = change.fields.get(reason_field) or None
    return record.model_copy(update=update)


def merge_hubspot_change(record: GoldenRecord, event_id: str,
                         change: HubSpotChangeReceived) -> GoldenRecord:
    """Link the HubSpot object's id; after a merge, the id of the record it produced."""
    current = change.new_object_id or change.primary_object_id or change.object_id \
        if change.subscription_type.endswith(".merge") else change.object_id
    ids = {**record.crm_ids, f"hubspot.{change.object_type}": str(current)}
    return record.model_copy(update={"crm_ids": ids,
                                     "recent_event_ids": seen(record, event_id)})
