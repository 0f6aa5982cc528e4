"""From a decision to the fields each CRM gets: pure functions over the mapping file."""

from __future__ import annotations

from typing import Any

from services.contracts.events import LeadRouted
from services.mapping.crm_mapping import HubSpotContactMapping, SalesforceLeadMapping


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
