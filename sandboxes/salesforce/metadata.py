"""The sObjects the sandbox knows: their fields, types, picklists and key prefixes."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

FieldType = Literal[
    "id", "string", "email", "phone", "url", "picklist", "reference",
    "boolean", "int", "double", "currency", "percent", "date", "datetime",
]
# Types whose values are strings in JSON and in SOQL literals.
TEXT_TYPES: frozenset[FieldType] = frozenset(
    {"id", "string", "email", "phone", "url", "picklist", "reference"}
)
# Types whose values are JSON numbers and SOQL number literals.
NUMBER_TYPES: frozenset[FieldType] = frozenset({"int", "double", "currency", "percent"})

INTEGRATION_USER_ID = "005000000000009AAA"
INTEGRATION_USER_NAME = ("Accord", "Integration")


@dataclass(frozen=True)
class FieldDef:
    """One field of an sObject, with the properties a describe call reports."""

    name: str
    label: str
    type: FieldType
    length: int = 0
    # Must hold a value on create (after defaults) and may never be set to null.
    required: bool = False
    default: str | bool | None = None
    createable: bool = True
    updateable: bool = True
    external_id: bool = False
    unique: bool = False
    picklist: tuple[str, ...] = ()
    restricted_picklist: bool = False
    reference_to: str | None = None


@dataclass(frozen=True)
class SObjectDef:
    """One sObject type: its API name, key prefix and fields in describe order."""

    name: str
    label: str
    label_plural: str
    key_prefix: str
    fields: tuple[FieldDef, ...]
    # User records are seeded from the owners file; the API may only read them.
    writable: bool = True
    _by_lower: dict[str, FieldDef] = dataclasses.field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_lower", {f.name.lower(): f for f in self.fields})

    def field(self, name: str) -> FieldDef | None:
        """The field called ``name`` (case-insensitive, as in Salesforce), or None."""
        return self._by_lower.get(name.lower())

    @property
    def has_compound_name(self) -> bool:
        """Whether Name is derived from FirstName and LastName (Lead, Contact, User)."""
        name = self.field("Name")
        return name is not None and not name.createable and self.field("LastName") is not None


def _system_fields() -> tuple[FieldDef, ...]:
    return (
        FieldDef("IsDeleted", "Deleted", "boolean", default=False,
                 createable=False, updateable=False),
        FieldDef("CreatedDate", "Created Date", "datetime", createable=False, updateable=False),
        FieldDef("CreatedById", "Created By ID", "reference", 18, reference_to="User",
                 createable=False, updateable=False),
        FieldDef("LastModifiedDate", "Last Modified Date", "datetime",
                 createable=False, updateable=False),
        FieldDef("LastModifiedById", "Last Modified By ID", "reference", 18,
                 reference_to="User", createable=False, updateable=False),
        FieldDef("SystemModstamp", "System Modstamp", "datetime",
                 createable=False, updateable=False),
    )


def _id_field() -> FieldDef:
    return FieldDef("Id", "Record ID", "id", 18, createable=False, updateable=False)


def _owner_field() -> FieldDef:
    return FieldDef("OwnerId", "Owner ID", "reference", 18, required=True,
                    default=INTEGRATION_USER_ID, reference_to="User")


def _accord_fields() -> tuple[FieldDef, ...]:
    return (
        FieldDef("Accord_Lead_Key__c", "Accord Lead Key", "string", 255,
                 external_id=True, unique=True),
        FieldDef("Accord_Score__c", "Accord Score", "double"),
        FieldDef("Accord_Stage__c", "Accord Stage", "string", 255),
    )


LEAD_STATUSES = (
    "Open - Not Contacted", "Marketing Qualified", "Working - Contacted", "Nurture",
    "Unqualified", "Closed - Converted",
)
# Why a rep unqualified a lead: the custom picklist orgs add beside Status (Salesforce has no
# standard field for it), kept for reporting why leads were turned down.
UNQUALIFIED_REASON = "Unqualified_Reason__c"
UNQUALIFIED_REASONS = ("No Budget", "No Authority", "No Need", "Not Interested",
                       "Went with a Competitor", "Other")

LEAD = SObjectDef("Lead", "Lead", "Leads", "00Q", (
    _id_field(),
    FieldDef("FirstName", "First Name", "string", 40),
    FieldDef("LastName", "Last Name", "string", 80, required=True),
    FieldDef("Name", "Full Name", "string", 121, createable=False, updateable=False),
    FieldDef("Company", "Company", "string", 255, required=True),
    FieldDef("Email", "Email", "email", 80),
    FieldDef("Phone", "Phone", "phone", 40),
    FieldDef("Title", "Title", "string", 128),
    FieldDef("Country", "Country", "string", 80),
    FieldDef("Industry", "Industry", "picklist", 255, picklist=(
        "Agriculture", "Banking", "Education", "Finance", "Healthcare", "Manufacturing",
        "Media", "Retail", "Technology", "Telecommunications", "Other")),
    FieldDef("NumberOfEmployees", "Employees", "int"),
    FieldDef("LeadSource", "Lead Source", "picklist", 255, picklist=(
        "Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")),
    FieldDef("Status", "Status", "picklist", 255, required=True,
             default=LEAD_STATUSES[0], picklist=LEAD_STATUSES, restricted_picklist=True),
    FieldDef(UNQUALIFIED_REASON, "Unqualified Reason", "picklist", 255,
             picklist=UNQUALIFIED_REASONS, restricted_picklist=True),
    _owner_field(),
    FieldDef("IsConverted", "Converted", "boolean", default=False,
             createable=False, updateable=False),
    FieldDef("ConvertedAccountId", "Converted Account ID", "reference", 18,
             reference_to="Account", createable=False, updateable=False),
    FieldDef("ConvertedContactId", "Converted Contact ID", "reference", 18,
             reference_to="Contact", createable=False, updateable=False),
    FieldDef("ConvertedOpportunityId", "Converted Opportunity ID", "reference", 18,
             reference_to="Opportunity", createable=False, updateable=False),
    *_accord_fields(),
    *_system_fields(),
))

CONTACT = SObjectDef("Contact", "Contact", "Contacts", "003", (
    _id_field(),
    FieldDef("FirstName", "First Name", "string", 40),
    FieldDef("LastName", "Last Name", "string", 80, required=True),
    FieldDef("Name", "Full Name", "string", 121, createable=False, updateable=False),
    FieldDef("Email", "Email", "email", 80),
    FieldDef("AccountId", "Account ID", "reference", 18, reference_to="Account"),
    _owner_field(),
    *_accord_fields(),
    *_system_fields(),
))

ACCOUNT = SObjectDef("Account", "Account", "Accounts", "001", (
    _id_field(),
    FieldDef("Name", "Account Name", "string", 255, required=True),
    FieldDef("Website", "Website", "url", 255),
    _owner_field(),
    *_system_fields(),
))

USER = SObjectDef("User", "User", "Users", "005", (
    _id_field(),
    FieldDef("Username", "Username", "string", 80),
    FieldDef("Email", "Email", "email", 128),
    FieldDef("FirstName", "First Name", "string", 40),
    FieldDef("LastName", "Last Name", "string", 80, required=True),
    FieldDef("Name", "Full Name", "string", 121, createable=False, updateable=False),
    FieldDef("IsActive", "Active", "boolean", default=True),
    *_system_fields(),
), writable=False)

# Stage, its default probability (%), and whether it is closed and won, as in a new org.
OPPORTUNITY_STAGES: tuple[tuple[str, float, bool, bool], ...] = (
    ("Prospecting", 10, False, False), ("Qualification", 10, False, False),
    ("Needs Analysis", 20, False, False), ("Value Proposition", 50, False, False),
    ("Id. Decision Makers", 60, False, False), ("Perception Analysis", 70, False, False),
    ("Proposal/Price Quote", 75, False, False), ("Negotiation/Review", 90, False, False),
    ("Closed Won", 100, True, True), ("Closed Lost", 0, True, False),
)

OPPORTUNITY = SObjectDef("Opportunity", "Opportunity", "Opportunities", "006", (
    _id_field(),
    FieldDef("Name", "Name", "string", 120, required=True),
    FieldDef("AccountId", "Account ID", "reference", 18, reference_to="Account"),
    FieldDef("ContactId", "Contact ID", "reference", 18, reference_to="Contact"),
    FieldDef("Amount", "Amount", "currency"),
    FieldDef("CloseDate", "Close Date", "date", required=True),
    FieldDef("StageName", "Stage", "picklist", 255, required=True,
             picklist=tuple(s[0] for s in OPPORTUNITY_STAGES), restricted_picklist=True),
    FieldDef("Probability", "Probability (%)", "percent"),
    FieldDef("IsClosed", "Closed", "boolean", default=False,
             createable=False, updateable=False),
    FieldDef("IsWon", "Won", "boolean", default=False, createable=False, updateable=False),
    FieldDef("LeadSource", "Lead Source", "picklist", 255, picklist=(
        "Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")),
    _owner_field(),
    FieldDef("Accord_Opportunity_Key__c", "Accord Opportunity Key", "string", 255,
             external_id=True, unique=True),
    # Links the opportunity to the lead it came from; many opportunities may share it.
    FieldDef("Accord_Lead_Key__c", "Accord Lead Key", "string", 255),
    *_system_fields(),
))

SOBJECTS: tuple[SObjectDef, ...] = (ACCOUNT, CONTACT, LEAD, OPPORTUNITY, USER)
_BY_LOWER = {s.name.lower(): s for s in SOBJECTS}
_BY_PREFIX = {s.key_prefix: s for s in SOBJECTS}


def sobject(name: str) -> SObjectDef | None:
    """The sObject called ``name`` (case-insensitive), or None when the org has no such type."""
    return _BY_LOWER.get(name.lower())


def sobject_for_id(record_id: str) -> SObjectDef | None:
    """The sObject whose key prefix starts ``record_id``, or None."""
    return _BY_PREFIX.get(record_id[:3])
