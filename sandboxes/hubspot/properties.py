"""The contact property registry: definitions, value validation and the properties API shape."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sandboxes.hubspot.errors import PropertyProblem
from sandboxes.hubspot.owners import SEEDED_AT, Owner

PropertyType = Literal["string", "number", "enumeration", "datetime"]

CONTACT_OBJECT_TYPES = frozenset({"contacts", "contact", "0-1"})
# What HubSpot returns for a contact when a request names no properties.
DEFAULT_PROPERTIES = ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate",
                      "lastname")
# Always present on a returned object, requested or not.
SYSTEM_PROPERTIES = ("createdate", "lastmodifieddate", "hs_object_id")

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


@dataclass(frozen=True)
class PropertyDef:
    """One contact property as the properties API describes it."""

    name: str
    label: str
    type: PropertyType
    field_type: str
    group_name: str = "contactinformation"
    options: tuple[tuple[str, str], ...] = ()
    read_only: bool = False
    hubspot_defined: bool = True
    description: str = ""
    referenced_object_type: str | None = None
    # A unique property identifies a record: it can be an ``idProperty``, and no two records
    # may hold the same value.
    unique: bool = False


def _options(*pairs: tuple[str, str]) -> tuple[tuple[str, str], ...]:
    return pairs


LIFECYCLE_STAGES = _options(
    ("Subscriber", "subscriber"), ("Lead", "lead"),
    ("Marketing Qualified Lead", "marketingqualifiedlead"),
    ("Sales Qualified Lead", "salesqualifiedlead"), ("Opportunity", "opportunity"),
    ("Customer", "customer"), ("Evangelist", "evangelist"), ("Other", "other"),
)
LEAD_STATUSES = _options(
    ("New", "NEW"), ("Open", "OPEN"), ("In Progress", "IN_PROGRESS"), ("Open Deal", "OPEN_DEAL"),
    ("Unqualified", "UNQUALIFIED"), ("Attempted to Contact", "ATTEMPTED_TO_CONTACT"),
    ("Connected", "CONNECTED"), ("Bad Timing", "BAD_TIMING"),
)
# The options of the portal's own "Unqualified Reason" dropdown, labelled as in Salesforce so
# the reason a rep picked there is a valid value here.
UNQUALIFIED_REASONS = tuple((reason, reason) for reason in (
    "No Budget", "No Authority", "No Need", "Not Interested", "Went with a Competitor", "Other"))
# A real portal's contact "numemployees" is a dropdown of ranges, not a number.
EMPLOYEE_RANGES = tuple((value, value) for value in (
    "1-5", "5-25", "25-50", "50-100", "100-500", "500-1000", "1000+"))

CONTACT_PROPERTIES: tuple[PropertyDef, ...] = (
    PropertyDef("email", "Email", "string", "text"),
    PropertyDef("firstname", "First Name", "string", "text"),
    PropertyDef("lastname", "Last Name", "string", "text"),
    PropertyDef("company", "Company Name", "string", "text"),
    PropertyDef("phone", "Phone Number", "string", "phonenumber"),
    PropertyDef("jobtitle", "Job Title", "string", "text"),
    PropertyDef("country", "Country/Region", "string", "text"),
    PropertyDef("industry", "Industry", "string", "text"),
    PropertyDef("numemployees", "Number of Employees", "enumeration", "select",
                options=EMPLOYEE_RANGES),
    PropertyDef("website", "Website URL", "string", "text"),
    PropertyDef("hubspot_owner_id", "Contact owner", "enumeration", "select",
                group_name="sales_properties", referenced_object_type="OWNER",
                description="The owner of a contact, one of the portal's owners."),
    PropertyDef("lifecyclestage", "Lifecycle Stage", "enumeration", "radio",
                options=LIFECYCLE_STAGES),
    PropertyDef("hs_lead_status", "Lead Status", "enumeration", "radio",
                group_name="sales_properties", options=LEAD_STATUSES),
    PropertyDef("accord_score", "Accord Score", "number", "number", group_name="accord",
                hubspot_defined=False, description="Lead score computed by Accord's router."),
    PropertyDef("accord_unqualified_reason", "Unqualified Reason", "enumeration", "select",
                group_name="accord", hubspot_defined=False, options=UNQUALIFIED_REASONS,
                description="Why sales unqualified the lead (Salesforce's Unqualified Reason)."),
    PropertyDef("accord_lead_key", "Accord Lead Key", "string", "text", group_name="accord",
                hubspot_defined=False, description="Accord's key for the lead (normalised email)."),
    PropertyDef("createdate", "Create Date", "datetime", "date", read_only=True),
    PropertyDef("lastmodifieddate", "Last Modified Date", "datetime", "date", read_only=True),
    PropertyDef("hs_object_id", "Record ID", "number", "number", read_only=True),
)
CONTACT_PROPERTY_MAP: Mapping[str, PropertyDef] = {p.name: p for p in CONTACT_PROPERTIES}


def property_types() -> dict[str, PropertyType]:
    """Each contact property's type, which search needs to compare values."""
    return {p.name: p.type for p in CONTACT_PROPERTIES}


