"""What a sales rep does in the Salesforce UI, for tests and demos: edit a record, change a
lead's Status, convert a lead, win an opportunity — each saved as that rep (LastModifiedById),
so it triggers Outbound Messages like any change, and is told apart from the integration's."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sandboxes.salesforce import ids
from sandboxes.salesforce.errors import ApiError, not_found
from sandboxes.salesforce.metadata import (
    ACCOUNT,
    CONTACT,
    LEAD,
    OPPORTUNITY,
    UNQUALIFIED_REASON,
    SObjectDef,
)
from sandboxes.salesforce.records import Records

CONVERTED_STATUS = "Closed - Converted"
# Lead fields copied to the contact on conversion (standard and mapped custom fields).
_CONTACT_FIELDS = ("FirstName", "LastName", "Email", "Accord_Lead_Key__c", "Accord_Score__c",
                   "Accord_Stage__c")


def today() -> date:
    """The org's current date (UTC)."""
    return datetime.now(UTC).date()


def record_id_for(records: Records, target: SObjectDef, ref: str) -> str:
    """The id of the record ``ref`` names: its id, or the value of an External ID field."""
    if ids.is_well_formed(ref) and ref[:3] == target.key_prefix:
        return ids.to_18(ref)
    for field in target.fields:
        if field.external_id:
            found = records.store.find_unique(target.name, field.name, ref)
            if found is not None:
                return found
    raise not_found()


def acting_user(records: Records, record: Mapping[str, Any], user_id: str | None) -> str:
    """The rep who makes the change: ``user_id``, else the record's owner; an active User."""
    chosen = user_id or str(record.get("OwnerId") or "")
    stored = records.store.get(chosen) if ids.is_well_formed(chosen) else None
    if stored is None or stored.sobject != "User":
        raise ApiError(400, "INVALID_CROSS_REFERENCE_KEY", f"no User with id {chosen}",
                       ["user_id"])
    if not stored.data.get("IsActive", True):
        raise ApiError(400, "INACTIVE_OWNER_OR_USER", f"User {chosen} is inactive", ["user_id"])
    return ids.to_18(chosen)


def edit_as(records: Records, target: SObjectDef, ref: str, user_id: str | None,
            fields: Mapping[str, Any]) -> dict[str, Any]:
    """Save ``fields`` on the record ``ref`` as ``user_id`` (default its owner)."""
    record_id = record_id_for(records, target, ref)
    rep = acting_user(records, records.get(target, record_id), user_id)
    records.as_user(rep).update(target, record_id, fields)
    return records.get(target, record_id)


def set_lead_status(records: Records, ref: str, status: str, reason: str | None,
                    user_id: str | None) -> dict[str, Any]:
    """Set the lead's Status and its Unqualified Reason together, as a rep's "Unqualify"
    action does; a status without a reason clears a reason left from before."""
    return edit_as(records, LEAD, ref, user_id, {"Status": status, UNQUALIFIED_REASON: reason})


def win_opportunity(records: Records, ref: str, amount: float, user_id: str | None,
                    close_date: date | None) -> dict[str, Any]:
    """Move the opportunity to Closed Won with ``amount``, closing it today by default."""
    fields = {"StageName": "Closed Won", "Amount": amount,
              "CloseDate": (close_date or today()).isoformat()}
    return edit_as(records, OPPORTUNITY, ref, user_id, fields)


def convert_lead(records: Records, ref: str, user_id: str | None,
                 opportunity: Mapping[str, Any] | None) -> dict[str, Any]:
    """Convert the lead into an account, a contact and (unless ``opportunity`` is None) an
    opportunity with those extra fields; the LeadConvertResult."""
    lead_id = record_id_for(records, LEAD, ref)
    lead = records.get(LEAD, lead_id)
    if lead.get("IsConverted"):
        raise ApiError(400, "CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead", [])
    rep_records = records.as_user(acting_user(records, lead, user_id))
    owner = {"OwnerId": lead["OwnerId"]}
    with records.store.transaction():
        account_id = rep_records.insert_in_transaction(ACCOUNT, {"Name": lead["Company"],
                                                                 **owner})
        contact = {name: lead[name] for name in _CONTACT_FIELDS if lead.get(name) is not None}
        contact_id = rep_records.insert_in_transaction(
            CONTACT, {**contact, "AccountId": account_id, **owner})
        opportunity_id = None
        if opportunity is not None:
            opportunity_id = rep_records.insert_in_transaction(OPPORTUNITY, {
                "Name": f"{lead['Company']}-", "StageName": "Prospecting",
                "CloseDate": (today() + timedelta(days=30)).isoformat(),
                "AccountId": account_id, "ContactId": contact_id,
                "LeadSource": lead.get("LeadSource"),
                "Accord_Lead_Key__c": lead.get("Accord_Lead_Key__c"), **owner, **opportunity})
        rep_records.set_system_fields(LEAD, lead_id, {
            "Status": CONVERTED_STATUS, "IsConverted": True, "ConvertedAccountId": account_id,
            "ConvertedContactId": contact_id, "ConvertedOpportunityId": opportunity_id})
    return {"leadId": lead_id, "accountId": account_id, "contactId": contact_id,
            "opportunityId": opportunity_id, "success": True, "errors": []}
