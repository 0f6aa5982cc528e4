"""How sales outcomes reach HubSpot: a won opportunity as a deal, a rep's Salesforce Lead
Status as the contact's lead status. Pure models; no I/O but :func:`load_outcome_mapping`.

A file of its own (``mappings/crm_outcomes.yaml``) beside the field mapping
(``mappings/crm.yaml``, shared with the router): the router never reads these, and sales
operations change them on another rhythm (a new pipeline, a new Lead Status) than the fields.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, model_validator

# The scalar facts of an ``opportunity.won`` a deal property can hold.
OpportunityField = Literal["name", "amount", "close_date", "first_campaign", "first_channel",
                           "lead_revenue", "opportunity_id", "salesforce_owner_id"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HubSpotDealMapping(_Frozen):
    """A won opportunity as a HubSpot deal: which deal property holds which fact, and the
    pipeline and stage a won deal goes to."""

    properties: dict[OpportunityField, str]
    stage_property: str = "dealstage"
    won_stage: str = "closedwon"
    pipeline_property: str = "pipeline"
    pipeline: str = "default"
    # The deal's owner: the HubSpot owner with the email of the rep who worked the lead.
    owner_property: str = "hubspot_owner_id"

    @model_validator(mode="after")
    def _a_deal_has_a_name_and_an_amount(self) -> HubSpotDealMapping:
        missing = [name for name in ("name", "amount") if name not in self.properties]
        if missing:
            raise ValueError(f"hubspot.deal.properties must map {', '.join(missing)}: HubSpot "
                             "shows a deal by its name, and revenue is its amount")
        return self


class HubSpotContactOutcomes(_Frozen):
    """The contact's lead status for each Salesforce Lead Status a rep can set (it wins over
    the status by stage when a decision carries a rep's status), and the property that shows
    the reason the rep gave with it."""

    lead_status_by_salesforce_status: dict[str, str]
    # Holds the rep's reason (Salesforce's ``status_reason_field`` in crm.yaml), cleared when
    # the rep's status comes without one. None: the reason is not shown in HubSpot.
    status_reason_property: str | None = None


class HubSpotOutcomes(_Frozen):
    """The HubSpot part of the outcome mapping."""

    deal: HubSpotDealMapping
    contact: HubSpotContactOutcomes


class OutcomeMapping(_Frozen):
    """The whole outcome mapping file."""

    version: int
    hubspot: HubSpotOutcomes


OPPORTUNITY_FIELDS: tuple[str, ...] = get_args(OpportunityField)


def load_outcome_mapping(path: Path) -> OutcomeMapping:
    """Read and validate the outcome mapping file."""
    return OutcomeMapping.model_validate(yaml.safe_load(path.read_text()))
