"""From a decision to the fields each CRM gets: pure functions over the mapping file."""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ConfigDict, model_validator

from services.contracts.events import LeadRouted, Stage


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


class CrmMapping(_Frozen):
    """The whole mapping file."""

    version: int
    salesforce: SalesforceMapping
    hubspot: HubSpotMapping

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
        return self


def load_mapping(path: Path) -> CrmMapping:
    """Read and validate the mapping file."""
    return CrmMapping.model_validate(yaml.safe_load(path.read_text()))


def salesforce_lead(decision: LeadRouted, mapping: SalesforceLeadMapping,
                    owner_id: str) -> dict[str, Any]:
    """The Lead fields to upsert for a decision (the external id goes in the URL)."""
    known = decision.lead.model_dump(exclude_none=True)
    fields: dict[str, Any] = {sf: known[ours] for ours, sf in mapping.fields.items()
                              if ours in known}
    for name, default in mapping.required_defaults.items():
        fields.setdefault(name, default)
    fields[mapping.score_field] = decision.score
    fields[mapping.stage_field] = decision.stage
    fields[mapping.status_field] = mapping.status_by_stage[decision.stage]
    fields["OwnerId"] = owner_id
    return fields


def hubspot_contact(decision: LeadRouted, mapping: HubSpotContactMapping,
                    owner_id: str) -> dict[str, str]:
    """The contact properties to upsert for a decision; HubSpot takes strings."""
    known = decision.lead.model_dump(exclude_none=True)
    props = {hs: str(known[ours]) for ours, hs in mapping.properties.items() if ours in known}
    for ours, banded in mapping.banded.items():
        if ours in known:
            props[banded.property] = banded.option_for(int(known[ours]))
    props[mapping.score_property] = str(decision.score)
    props[mapping.lifecycle_property] = mapping.lifecycle_by_stage[decision.stage]
    props[mapping.lead_status_property] = mapping.lead_status_by_stage[decision.stage]
    props["hubspot_owner_id"] = owner_id
    return props
