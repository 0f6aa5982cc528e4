"""Salesforce and HubSpot changes in the golden record: linking, SQL, and no echo."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from deploy.local.kafka_broker import REPO_ROOT
from services.contracts.envelope import decode, encode
from services.contracts.events import (
    HUBSPOT_CHANGE_RECEIVED,
    SALESFORCE_CHANGE_RECEIVED,
    HubSpotChangeReceived,
    SalesforceChangeReceived,
)
from services.router.handle_event import UnlinkedChangeError, handle_event
from services.router.rules.loader import load_rules
from tests.builders import INTEGRATION_USER, a_captured_lead, a_crm_context, an_envelope

RULES = load_rules(REPO_ROOT / "rules" / "leads.yaml")
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
REP = "005000000000001AAA"
CRM = a_crm_context()
EMAIL = "ada@siemens.example"


def salesforce_change(status: str, modified_by: str, event_id: str, email: str | None = EMAIL,
                      reason: str | None = None):
    fields = {"Status": status, "LastModifiedById": modified_by}
    if reason:
        fields["Unqualified_Reason__c"] = reason
    if email:
        fields["Accord_Lead_Key__c"] = email
    change = SalesforceChangeReceived(
        organization_id="00D000000000001AAA", action_id="04k000000000001AAA",
        notification_id=event_id, sobject_type="Lead", sobject_id="00Q000000000001AAA",
        fields=fields, received_at=NOW)
    record = encode(SALESFORCE_CHANGE_RECEIVED, "/sf", "salesforce:org:Lead:00Q", change,
                    event_id=event_id)
    return decode(record.key, record.value, record.headers)


def routed_mql():
    captured = a_captured_lead(at=NOW, email=EMAIL, employees=5000, country="DE")
    outcome = handle_event(RULES, None, an_envelope(captured, "c1"), NOW)
    assert outcome.decision is not None and outcome.decision.stage == "mql"
    return outcome.record


def test_given_an_mql_when_a_rep_sets_working_in_salesforce_then_it_becomes_an_sql():
    outcome = handle_event(RULES, routed_mql(), salesforce_change("Working - Contacted", REP,
                                                                  "n1"), NOW, CRM)
    assert outcome.decision is not None
    assert outcome.decision.stage == "sql"
    assert "stages.sql" in outcome.decision.matched_rules
    assert outcome.record.crm_ids["salesforce.Lead"] == "00Q000000000001AAA"


def unqualified_for_no_budget():
    return handle_event(RULES, routed_mql(),
                        salesforce_change("Unqualified", REP, "n1", reason="No Budget"),
                        NOW, CRM)


def test_given_an_mql_when_a_rep_unqualifies_it_with_a_reason_then_recycled_with_the_reason():
    outcome = unqualified_for_no_budget()
    assert outcome.decision is not None
    assert outcome.decision.stage == "recycled"
    assert (outcome.decision.salesforce_status, outcome.decision.salesforce_status_reason) \
        == ("Unqualified", "No Budget")
    assert outcome.record.salesforce_status_reason == "No Budget"


def test_given_an_unqualified_lead_when_the_rep_changes_only_the_reason_then_decided_again():
    outcome = handle_event(RULES, unqualified_for_no_budget().record,
                           salesforce_change("Unqualified", REP, "n2", reason="No Need"),
                           NOW, CRM)
    assert outcome.decision is not None
    assert outcome.decision.salesforce_status_reason == "No Need"


def test_given_an_unqualified_lead_when_the_rep_works_it_then_the_old_reason_is_dropped():
    # The notification carries the fields holding a value: no reason in it means none now.
    outcome = handle_event(RULES, unqualified_for_no_budget().record,
                           salesforce_change("Working - Contacted", REP, "n2"), NOW, CRM)
    assert outcome.decision is not None
    assert (outcome.decision.salesforce_status, outcome.decision.salesforce_status_reason) \
        == ("Working - Contacted", None)


def test_given_a_mapping_without_a_reason_field_when_a_rep_unqualifies_then_no_reason_kept():
    outcome = handle_event(RULES, routed_mql(),
                           salesforce_change("Unqualified", REP, "n1", reason="No Budget"), NOW)
    assert outcome.decision is not None
    assert outcome.decision.salesforce_status_reason is None


def test_given_our_own_write_when_it_echoes_back_then_ids_update_but_nothing_is_decided():
    outcome = handle_event(RULES, routed_mql(),
                           salesforce_change("Marketing Qualified", INTEGRATION_USER, "n2"),
                           NOW, CRM)
    assert outcome.decision is None
    assert outcome.record.crm_ids["salesforce.Lead"] == "00Q000000000001AAA"
    # The status our own write set is not sales' word: the record keeps none.
    assert outcome.record.salesforce_status is None


def test_given_a_change_without_lead_key_or_email_when_handled_then_unlinked_error():
    with pytest.raises(UnlinkedChangeError, match="names no lead"):
        handle_event(RULES, None, salesforce_change("Working - Contacted", REP, "n3",
                                                    email=None), NOW)


def test_given_a_hubspot_email_change_when_handled_then_the_contact_id_is_linked_only():
    change = HubSpotChangeReceived(
        event_id=1, subscription_id=7, portal_id=62515, app_id=1, occurred_at=NOW,
        subscription_type="contact.propertyChange", attempt_number=0, object_id=101,
        object_type="contact", property_name="email", property_value="Ada@Siemens.example")
    record = encode(HUBSPOT_CHANGE_RECEIVED, "/hs", "hubspot:62515:contact:101", change,
                    event_id="h1")
    outcome = handle_event(RULES, routed_mql(), decode(record.key, record.value,
                                                       record.headers), NOW)
    assert outcome.decision is None
    assert outcome.record.crm_ids["hubspot.contact"] == "101"
