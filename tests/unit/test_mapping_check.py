"""The start-up check of the Salesforce Lead mapping against a Lead describe (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from deploy.local.kafka_broker import REPO_ROOT
from services.mapping.crm_mapping import SalesforceLeadMapping, load_mapping
from services.sync.mapping_check import MappingMismatchError, check_salesforce_lead_mapping

SHIPPED = load_mapping(REPO_ROOT / "mappings" / "crm.yaml").salesforce.lead
STATUSES = ["Open - Not Contacted", "Marketing Qualified", "Working - Contacted", "Nurture",
            "Unqualified", "Closed - Converted"]


def a_field(name: str, type_: str = "string", *, required: bool = False,
            defaulted: bool = False, createable: bool = True, external_id: bool = False,
            values: list[str] | None = None, inactive: tuple[str, ...] = ()) -> dict[str, Any]:
    """A field as ``GET sobjects/Lead/describe`` lists it (the properties the check reads)."""
    return {
        "name": name, "type": type_, "nillable": not required, "createable": createable,
        "updateable": createable, "defaultedOnCreate": defaulted or not createable,
        "externalId": external_id,
        "picklistValues": [{"value": v, "label": v, "active": v not in inactive,
                            "defaultValue": False} for v in values or []],
    }


def a_lead_describe(*extra: dict[str, Any], statuses: list[str] = STATUSES,
                    inactive: tuple[str, ...] = (), without: tuple[str, ...] = ()
                    ) -> dict[str, Any]:
    fields = [
        a_field("Id", "id", createable=False),
        a_field("FirstName"), a_field("LastName", required=True),
        a_field("Name", createable=False), a_field("Company", required=True),
        a_field("Email", "email"), a_field("Phone", "phone"), a_field("Title"),
        a_field("Country"), a_field("Industry", "picklist", values=["Technology", "Other"]),
        a_field("NumberOfEmployees", "int"),
        a_field("LeadSource", "picklist", values=["Web", "Other"]),
        a_field("Status", "picklist", required=True, defaulted=True, values=statuses,
                inactive=inactive),
        a_field("OwnerId", "reference", required=True, defaulted=True),
        a_field("IsConverted", "boolean", required=True, createable=False),
        a_field("Accord_Lead_Key__c", external_id=True), a_field("Accord_Score__c", "double"),
        a_field("Accord_Stage__c"),
        a_field("Unqualified_Reason__c", "picklist", values=["No Budget", "Other"]), *extra,
    ]
    return {"name": "Lead", "fields": [f for f in fields if f["name"] not in without]}


def a_mapping(**changes: Any) -> SalesforceLeadMapping:
    return SHIPPED.model_copy(update=changes)


def test_given_the_shipped_mapping_and_a_matching_org_when_checked_then_no_problem():
    assert check_salesforce_lead_mapping(SHIPPED, a_lead_describe()) == []


def test_given_field_names_in_another_case_when_checked_then_they_match_as_in_salesforce():
    mapping = a_mapping(fields={**SHIPPED.fields, "email": "EMAIL"}, status_field="status")
    assert check_salesforce_lead_mapping(mapping, a_lead_describe()) == []


def test_given_a_misspelt_field_when_checked_then_the_problem_names_the_entry_and_a_guess():
    mapping = a_mapping(fields={**SHIPPED.fields, "company": "Compnay"})
    assert check_salesforce_lead_mapping(mapping, a_lead_describe()) == [
        "mappings/crm.yaml salesforce.lead.fields.company: 'Compnay' is not a field of Lead "
        "(did you mean Company?)"]


def test_given_a_status_value_the_org_lacks_when_checked_then_allowed_values_are_listed():
    describe = a_lead_describe(statuses=[s for s in STATUSES if s != "Marketing Qualified"])
    problems = check_salesforce_lead_mapping(SHIPPED, describe)
    assert problems == [
        "mappings/crm.yaml salesforce.lead.status_by_stage.mql: 'Marketing Qualified' is not "
        "an active value of Lead.Status (allowed: Open - Not Contacted, Working - Contacted, "
        "Nurture, Unqualified, Closed - Converted)"]


def test_given_an_inactive_status_value_when_checked_then_every_stage_using_it_is_named():
    problems = check_salesforce_lead_mapping(SHIPPED, a_lead_describe(inactive=("Nurture",)))
    assert [p.split(":")[0] for p in problems] == [
        "mappings/crm.yaml salesforce.lead.status_by_stage.nurture",
        "mappings/crm.yaml salesforce.lead.status_by_stage.recycled"]


def test_given_custom_fields_missing_from_the_org_when_checked_then_each_is_named():
    describe = a_lead_describe(without=("Accord_Score__c", "Accord_Lead_Key__c"))
    problems = check_salesforce_lead_mapping(SHIPPED, describe, source="crm.yaml")
    assert problems == [
        "crm.yaml salesforce.lead.score_field: 'Accord_Score__c' is not a field of Lead: "
        "create the custom field, or give the integration user access to it (field-level "
        "security)",
        "crm.yaml salesforce.lead.external_id_field: 'Accord_Lead_Key__c' is not a field of "
        "Lead: create the custom field, or give the integration user access to it "
        "(field-level security)"]


def test_given_an_org_without_the_unqualified_reason_field_when_checked_then_it_is_named():
    problems = check_salesforce_lead_mapping(
        SHIPPED, a_lead_describe(without=("Unqualified_Reason__c",)))
    assert problems == [
        "mappings/crm.yaml salesforce.lead.status_reason_field: 'Unqualified_Reason__c' is not "
        "a field of Lead: create the custom field, or give the integration user access to it "
        "(field-level security)"]


def test_given_no_reason_field_mapped_when_checked_then_the_org_need_not_have_one():
    mapping = a_mapping(status_reason_field=None)
    describe = a_lead_describe(without=("Unqualified_Reason__c",))
    assert check_salesforce_lead_mapping(mapping, describe) == []


def test_given_an_external_id_field_that_is_not_an_external_id_when_checked_then_named():
    mapping = a_mapping(external_id_field="Email")
    assert check_salesforce_lead_mapping(mapping, a_lead_describe()) == [
        "mappings/crm.yaml salesforce.lead.external_id_field: Lead.Email is not an External "
        "ID field, so Leads cannot be upserted by it"]


def test_given_a_read_only_field_mapped_when_checked_then_named():
    mapping = a_mapping(fields={**SHIPPED.fields, "full_name": "Name"})
    assert check_salesforce_lead_mapping(mapping, a_lead_describe()) == [
        "mappings/crm.yaml salesforce.lead.fields.full_name: Lead.Name is read-only (not "
        "createable and updateable by the integration user)"]


def test_given_a_required_field_neither_mapped_nor_defaulted_when_checked_then_named():
    describe = a_lead_describe(a_field("Region__c", required=True))
    assert check_salesforce_lead_mapping(SHIPPED, describe) == [
        "mappings/crm.yaml salesforce.lead: Lead.Region__c is required on create but is "
        "neither mapped nor given a value in required_defaults"]


def test_given_a_default_outside_a_picklist_when_checked_then_named():
    mapping = a_mapping(required_defaults={**SHIPPED.required_defaults, "LeadSource": "Fax"})
    assert check_salesforce_lead_mapping(mapping, a_lead_describe()) == [
        "mappings/crm.yaml salesforce.lead.required_defaults.LeadSource: 'Fax' is not an "
        "active value of Lead.LeadSource (allowed: Web, Other)"]


def test_given_a_status_field_that_is_no_picklist_when_checked_then_named():
    mapping = a_mapping(status_field="Title")
    assert check_salesforce_lead_mapping(mapping, a_lead_describe()) == [
        "mappings/crm.yaml salesforce.lead.status_by_stage: Lead.Title is a string field, "
        "not a picklist"]


def test_given_problems_when_raised_then_the_error_lists_each_on_its_own_line():
    error = MappingMismatchError(["first problem", "second problem"])
    assert error.problems == ("first problem", "second problem")
    assert str(error).splitlines()[1:] == ["- first problem", "- second problem"]
    with pytest.raises(RuntimeError):
        raise error
