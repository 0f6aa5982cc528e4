"""A won opportunity books revenue once, makes a customer and is attributed to the campaign
that first brought the lead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from deploy.local.kafka_broker import REPO_ROOT
from services.contracts.envelope import decode, encode
from services.contracts.events import (
    LEAD_ROUTED,
    OPPORTUNITY_WON,
    SALESFORCE_CHANGE_RECEIVED,
    SalesforceChangeReceived,
)
from services.router.handle_event import Outcome, handle_event
from services.router.opportunities import UnreadableOpportunityError
from services.router.record_processing import Incoming, StepResult, process_record, record_key
from services.router.rules.loader import load_rules
from tests.builders import a_captured_lead, a_crm_context, an_envelope

RULES = load_rules(REPO_ROOT / "rules" / "leads.yaml")
CRM = a_crm_context()
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
EMAIL = "ada.lovelace@analytical.example"


def opportunity(event_id: str, stage: str, amount: str | None = "48000.0",
                opportunity_id: str = "006000000000001AAA"):
    change = SalesforceChangeReceived(
        organization_id="00D000000000001AAA", action_id="04k000000000002AAA",
        notification_id=event_id, sobject_type="Opportunity", sobject_id=opportunity_id,
        fields={"Accord_Lead_Key__c": EMAIL, "StageName": stage, "Amount": amount,
                "CloseDate": "2026-11-23", "Name": "Analytical Engines-",
                "OwnerId": "005000000000001AAA", "LastModifiedById": "005000000000001AAA"},
        received_at=T0 + timedelta(days=3))
    record = encode(SALESFORCE_CHANGE_RECEIVED, "/sf", f"salesforce:org:Opportunity:{event_id}",
                    change, event_id=event_id)
    return decode(record.key, record.value, record.headers)


def a_lead() -> Outcome:
    first = handle_event(RULES, None, an_envelope(a_captured_lead(
        at=T0, campaign="2026-q4-webinar"), "c1"), T0, CRM)
    # A later form from another campaign: the revenue still belongs to the first one.
    return handle_event(RULES, first.record, an_envelope(a_captured_lead(
        at=T0 + timedelta(days=1), campaign="2027-q1-ebook"), "c2"), T0, CRM)


def test_given_an_opportunity_won_for_48000_when_handled_then_a_customer_with_revenue():
    won = handle_event(RULES, a_lead().record, opportunity("w1", "Closed Won"), T0, CRM)
    assert won.decision is not None and won.decision.stage == "customer"
    assert won.record.revenue == Decimal("48000.00")
    assert won.won is not None
    assert won.won.amount == Decimal("48000.00")
    assert won.won.first_campaign == "2026-q4-webinar"
    assert won.won.lead_revenue == Decimal("48000.00")
    assert won.won.opportunity_id == "006000000000001AAA"
    # The rep who worked the lead owns the deal.
    assert won.won.owner_email == won.decision.owner.email


def test_given_a_won_opportunity_when_notified_again_then_revenue_is_booked_once():
    won = handle_event(RULES, a_lead().record, opportunity("w1", "Closed Won"), T0, CRM)
    again = handle_event(RULES, won.record, opportunity("w2", "Closed Won"), T0, CRM)
    assert again.record.revenue == Decimal("48000.00")
    assert again.won is None


def test_given_two_won_opportunities_when_handled_then_revenue_adds_up():
    won = handle_event(RULES, a_lead().record, opportunity("w1", "Closed Won"), T0, CRM)
    second = handle_event(RULES, won.record, opportunity(
        "w2", "Closed Won", "2000", "006000000000002AAA"), T0, CRM)
    assert second.record.revenue == Decimal("50000.00")
    assert second.won is not None and second.won.lead_revenue == Decimal("50000.00")


def test_given_an_open_opportunity_when_handled_then_nothing_is_booked():
    open_ = handle_event(RULES, a_lead().record, opportunity("w1", "Prospecting"), T0, CRM)
    assert open_.record.revenue == 0
    assert open_.won is None
    assert open_.record.crm_ids["salesforce.Opportunity"] == "006000000000001AAA"


def test_given_a_won_opportunity_with_an_unreadable_amount_when_handled_then_the_error_says_so():
    with pytest.raises(UnreadableOpportunityError, match="Amount 'lots'"):
        handle_event(RULES, a_lead().record, opportunity("w1", "Closed Won", "lots"), T0, CRM)


def test_given_a_won_opportunity_when_processed_then_the_win_follows_the_decision_out():
    state = {record_key(EMAIL): a_lead().record.model_dump_json().encode()}
    result = StepResult()
    change = opportunity("w1", "Closed Won")
    record = encode(SALESFORCE_CHANGE_RECEIVED, change.source, EMAIL,
                    SalesforceChangeReceived.model_validate(change.data), event_id="w1")
    incoming = Incoming("crm-changes-by-lead", 0, 0, record.key, record.value,
                        list(record.headers))
    process_record(RULES, lambda key: result.changes.get(key, state.get(key)), incoming, T0,
                   CRM, result)
    published = [decode(o.key, o.value, o.headers) for o in result.outputs]
    assert published[0].type == LEAD_ROUTED
    assert published[-1].type == OPPORTUNITY_WON
    assert published[-1].data["first_campaign"] == "2026-q4-webinar"
    assert {o.kind for o in result.outputs} == {"decisions"}
