"""The HubSpot sandbox's contact property registry and value validation."""

from __future__ import annotations

import pytest

from sandboxes.hubspot.owners import Owner
from sandboxes.hubspot.properties import (
    CONTACT_PROPERTIES,
    CONTACT_PROPERTY_MAP,
    normalise_values,
    to_wire,
    validate_values,
)

OWNERS = (Owner("41000001", "maria@accord.example", "Maria", "Garcia", 75000001),)


def codes(values: dict[str, str]) -> list[tuple[str, str]]:
    return [(p.name, p.error) for p in validate_values(values, OWNERS)]


def test_given_known_values_when_validated_then_no_problems():
    assert codes({"email": "ann@example.com", "lifecyclestage": "lead",
                  "hs_lead_status": "IN_PROGRESS", "accord_score": "12.5",
                  "hubspot_owner_id": "41000001", "numemployees": "25-50", "company": ""}) == []


@pytest.mark.parametrize(("values", "expected"), [
    ({"foo": "1"}, [("foo", "PROPERTY_DOESNT_EXIST")]),
    ({"lifecyclestage": "Lead"}, [("lifecyclestage", "INVALID_OPTION")]),
    ({"hs_lead_status": "new"}, [("hs_lead_status", "INVALID_OPTION")]),
    ({"numemployees": "120"}, [("numemployees", "INVALID_OPTION")]),
    ({"hubspot_owner_id": "42"}, [("hubspot_owner_id", "INVALID_OWNER_ID")]),
    ({"accord_score": "high"}, [("accord_score", "INVALID_LONG")]),
    ({"email": "not-an-email"}, [("email", "INVALID_EMAIL")]),
    ({"hs_object_id": "5"}, [("hs_object_id", "READ_ONLY_VALUE")]),
    ({"createdate": "2024-01-01"}, [("createdate", "READ_ONLY_VALUE")]),
])
def test_given_bad_value_when_validated_then_problem_names_property(values, expected):
    assert codes(values) == expected


def test_given_enum_problem_when_reported_then_message_lists_allowed_options():
    [problem] = validate_values({"lifecyclestage": "mql"}, OWNERS)

    assert problem.message.startswith("mql was not one of the allowed options: [subscriber,")


def test_given_values_when_normalised_then_email_lower_case_and_trimmed():
    assert normalise_values({"email": " Ann@Example.COM ", "firstname": " Ann "}) == {
        "email": "ann@example.com", "firstname": "Ann"}


def test_given_registry_when_rendered_then_every_property_has_required_fields():
    for definition in CONTACT_PROPERTIES:
        wire = to_wire(definition, OWNERS)
        for key in ("name", "label", "type", "fieldType", "groupName", "description", "options"):
            assert wire[key] is not None, (definition.name, key)


def test_given_owner_property_when_rendered_then_options_are_the_owners():
    wire = to_wire(CONTACT_PROPERTY_MAP["hubspot_owner_id"], OWNERS)

    assert wire["options"] == [
        {"label": "Maria Garcia", "value": "41000001", "displayOrder": 0, "hidden": False}]
    assert wire["referencedObjectType"] == "OWNER"
