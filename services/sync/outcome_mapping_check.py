"""Does the outcome mapping fit both CRMs? Pure checks at start-up, like the contact's.

The deal part is compared with ``GET /crm/v3/properties/deals``; the lead status map's
values with the contact property's options and its keys with the Lead Status picklist of
the org (a key no rep can ever pick is a typo).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from services.sync.hubspot_writer import DEAL_KEY_PROPERTY
from services.sync.outcome_mapping import HubSpotDealMapping

DEFAULT_SOURCE = "mappings/crm_outcomes.yaml"


def _by_name(properties: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    return {str(p.get("name")): p for p in properties if p.get("name")}


def _options(definition: Mapping[str, Any]) -> list[str]:
    return [str(o.get("value")) for o in definition.get("options") or ()
            if isinstance(o, Mapping)]


def check_deal_mapping(mapping: HubSpotDealMapping, properties: Iterable[Mapping[str, Any]],
                       source: str = DEFAULT_SOURCE) -> list[str]:
    """Every way the deal mapping does not fit the portal's deal ``properties``."""
    where = f"{source} hubspot.deal"
    by_name = _by_name(properties)
    problems: list[str] = []
    key = by_name.get(DEAL_KEY_PROPERTY)
    if key is None or not key.get("hasUniqueValue"):
        problems.append(f"{where}: the portal needs a deal property {DEAL_KEY_PROPERTY} with "
                        "unique values; sync upserts deals by it (the opportunity id)")
    written = [*((f"properties.{fact}", name) for fact, name in mapping.properties.items()),
               ("stage_property", mapping.stage_property),
               ("pipeline_property", mapping.pipeline_property),
               ("owner_property", mapping.owner_property)]
    for path, name in written:
        definition = by_name.get(name)
        if definition is None:
            problems.append(f"{where}.{path}: '{name}' is not a deal property of this portal")
        elif (definition.get("modificationMetadata") or {}).get("readOnlyValue") \
                or definition.get("calculated"):
            problems.append(f"{where}.{path}: '{name}' is read-only in HubSpot")
    for path, name, value in (("won_stage", mapping.stage_property, mapping.won_stage),
                              ("pipeline", mapping.pipeline_property, mapping.pipeline)):
        definition = by_name.get(name)
        if definition is not None and value not in _options(definition):
            problems.append(f"{where}.{path}: '{value}' is not an option of {name} "
                            f"(allowed: {', '.join(_options(definition))})")
    return problems


def check_status_map_keys(by_salesforce_status: Mapping[str, str],
                          salesforce_statuses: Iterable[str],
                          source: str = DEFAULT_SOURCE) -> list[str]:
    """Every key of the lead status map that is not an active Lead Status of the org."""
    where = f"{source} hubspot.contact.lead_status_by_salesforce_status"
    statuses = list(salesforce_statuses)
    return [f"{where}.{status}: '{status}' is not an active Lead Status in Salesforce "
            f"(allowed: {', '.join(statuses)})"
            for status in by_salesforce_status if status not in statuses]


def check_status_map_values(by_salesforce_status: Mapping[str, str], property_name: str,
                            contact_properties: Iterable[Mapping[str, Any]],
                            source: str = DEFAULT_SOURCE) -> list[str]:
    """Every value of the lead status map that is not an option of the contact's
    ``property_name`` (hs_lead_status)."""
    where = f"{source} hubspot.contact.lead_status_by_salesforce_status"
    definition = _by_name(contact_properties).get(property_name)
    if definition is None:
        return [f"{where}: '{property_name}' is not a contact property of this portal"]
    allowed = _options(definition)
    return [f"{where}.{status}: '{value}' is not an option of {property_name} "
            f"(allowed: {', '.join(allowed)})"
            for status, value in by_salesforce_status.items() if value not in allowed]


def check_status_reason_property(property_name: str | None, reason_field: str | None,
                                 salesforce_reasons: Iterable[str],
                                 contact_properties: Iterable[Mapping[str, Any]],
                                 source: str = DEFAULT_SOURCE) -> list[str]:
    """Every way the contact property for a rep's reason cannot hold the reasons a rep can
    pick in Salesforce (``salesforce_reasons``, the active values of ``reason_field``)."""
    if property_name is None:
        return []
    where = f"{source} hubspot.contact.status_reason_property"
    if reason_field is None:
        return [f"{where}: '{property_name}' would show the reason a rep gave, but the field "
                "mapping (crm.yaml) names no salesforce.lead.status_reason_field to read it from"]
    definition = _by_name(contact_properties).get(property_name)
    if definition is None:
        return [f"{where}: '{property_name}' is not a contact property of this portal; create "
                f"it as a dropdown whose options are the values of {reason_field}, or as text"]
    if (definition.get("modificationMetadata") or {}).get("readOnlyValue"):
        return [f"{where}: '{property_name}' is read-only in HubSpot"]
    kind = definition.get("type")
    if kind == "string":
        return []  # text holds any reason
    if kind != "enumeration":
        return [f"{where}: '{property_name}' is a {kind} property; a reason needs a dropdown "
                "(enumeration) or text (string) property"]
    options = _options(definition)
    return [f"{where}: '{reason}' is a value of Salesforce's {reason_field} but not an option "
            f"of {property_name} (options: {', '.join(options)}); add it in HubSpot"
            for reason in salesforce_reasons if reason not in options]
