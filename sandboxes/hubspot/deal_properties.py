"""The deal property registry: HubSpot's default sales pipeline and the deal properties."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from sandboxes.hubspot.properties import PropertyDef

DEAL_OBJECT_TYPES = frozenset({"deals", "deal", "0-3"})
DEAL_OBJECT_TYPE_ID = "0-3"
DEFAULT_PIPELINE = "default"
# The stages of the "Sales Pipeline" every portal starts with: (label, internal value).
DEAL_STAGES = (
    ("Appointment Scheduled", "appointmentscheduled"),
    ("Qualified To Buy", "qualifiedtobuy"),
    ("Presentation Scheduled", "presentationscheduled"),
    ("Decision Maker Bought-In", "decisionmakerboughtin"),
    ("Contract Sent", "contractsent"),
    ("Closed Won", "closedwon"),
    ("Closed Lost", "closedlost"),
)
PIPELINES = (("Sales Pipeline", DEFAULT_PIPELINE),)
# What HubSpot returns for a deal when a request names no properties.
DEFAULT_DEAL_PROPERTIES = ("amount", "closedate", "createdate", "dealname", "dealstage",
                           "hs_lastmodifieddate", "hs_object_id", "pipeline")
DEAL_SYSTEM_PROPERTIES = ("createdate", "hs_lastmodifieddate", "hs_object_id")
# Accord's own key for a deal: a custom property marked unique, so upserts can use it.
DEAL_KEY = "accord_deal_key"


_deal = partial(PropertyDef, group_name="dealinformation")


DEAL_PROPERTIES: tuple[PropertyDef, ...] = (
    _deal("dealname", "Deal Name", "string", "text",
          description="The name given to this deal."),
    _deal("amount", "Amount", "number", "number",
          description="The total amount of the deal."),
    _deal("dealstage", "Deal Stage", "enumeration", "radio", options=DEAL_STAGES,
          description="The stage of the deal in its pipeline."),
    _deal("pipeline", "Pipeline", "enumeration", "select", options=PIPELINES,
          description="The pipeline the deal is in."),
    _deal("closedate", "Close Date", "datetime", "date",
          description="Date the deal was closed, or is expected to close."),
    _deal("hubspot_owner_id", "Deal owner", "enumeration", "select",
          referenced_object_type="OWNER", description="The owner of a deal."),
    PropertyDef(DEAL_KEY, "Accord Deal Key", "string", "text", group_name="accord",
                hubspot_defined=False, unique=True,
                description="Accord's key for the deal; unique, so it can identify the deal."),
    _deal("createdate", "Create Date", "datetime", "date", read_only=True),
    _deal("hs_lastmodifieddate", "Last Modified Date", "datetime", "date", read_only=True),
    _deal("hs_object_id", "Record ID", "number", "number", read_only=True),
)
DEAL_PROPERTY_MAP: Mapping[str, PropertyDef] = {p.name: p for p in DEAL_PROPERTIES}
