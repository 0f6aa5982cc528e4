"""From an ``opportunity.won`` to the HubSpot deal sync upserts: pure.

The deal is keyed by the Salesforce opportunity id (``accord_deal_key``), so a win reported
twice is one deal, and it is associated with the contact of the lead's email.
"""

from __future__ import annotations

from typing import Any

from services.contracts.events import OpportunityWon
from services.sync.hubspot_batches import as_text
from services.sync.hubspot_writer import DealToWrite
from services.sync.outcome_mapping import HubSpotDealMapping


def _facts(won: OpportunityWon) -> dict[str, Any]:
    facts = won.model_dump(include={"amount", "close_date", "first_campaign", "first_channel",
                                    "lead_revenue", "opportunity_id", "salesforce_owner_id"})
    # HubSpot shows a deal by its name; an opportunity without one is named by its id.
    facts["name"] = won.name or f"Opportunity {won.opportunity_id}"
    return facts


def deal_properties(won: OpportunityWon, mapping: HubSpotDealMapping,
                    owner_id: str | None = None) -> dict[str, str]:
    """The deal's properties as HubSpot takes them (text; a date as epoch milliseconds):
    the mapped facts the win has, in the won stage of the mapped pipeline, owned by
    ``owner_id`` (the HubSpot owner of the rep who worked the lead) when there is one."""
    facts = _facts(won)
    props = {prop: as_text(facts[fact]) for fact, prop in mapping.properties.items()
             if facts.get(fact) is not None}
    props[mapping.pipeline_property] = mapping.pipeline
    props[mapping.stage_property] = mapping.won_stage
    if owner_id is not None:
        props[mapping.owner_property] = owner_id
    return props


def deal_to_write(won: OpportunityWon, properties: dict[str, str]) -> DealToWrite:
    """The deal keyed by the opportunity id, associated with the lead's contact."""
    return DealToWrite(key=won.opportunity_id, properties=properties,
                       contact_email=str(won.lead.email))