def option_pairs(definition: PropertyDef, owners: Sequence[Owner]) -> tuple[tuple[str, str], ...]:
    """The (label, value) options of a property; the owner property lists the portal's owners."""
    if definition.referenced_object_type == "OWNER":
        return tuple((f"{o.first_name} {o.last_name}".strip() or o.email, o.id) for o in owners)
    return definition.options


def to_wire(definition: PropertyDef, owners: Sequence[Owner]) -> dict[str, Any]:
    """The property as ``GET /crm/v3/properties/contacts`` returns it."""
    options = [
        {"label": label, "value": value, "displayOrder": order, "hidden": False}
        for order, (label, value) in enumerate(option_pairs(definition, owners))
    ]
    wire: dict[str, Any] = {
        "name": definition.name,
        "label": definition.label,
        "type": definition.type,
        "fieldType": definition.field_type,
        "description": definition.description,
        "groupName": definition.group_name,
        "options": options,
        "displayOrder": -1,
        "calculated": False,
        "externalOptions": definition.referenced_object_type is not None,
        "hasUniqueValue": definition.unique,
        "hidden": False,
        "hubspotDefined": definition.hubspot_defined,
        "modificationMetadata": {
            "archivable": not definition.hubspot_defined,
            "readOnlyDefinition": definition.hubspot_defined,
            "readOnlyValue": definition.read_only,
        },
        "formField": not definition.read_only,
        "createdAt": SEEDED_AT,
        "updatedAt": SEEDED_AT,
        "archived": False,
    }
    if definition.referenced_object_type is not None:
        wire["referencedObjectType"] = definition.referenced_object_type
    return wire


def is_valid_email(value: str) -> bool:
    """Whether HubSpot would accept this as a contact's email address."""
    return bool(_EMAIL.match(value))


def _is_number(value: str) -> bool:
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False


def _check_value(definition: PropertyDef, value: str,
                 owners: Sequence[Owner]) -> PropertyProblem | None:
    name = definition.name
    if definition.read_only:
        return PropertyProblem(name, "READ_ONLY_VALUE",
                               f'"{name}" is a read only property; its value cannot be set.')
    # An empty string clears a property, whatever its type.
    if value == "":
        return None
    if name == "email" and not is_valid_email(value):
        return PropertyProblem(name, "INVALID_EMAIL", f"Email address {value} is invalid")
    if definition.type == "number" and not _is_number(value):
        return PropertyProblem(name, "INVALID_LONG", f"{value} was not a valid long.")
    if definition.type == "datetime" and epoch_ms(value) is None:
        return PropertyProblem(name, "INVALID_DATE",
                               f"{value} was not a valid date or datetime for {name}")
    if definition.referenced_object_type == "OWNER":
        if value not in {o.id for o in owners}:
            return PropertyProblem(name, "INVALID_OWNER_ID", f"{value} is not a valid owner id")
        return None
    if definition.type == "enumeration":
        allowed = [option_value for _, option_value in definition.options]
        if value not in allowed:
            return PropertyProblem(
                name, "INVALID_OPTION",
                f"{value} was not one of the allowed options: [{', '.join(allowed)}]")
    return None


def validate_values(values: Mapping[str, str], owners: Sequence[Owner],
                    definitions: Mapping[str, PropertyDef] = CONTACT_PROPERTY_MAP,
                    ) -> list[PropertyProblem]:
    """Every problem with these property values, in the order the names were given."""
    problems: list[PropertyProblem] = []
    for name, value in values.items():
        definition = definitions.get(name)
        if definition is None:
            problems.append(PropertyProblem(name, "PROPERTY_DOESNT_EXIST",
                                            f'Property "{name}" does not exist'))
            continue
        problem = _check_value(definition, value, owners)
        if problem is not None:
            problems.append(problem)
    return problems


def normalise_values(values: Mapping[str, str],
                     definitions: Mapping[str, PropertyDef] = CONTACT_PROPERTY_MAP,
                     ) -> dict[str, str]:
    """Values as HubSpot keeps them: blanks trimmed, emails in lower case, datetimes in ISO."""
    clean = {name: value.strip() for name, value in values.items()}
    if "email" in clean:
        clean["email"] = clean["email"].lower()
    for name, value in clean.items():
        definition = definitions.get(name)
        moment = epoch_ms(value) if definition and definition.type == "datetime" else None
        if moment is not None:
            clean[name] = iso_ms(moment)
    return clean


def epoch_ms(value: str) -> int | None:
    """A datetime value (epoch milliseconds, an ISO date or datetime) in epoch ms, or None."""
    text = value.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def iso_ms(epoch_milliseconds: int) -> str:
    """Epoch milliseconds as HubSpot writes datetimes: ISO 8601, milliseconds, ``Z``."""
    moment = datetime.fromtimestamp(epoch_milliseconds / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_milliseconds % 1000:03d}Z"

