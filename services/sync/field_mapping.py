"""From a decision to the fields each CRM gets: pure functions over the mapping file.

``only`` names the golden fields a CRM gets this time (see :mod:`services.sync.sync_rules`);
``None`` means all of them. Accord's own outputs (score, stage, status, owner) are always
part of the record; the no-op diff (:mod:`services.sync.known_values`) drops what the CRM
already holds. The ``*_held`` functions say what a CRM holds according to the decision itself:
the values that came from it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from services.contracts.events import LeadRouted
from services.mapping.crm_mapping import HubSpotContactMapping, SalesforceLeadMapping
from services.sync.sync_rules import fields_held_by


def _values(decision: LeadRouted, only: Collection[str] | None) -> dict[str, Any]:
    """The lead's known values (a value of None is unknown: never written, never cleared)."""
    known = decision.lead.model_dump(exclude_none=True)
    return known if only is None else {k: v for k, v in known.items() if k in only}


def salesforce_lead(decision: LeadRouted, mapping: SalesforceLeadMapping, owner_id: str,
                    only: Collection[str] | None = None, *,
                    creating: bool = True) -> dict[str, Any]:
    """The Lead fields to upsert for a decision (the external id goes in the URL).

    Required fields the lead has no value for get their defaults only when ``creating``: on
    an update they would overwrite what Salesforce holds. The Status is Accord's by stage
    unless a rep set one (``salesforce_status``): then sales owns it and it is not written.
    """
    known = _values(decision, only)
    fields: dict[str, Any] = {sf: known[ours] for ours, sf in mapping.fields.items()
                              if ours in known}
    if creating:
        unknown = {mapping.fields[ours].lower() for ours, value in dict(decision.lead).items()
                   if value is None and ours in mapping.fields}
        for name, default in mapping.required_defaults.items():
            if name.lower() in unknown:
                fields.setdefault(name, default)
    fields[mapping.score_field] = decision.score
    fields[mapping.stage_field] = decision.stage
    if decision.salesforce_status is None:
        fields[mapping.status_field] = mapping.status_by_stage[decision.stage]
    fields["OwnerId"] = owner_id
    return fields


def salesforce_held(decision: LeadRouted, mapping: SalesforceLeadMapping) -> dict[str, Any]:
    """The Lead fields Salesforce holds per the decision: values that came from Salesforce,
    and the Status a rep set."""
    held = _values(decision, fields_held_by("salesforce", decision.field_sources))
    values: dict[str, Any] = {sf: held[ours] for ours, sf in mapping.fields.items()
                              if ours in held}
    if decision.salesforce_status is not None:
        values[mapping.status_field] = decision.salesforce_status
    return values


def _properties(known: Mapping[str, Any], mapping: HubSpotContactMapping) -> dict[str, str]:
    props = {hs: str(known[ours]) for ours, hs in mapping.properties.items() if ours in known}
    for ours, banded in mapping.banded.items():
        if ours in known:
            props[banded.property] = banded.option_for(int(known[ours]))
    return props


def hubspot_lead_status(decision: LeadRouted, mapping: HubSpotContactMapping,
                        by_salesforce_status: Mapping[str, str]) -> str:
    """The contact's lead status: the rep's Salesforce status mapped, when the decision has
    one the map knows; otherwise the status of the decision's stage."""
    status = decision.salesforce_status
    if status is not None and status in by_salesforce_status:
        return by_salesforce_status[status]
    return mapping.lead_status_by_stage[decision.stage]


def hubspot_contact(decision: LeadRouted, mapping: HubSpotContactMapping, owner_id: str,
                    only: Collection[str] | None = None,
                    by_salesforce_status: Mapping[str, str] | None = None,
                    reason_property: str | None = None) -> dict[str, str]:
    """The contact properties to upsert for a decision; HubSpot takes strings. The lifecycle
    stage follows the decision's stage; the lead status follows a rep's Salesforce status
    when there is one (``by_salesforce_status``), else the stage; ``reason_property`` shows
    the reason the rep gave with that status."""
    props = _properties(_values(decision, only), mapping)
    props[mapping.score_property] = str(decision.score)
    props[mapping.lifecycle_property] = mapping.lifecycle_by_stage[decision.stage]
    props[mapping.lead_status_property] = hubspot_lead_status(
        decision, mapping, by_salesforce_status or {})
    if reason_property is not None and decision.salesforce_status is not None:
        # A rep's status without a reason clears the reason an earlier status had ("" clears
        # a HubSpot property); with no rep's status there is nothing to say either way.
        props[reason_property] = decision.salesforce_status_reason or ""
    props["hubspot_owner_id"] = owner_id
    return props


def hubspot_held(decision: LeadRouted, mapping: HubSpotContactMapping) -> dict[str, str]:
    """The contact properties HubSpot holds per the decision: values that came from it."""
    return _properties(_values(decision, fields_held_by("hubspot", decision.field_sources)),
                       mapping)
