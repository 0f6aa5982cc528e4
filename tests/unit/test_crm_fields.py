"""A person's edits in either CRM reach the golden record by each field's sync rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deploy.local.kafka_broker import REPO_ROOT
from services.contracts.envelope import decode, encode
from services.contracts.events import (
    HUBSPOT_CHANGE_RECEIVED,
    SALESFORCE_CHANGE_RECEIVED,
    HubSpotChangeReceived,
    SalesforceChangeReceived,
)
from services.mapping.crm_mapping import SYNC_RULES
from services.router.crm_fields import SALESFORCE, accepts
from services.router.handle_event import Outcome, handle_event
from services.router.record_processing import Incoming, StepResult, link_crm_change
from services.router.rules.loader import load_rules
from tests.builders import a_captured_lead, a_crm_context, an_envelope

RULES = load_rules(REPO_ROOT / "rules" / "leads.yaml")
CRM = a_crm_context()
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
EMAIL = "ada.lovelace@analytical.example"
REP = "005000000000001AAA"


def from_salesforce(fields: dict[str, str | None], event_id: str, at: datetime,
                    by: str = REP):
    change = SalesforceChangeReceived(
        organization_id="00D000000000001AAA", action_id="04k000000000001AAA",
        notification_id=event_id, sobject_type="Lead", sobject_id="00Q000000000001AAA",
        fields={"Accord_Lead_Key__c": EMAIL, "LastModifiedById": by,
                "LastModifiedDate": at.isoformat(), **fields}, received_at=at)
    record = encode(SALESFORCE_CHANGE_RECEIVED, "/sf", "salesforce:org:Lead:00Q", change,
                    event_id=event_id)
    return decode(record.key, record.value, record.headers)


def from_hubspot(prop: str, value: str, event_id: str, at: datetime,
                 source: tuple[str, str] = ("CRM_UI", "userId:7")):
    change = HubSpotChangeReceived(
        event_id=1, subscription_id=7, portal_id=62515, app_id=4400001, occurred_at=at,
        subscription_type="contact.propertyChange", attempt_number=0, object_id=101,
        object_type="contact", change_source=source[0], source_id=source[1],
        property_name=prop, property_value=value)
    # Re-keyed by lead, as the router's linking step publishes it.
    record = encode(HUBSPOT_CHANGE_RECEIVED, "/hs", EMAIL, change, event_id=event_id)
    return decode(record.key, record.value, record.headers)


def captured(at: datetime = T0, event_id: str = "c1", **fields: object) -> Outcome:
    return handle_event(RULES, None, an_envelope(a_captured_lead(at=at, **fields), event_id),
                        at, CRM)


def then(outcome: Outcome, envelope, at: datetime) -> Outcome:
    return handle_event(RULES, outcome.record, envelope, at, CRM)


def test_given_a_rep_edits_a_title_in_salesforce_when_handled_then_decided_with_its_source():
    later = T0 + timedelta(minutes=5)
    outcome = then(captured(), from_salesforce({"Title": "CTO"}, "n1", later), later)
    assert outcome.decision is not None
    assert outcome.decision.lead.title == "CTO"
    assert outcome.decision.field_sources["title"] == "salesforce"


def test_given_salesforce_set_a_company_when_hubspot_edits_it_later_then_salesforce_wins():
    later, latest = T0 + timedelta(minutes=5), T0 + timedelta(minutes=9)
    sales = then(captured(), from_salesforce({"Company": "Analytical Engines Ltd"}, "n1",
                                             later), later)
    marketing = then(sales, from_hubspot("company", "AE", "h1", latest), latest)
    assert marketing.record.fields["company"].value == "Analytical Engines Ltd"
    assert marketing.decision is None  # nothing changed: no decision, no write


def test_given_salesforce_set_a_company_when_a_form_resubmits_it_then_salesforce_wins():
    later = T0 + timedelta(minutes=5)
    sales = then(captured(), from_salesforce({"Company": "Analytical Engines Ltd"}, "n1",
                                             later), later)
    form = then(sales, an_envelope(a_captured_lead(at=later + timedelta(minutes=1),
                                                   company="AE Inc"), "c2"), later)
    assert form.record.fields["company"].value == "Analytical Engines Ltd"


def test_given_a_two_way_field_when_hubspot_edits_it_last_then_hubspot_wins():
    later, latest = T0 + timedelta(minutes=5), T0 + timedelta(minutes=9)
    sales = then(captured(), from_salesforce({"Title": "CTO"}, "n1", later), later)
    marketing = then(sales, from_hubspot("jobtitle", "Chief Technologist", "h1", latest),
                     latest)
    assert marketing.decision is not None
    assert marketing.decision.lead.title == "Chief Technologist"
    assert marketing.decision.field_sources["title"] == "hubspot"


def test_given_a_two_way_field_when_an_older_hubspot_change_arrives_late_then_it_loses():
    later = T0 + timedelta(minutes=5)
    sales = then(captured(), from_salesforce({"Title": "CTO"}, "n1", later), later)
    stale = then(sales, from_hubspot("jobtitle", "Intern", "h1", T0 + timedelta(minutes=1)),
                 later)
    assert stale.record.fields["title"].value == "CTO"


def test_given_an_always_salesforce_field_when_salesforce_clears_it_then_it_is_cleared():
    later = T0 + timedelta(minutes=5)
    cleared = then(captured(), from_salesforce({"LeadSource": None}, "n1", later), later)
    assert "lead_source" not in cleared.record.fields


def test_given_a_dont_sync_field_when_a_crm_changes_it_then_the_golden_value_stays():
    later = T0 + timedelta(minutes=5)
    outcome = then(captured(phone="+44 20 7946 0000"),
                   from_hubspot("phone", "+44 20 0000 0000", "h1", later), later)
    assert outcome.record.fields["phone"].value == "+44 20 7946 0000"


def test_given_a_crm_changes_the_email_when_handled_then_the_identity_stays():
    later = T0 + timedelta(minutes=5)
    outcome = then(captured(), from_salesforce({"Email": "someone@else.example"}, "n1", later),
                   later)
    assert outcome.record.fields["email"].value == EMAIL


def test_given_a_value_accord_cannot_keep_when_merged_then_only_that_field_is_skipped():
    later = T0 + timedelta(minutes=5)
    outcome = then(captured(), from_salesforce({"Country": "Germany", "Title": "CTO"}, "n1",
                                               later), later)
    assert outcome.record.fields["country"].value == "GB"
    assert outcome.record.fields["title"].value == "CTO"


def test_given_our_own_hubspot_write_when_it_echoes_then_nothing_changes():
    later = T0 + timedelta(minutes=5)
    echo = then(captured(), from_hubspot("jobtitle", "Other", "h1", later,
                                         ("INTEGRATION", "4400001")), later)
    assert echo.decision is None
    assert echo.record.fields["title"].value == "VP Engineering"


def test_given_our_own_salesforce_write_when_it_echoes_then_no_field_changes():
    later = T0 + timedelta(minutes=5)
    echo = then(captured(), from_salesforce({"Title": "Other"}, "n1", later,
                                            by="005000000000009"), later)
    assert echo.decision is None
    assert echo.record.fields["title"].value == "VP Engineering"


@given(rule=st.sampled_from(SYNC_RULES), current=st.sampled_from([SALESFORCE, "hubspot", "/f"]),
       minutes=st.integers(-60, 60))
def test_property_a_salesforce_value_beats_others_when_the_rule_prefers_salesforce(
        rule, current, minutes):
    at = T0 + timedelta(minutes=minutes)
    from_sf = accepts(rule, current, T0, SALESFORCE, at)
    from_hubspot_ = accepts(rule, current, T0, "hubspot", at)
    if rule in ("prefer_salesforce_unless_blank", "always_salesforce"):
        assert from_sf
        assert from_hubspot_ == (current != SALESFORCE and at >= T0)
    elif rule == "two_way":
        assert from_sf == from_hubspot_ == (at >= T0)
    else:
        assert not from_sf and not from_hubspot_


def a_hubspot_change(object_type: str, source: tuple[str, str],
                     kind: str = "propertyChange") -> Incoming:
    change = HubSpotChangeReceived(
        event_id=1, subscription_id=7, portal_id=62515, app_id=4400001, occurred_at=T0,
        subscription_type=f"{object_type}.{kind}", attempt_number=0, object_id=5000001,
        object_type=object_type, change_source=source[0], source_id=source[1],
        property_name="jobtitle", property_value="CTO")
    record = encode(HUBSPOT_CHANGE_RECEIVED, "/hs", f"hubspot:62515:{object_type}:5000001",
                    change, event_id="h9")
    return Incoming("crm-changes", 0, 0, record.key, record.value, list(record.headers))


@pytest.mark.parametrize(("object_type", "source", "kind", "dead_lettered"), [
    ("deal", ("INTEGRATION", "4400001"), "propertyChange", 0),  # our deal write's echo
    ("deal", ("CRM_UI", "userId:7"), "propertyChange", 0),  # deals follow Salesforce only
    ("contact", ("INTEGRATION", "4400001"), "propertyChange", 0),  # our echo, before email
    ("contact", ("CRM_UI", "userId:7"), "creation", 0),  # values come in property changes
    ("contact", ("CRM_UI", "userId:7"), "propertyChange", 1),  # a change Accord can't place
])
def test_given_an_unlinked_hubspot_change_when_linked_then_only_a_lost_one_is_dead_lettered(
        object_type, source, kind, dead_lettered):
    result = StepResult()
    link_crm_change(lambda key: None, a_hubspot_change(object_type, source, kind), result,
                    CRM)
    assert result.dead_lettered == dead_lettered
    assert result.changes == {}
    assert len(result.outputs) == dead_lettered
