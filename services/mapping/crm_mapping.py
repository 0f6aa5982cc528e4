"""The CRM mapping file (``mappings/crm.yaml``): how golden-record fields map onto each CRM,
and which side wins when the CRMs disagree about a field.

Read by sync (what to write where) and by the router (a CRM change to a mapped field is a
change of the golden field, merged by that field's sync rule). Pure models; no I/O but
:func:`load_mapping`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, model_validator

from services.contracts.events import Stage

# HubSpot's sync rules for its Salesforce integration, per field:
#   prefer_salesforce_unless_blank  Salesforce's value wins; another source's only while
#                                   Salesforce has none (the default HubSpot ships with);
#   always_salesforce               Salesforce's value wins, even blank; no other source
#                                   changes the field once Salesforce has spoken;
#   two_way                         the most recent change wins, whichever side made it;
#   dont_sync                       the CRMs keep their own values: Accord writes the field
#                                   when it creates a record, never afterwards.
SyncRule = Literal["prefer_salesforce_unless_blank", "always_salesforce", "two_way", "dont_sync"]
SYNC_RULES: tuple[str, ...] = get_args(SyncRule)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SalesforceLeadMapping(_Frozen):
    """Golden-record fields to Salesforce Lead fields."""

    external_id_field: str
    fields: dict[str, str]
    score_field: str
    stage_field: str
    status_field: str
    status_by_stage: dict[str, str]
    required_defaults: dict[str, str] = {}
    # The picklist where a rep gives the reason for an Unqualified status. Read, never
    # written: the router keeps it with the status, and sync shows it in HubSpot.
    status_reason_field: str | None = None


class Band(_Frozen):
    """Numbers up to ``up_to`` (inclusive) map to ``value``; no ``up_to`` catches the rest."""

    up_to: int | None = None
    value: str


class BandedProperty(_Frozen):
    """A number written to a dropdown property of ranges."""

    property: str
    bands: list[Band]

    def option_for(self, number: int) -> str:
        """The option whose range holds ``number``."""
        for band in self.bands:
            if band.up_to is None or number <= band.up_to:
                return band.value
        raise ValueError(f"no band of {self.property} holds {number}; end with a catch-all")


class HubSpotContactMapping(_Frozen):
    """Golden-record fields to HubSpot contact properties."""

    id_property: str
    properties: dict[str, str]
    banded: dict[str, BandedProperty] = {}
    score_property: str
    lifecycle_property: str
    lifecycle_by_stage: dict[str, str]
    lead_status_property: str
    lead_status_by_stage: dict[str, str]


class SalesforceMapping(_Frozen):
    """The Salesforce part of the mapping file."""

    lead: SalesforceLeadMapping


class HubSpotMapping(_Frozen):
    """The HubSpot part of the mapping file."""

    contact: HubSpotContactMapping


class FieldRules(_Frozen):
    """Per golden-record field, its sync rule; ``default`` for the fields not named."""

    default: SyncRule = "two_way"
    fields: dict[str, SyncRule] = {}

    def rule_for(self, field: str) -> SyncRule:
        """The sync rule of ``field``."""
        return self.fields.get(field, self.default)


class CrmMapping(_Frozen):
    """The whole mapping file."""

    version: int
    salesforce: SalesforceMapping
    hubspot: HubSpotMapping
    field_rules: FieldRules = FieldRules()

    def golden_field(self, crm: Literal["salesforce", "hubspot"], crm_field: str) -> str | None:
        """The golden-record field a Salesforce Lead field or HubSpot contact property holds
        (case-insensitive, as both CRMs treat names); None when it is not mapped. A banded
        property (a range like "1000+") maps to no field: it cannot give back the number."""
        table = self.salesforce.lead.fields if crm == "salesforce" \
            else self.hubspot.contact.properties
        wanted = crm_field.lower()
        return next((ours for ours, theirs in table.items() if theirs.lower() == wanted), None)

    @model_validator(mode="after")
    def _every_stage_is_mapped(self) -> CrmMapping:
        tables = {
            "salesforce.lead.status_by_stage": self.salesforce.lead.status_by_stage,
            "hubspot.contact.lifecycle_by_stage": self.hubspot.contact.lifecycle_by_stage,
            "hubspot.contact.lead_status_by_stage": self.hubspot.contact.lead_status_by_stage,
        }
        for name, table in tables.items():
            missing = [stage for stage in get_args(Stage) if stage not in table]
            if missing:
                raise ValueError(f"{name} has no value for stage(s): {', '.join(missing)}")
        known = set(self.salesforce.lead.fields) | set(self.hubspot.contact.properties) \
            | set(self.hubspot.contact.banded)
        unknown = sorted(set(self.field_rules.fields) - known)
        if unknown:
            raise ValueError(f"field_rules names field(s) no CRM maps: {', '.join(unknown)}; "
                             f"rule only fields listed under salesforce.lead.fields or "
                             f"hubspot.contact.properties")
        return self


def load_mapping(path: Path) -> CrmMapping:
    """Read and validate the mapping file."""
    return CrmMapping.model_validate(yaml.safe_load(path.read_text()))


