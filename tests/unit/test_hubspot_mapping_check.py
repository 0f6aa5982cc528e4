"""The start-up check of the HubSpot contact mapping against the portal's properties."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from services.mapping.crm_mapping import HubSpotContactMapping, load_mapping
from services.sync.hubspot_mapping_check import (
    HubSpotMappingMismatchError,
    check_hubspot_contact_mapping,
)

LEAD_STATUSES = ["NEW", "OPEN", "IN_PROGRESS", "OPEN_DEAL", "UNQUALIFIED",
                 "ATTEMPTED_TO_CONTACT", "CONNECTED", "BAD_TIMING"]
LIFECYCLE = ["subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead",
             "opportunity", "customer", "evangelist", "other"]
REPO_MAPPING = Path(__file__).resolve().parents[2] / "mappings" / "crm.yaml"
RANGES = ["1-5", "5-25", "25-50", "50-100", "100-500", "500-1000", "1000+"]


def prop(name: str, kind: str = "string", options: list[str] | None = None,
         read_only: bool = False, unique: bool = False, **extra: Any) -> dict[str, Any]:
    """A property as ``GET /crm/v3/properties/contacts`` lists it (the fields checked)."""
    return {"name": name, "type": kind, "hasUniqueValue": unique,
            "options": [{"label": o, "value": o, "hidden": False} for o in options or []],
            "modificationMetadata": {"readOnlyValue": read_only}, **extra}


def portal(*, without: tuple[str, ...] = (), **replaced: dict[str, Any]) -> list[dict[str, Any]]:
    properties = {p["name"]: p for p in [
        prop("email"), prop("firstname"), prop("lastname"), prop("company"), prop("jobtitle"),
        prop("phone"), prop("country"), prop("industry"),
        prop("numemployees", "enumeration", RANGES),
        prop("accord_score", "number"),
        prop("lifecyclestage", "enumeration", LIFECYCLE),
        prop("hs_lead_status", "enumeration", LEAD_STATUSES),
        prop("hubspot_owner_id", "enumeration", externalOptions=True),
        prop("hs_object_id", "number", read_only=True),
        prop("createdate", "datetime", read_only=True),
    ]}
    properties.update(replaced)
    return [p for name, p in properties.items() if name not in without]


@pytest.fixture
def mapping() -> HubSpotContactMapping:
    return load_mapping(REPO_MAPPING).hubspot.contact


def changed(mapping: HubSpotContactMapping, **changes: Any) -> HubSpotContactMapping:
    return mapping.model_copy(update=changes)


def test_given_the_shipped_mapping_and_a_standard_portal_when_checked_then_no_problems(
        mapping: HubSpotContactMapping) -> None:
    assert check_hubspot_contact_mapping(mapping, portal()) == []


def test_given_a_lead_status_that_is_not_an_option_when_checked_then_path_value_and_options(
        mapping: HubSpotContactMapping) -> None:
    statuses = portal(hs_lead_status=prop("hs_lead_status", "enumeration", ["NEW", "OPEN"]))

    problems = check_hubspot_contact_mapping(mapping, statuses)

    assert "mappings/crm.yaml hubspot.contact.lead_status_by_stage.sql: 'IN_PROGRESS' is not "\
           "an option of hs_lead_status (allowed: NEW, OPEN)" in problems
    assert len(problems) == 4  # sql, opportunity, customer and disqualified
    assert all("lead_status_by_stage." in p for p in problems)


def test_given_a_mapped_property_the_portal_lacks_when_checked_then_named_with_its_path(
        mapping: HubSpotContactMapping) -> None:
    problems = check_hubspot_contact_mapping(mapping, portal(without=("jobtitle",)))

    assert problems == ["mappings/crm.yaml hubspot.contact.properties.title: 'jobtitle' is not "
                        "a contact property of this portal"]


def test_given_a_band_value_that_is_not_an_option_when_checked_then_band_is_named(
        mapping: HubSpotContactMapping) -> None:
    ranges = prop("numemployees", "enumeration", [r for r in RANGES if r != "1000+"])

    problems = check_hubspot_contact_mapping(mapping, portal(numemployees=ranges))

    assert problems == ["mappings/crm.yaml hubspot.contact.banded.employees.bands[6]: '1000+' "
                        "is not an option of numemployees (allowed: 1-5, 5-25, 25-50, 50-100, "
                        "100-500, 500-1000)"]


@pytest.mark.parametrize("field", ["score_property", "lifecycle_property",
                                   "lead_status_property", "id_property"])
def test_given_a_single_property_field_naming_nothing_when_checked_then_that_field_is_named(
        mapping: HubSpotContactMapping, field: str) -> None:
    problems = check_hubspot_contact_mapping(changed(mapping, **{field: "nope"}), portal())

    assert f"mappings/crm.yaml hubspot.contact.{field}: 'nope' is not a contact property " \
           "of this portal" in problems


def test_given_a_lifecycle_value_that_is_not_an_option_when_checked_then_reported(
        mapping: HubSpotContactMapping) -> None:
    table = {**mapping.lifecycle_by_stage, "sql": "sales_qualified"}

    problems = check_hubspot_contact_mapping(changed(mapping, lifecycle_by_stage=table),
                                             portal())

    assert problems == [f"mappings/crm.yaml hubspot.contact.lifecycle_by_stage.sql: "
                        f"'sales_qualified' is not an option of lifecyclestage "
                        f"(allowed: {', '.join(LIFECYCLE)})"]


def test_given_a_text_lead_status_property_when_checked_then_any_value_is_accepted(
        mapping: HubSpotContactMapping) -> None:
    assert check_hubspot_contact_mapping(
        mapping, portal(hs_lead_status=prop("hs_lead_status", "string"))) == []


def test_given_an_id_property_without_unique_values_when_checked_then_refused(
        mapping: HubSpotContactMapping) -> None:
    problems = check_hubspot_contact_mapping(changed(mapping, id_property="company"), portal())

    assert problems == ["mappings/crm.yaml hubspot.contact.id_property: 'company' does not have "
                        "unique values, so HubSpot cannot upsert by it (use email or a unique "
                        "property)"]


def test_given_a_unique_custom_id_property_when_checked_then_accepted(
        mapping: HubSpotContactMapping) -> None:
    properties = [*portal(), prop("accord_lead_key", unique=True)]

    assert check_hubspot_contact_mapping(changed(mapping, id_property="accord_lead_key"),
                                         properties) == []


def test_given_a_read_only_property_mapped_when_checked_then_refused(
        mapping: HubSpotContactMapping) -> None:
    problems = check_hubspot_contact_mapping(
        changed(mapping, properties={**mapping.properties, "created": "createdate"}), portal())

    assert problems == ["mappings/crm.yaml hubspot.contact.properties.created: 'createdate' is "
                        "read-only in HubSpot; sync cannot write it"]


def test_given_a_dropdown_score_property_when_checked_then_refused(
        mapping: HubSpotContactMapping) -> None:
    score = prop("accord_score", "enumeration", ["low", "high"])

    problems = check_hubspot_contact_mapping(mapping, portal(accord_score=score))

    assert problems == ["mappings/crm.yaml hubspot.contact.score_property: 'accord_score' is "
                        "of type enumeration; a score needs a number property"]


def test_given_another_mapping_file_when_checked_then_messages_name_it(
        mapping: HubSpotContactMapping) -> None:
    problems = check_hubspot_contact_mapping(mapping, portal(without=("phone",)),
                                             source="/etc/accord/crm.yaml")

    assert problems == ["/etc/accord/crm.yaml hubspot.contact.properties.phone: 'phone' is not "
                        "a contact property of this portal"]


def test_given_several_problems_when_raised_then_the_error_lists_every_one() -> None:
    error = HubSpotMappingMismatchError(["first problem", "second problem"])

    assert error.problems == ("first problem", "second problem")
    assert str(error) == ("the HubSpot contact mapping does not fit the portal:\n"
                          "  first problem\n  second problem")
