"""What each CRM gets for a decision, per the mapping file."""

from __future__ import annotations

from datetime import UTC, datetime

from deploy.local.kafka_broker import REPO_ROOT
from services.mapping.crm_mapping import load_mapping
from services.router.decide import decide
from services.router.golden_record import merge_captured, new_record
from services.router.rules.loader import load_rules
from services.sync.field_mapping import (
    hubspot_contact,
    hubspot_held,
    hubspot_lead_status,
    salesforce_held,
    salesforce_lead,
)
from services.sync.outcome_mapping import load_outcome_mapping
from tests.builders import a_captured_lead

MAPPING = load_mapping(REPO_ROOT / "mappings" / "crm.yaml")
RULES = load_rules(REPO_ROOT / "rules" / "leads.yaml")


def a_decision(**lead):
    event = a_captured_lead(**lead)
    record = merge_captured(new_record(event.lead_key), "e1", event, "/test")
    return decide(RULES, record, "e1", datetime.now(UTC))


def test_given_an_mql_decision_when_mapped_for_salesforce_then_status_owner_and_score_set():
    fields = salesforce_lead(a_decision(), MAPPING.salesforce.lead, "005000000000001AAA")
    assert fields["Status"] == "Marketing Qualified"
    assert fields["OwnerId"] == "005000000000001AAA"
    assert fields["Accord_Stage__c"] == "mql"
    assert fields["Email"] == "ada.lovelace@analytical.example"
    assert fields["NumberOfEmployees"] == 4200


def test_given_a_lead_without_company_when_mapped_for_salesforce_then_required_default():
    fields = salesforce_lead(a_decision(company=None, last_name=None),
                             MAPPING.salesforce.lead, "005000000000001AAA")
    assert fields["Company"] == "[not provided]"
    assert fields["LastName"] == "[not provided]"


def test_given_an_mql_decision_when_mapped_for_hubspot_then_lifecycle_and_strings():
    props = hubspot_contact(a_decision(), MAPPING.hubspot.contact, "41000001")
    assert props["lifecyclestage"] == "marketingqualifiedlead"
    assert props["hs_lead_status"] == "OPEN"
    assert props["hubspot_owner_id"] == "41000001"
    assert all(isinstance(v, str) for v in props.values())


def test_given_every_stage_when_mapped_then_both_crms_have_a_value_for_it():
    from typing import get_args

    from services.contracts.events import Stage

    for stage in get_args(Stage):
        assert stage in MAPPING.salesforce.lead.status_by_stage
        assert stage in MAPPING.hubspot.contact.lifecycle_by_stage
        assert stage in MAPPING.hubspot.contact.lead_status_by_stage


def test_given_an_employee_count_when_mapped_for_hubspot_then_the_dropdown_range_is_used():
    assert hubspot_contact(a_decision(employees=4200), MAPPING.hubspot.contact,
                           "1")["numemployees"] == "1000+"
    assert hubspot_contact(a_decision(employees=300), MAPPING.hubspot.contact,
                           "1")["numemployees"] == "100-500"
    assert hubspot_contact(a_decision(employees=5), MAPPING.hubspot.contact,
                           "1")["numemployees"] == "1-5"


FORM = "/accord/ingest/v1/leads"
OUTCOMES = load_outcome_mapping(REPO_ROOT / "mappings" / "crm_outcomes.yaml")
STATUSES = OUTCOMES.hubspot.contact.lead_status_by_salesforce_status


def a_routed(status: str | None = None, sources: dict[str, str] | None = None, **lead):
    return a_decision(**lead).model_copy(update={"salesforce_status": status,
                                                 "field_sources": sources or {}})


def test_given_an_update_when_a_field_is_unknown_then_no_required_default_overwrites_it():
    fields = salesforce_lead(a_routed(company=None), MAPPING.salesforce.lead, "005X",
                             creating=False)
    assert "Company" not in fields


def test_given_only_some_fields_when_mapped_then_the_others_are_left_out():
    fields = salesforce_lead(a_routed(), MAPPING.salesforce.lead, "005X", only={"title"})
    assert fields["Title"] == "VP Engineering"
    assert "Email" not in fields and "Company" not in fields
    assert fields["Accord_Score__c"] is not None and fields["OwnerId"] == "005X"


def test_given_a_rep_set_the_salesforce_status_when_mapped_then_status_is_not_written_back():
    decision = a_routed(status="Working - Contacted")
    fields = salesforce_lead(decision, MAPPING.salesforce.lead, "005X")
    assert "Status" not in fields
    assert salesforce_held(decision, MAPPING.salesforce.lead) == {
        "Status": "Working - Contacted"}


def test_given_a_rep_status_when_mapped_for_hubspot_then_it_wins_over_the_stage():
    props = hubspot_contact(a_routed(status="Nurture"), MAPPING.hubspot.contact, "1",
                            by_salesforce_status=STATUSES)
    assert props["hs_lead_status"] == "BAD_TIMING"
    assert props["lifecyclestage"] == "marketingqualifiedlead"  # still the decision's stage


def test_given_each_example_status_when_mapped_then_the_hubspot_lead_status_of_the_issue():
    expected = {"Working - Contacted": "IN_PROGRESS", "Unqualified": "UNQUALIFIED"}
    for status, hubspot in expected.items():
        assert hubspot_lead_status(a_routed(status=status), MAPPING.hubspot.contact,
                                   STATUSES) == hubspot


REASON = OUTCOMES.hubspot.contact.status_reason_property


def test_given_an_unqualified_status_with_a_reason_when_mapped_for_hubspot_then_both_shown():
    decision = a_routed(status="Unqualified").model_copy(
        update={"salesforce_status_reason": "No Budget"})
    props = hubspot_contact(decision, MAPPING.hubspot.contact, "1", None, STATUSES, REASON)
    assert (props["hs_lead_status"], props["accord_unqualified_reason"]) == (
        "UNQUALIFIED", "No Budget")


def test_given_a_rep_status_without_a_reason_when_mapped_for_hubspot_then_reason_cleared():
    props = hubspot_contact(a_routed(status="Working - Contacted"), MAPPING.hubspot.contact,
                            "1", None, STATUSES, REASON)
    assert props["accord_unqualified_reason"] == ""  # "" clears an earlier reason


def test_given_no_rep_status_when_mapped_for_hubspot_then_the_reason_is_left_alone():
    props = hubspot_contact(a_routed(), MAPPING.hubspot.contact, "1", None, STATUSES, REASON)
    assert "accord_unqualified_reason" not in props


def test_given_a_status_the_map_lacks_when_mapped_for_hubspot_then_the_stage_decides():
    assert hubspot_lead_status(a_routed(status="Custom Status"), MAPPING.hubspot.contact,
                               STATUSES) == "OPEN"


def test_given_a_customer_when_mapped_for_hubspot_then_lifecycle_customer():
    decision = a_routed(status="Closed - Converted").model_copy(update={"stage": "customer"})
    props = hubspot_contact(decision, MAPPING.hubspot.contact, "1",
                            by_salesforce_status=STATUSES)
    assert props["lifecyclestage"] == "customer"
    assert props["hs_lead_status"] == "OPEN_DEAL"


def test_given_values_from_hubspot_when_held_then_as_hubspot_properties():
    decision = a_routed(sources={"title": "hubspot", "company": FORM})
    assert hubspot_held(decision, MAPPING.hubspot.contact) == {"jobtitle": "VP Engineering"}
