"""What each CRM gets for a decision, per the mapping file."""

from __future__ import annotations

from datetime import UTC, datetime

from deploy.local.kafka_broker import REPO_ROOT
from services.mapping.crm_mapping import load_mapping
from services.router.decide import decide
from services.router.golden_record import merge_captured, new_record
from services.router.rules.loader import load_rules
from services.sync.field_mapping import hubspot_contact, salesforce_lead
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
