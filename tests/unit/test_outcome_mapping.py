"""The outcome mapping: a won opportunity as a HubSpot deal, a rep's status as the contact's
lead status; and its start-up checks against the sandboxes' own definitions."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from deploy.local.kafka_broker import REPO_ROOT
from sandboxes.hubspot.deal_properties import DEAL_PROPERTIES
from sandboxes.hubspot.properties import CONTACT_PROPERTIES, to_wire
from sandboxes.salesforce.metadata import LEAD_STATUSES, UNQUALIFIED_REASON, UNQUALIFIED_REASONS
from services.contracts.events import OPPORTUNITY_WON, OpportunityWon
from services.sync.deals import deal_properties, deal_to_write
from services.sync.outcome_mapping import HubSpotDealMapping, load_outcome_mapping
from services.sync.outcome_mapping_check import (
    check_deal_mapping,
    check_status_map_keys,
    check_status_map_values,
    check_status_reason_property,
)
from tests.builders import an_example_of

OUTCOMES = load_outcome_mapping(REPO_ROOT / "mappings" / "crm_outcomes.yaml")
DEAL = OUTCOMES.hubspot.deal
STATUSES = OUTCOMES.hubspot.contact.lead_status_by_salesforce_status
DEAL_PORTAL = [to_wire(p, ()) for p in DEAL_PROPERTIES]
CONTACT_PORTAL = [to_wire(p, ()) for p in CONTACT_PROPERTIES]


def a_win(**changes) -> OpportunityWon:
    won: OpportunityWon = an_example_of(OPPORTUNITY_WON)
    return won.model_copy(update=changes)


def test_given_a_win_when_mapped_then_a_closed_won_deal_of_its_amount_and_close_date():
    props = deal_properties(a_win(amount=Decimal("48000.00"), close_date=date(2026, 11, 23)),
                            DEAL)
    assert props == {"dealname": "Analytical Engines-", "amount": "48000.00",
                     "closedate": "1795392000000", "dealstage": "closedwon",
                     "pipeline": "default"}


def test_given_a_win_and_its_rep_s_hubspot_owner_when_mapped_then_the_deal_is_theirs():
    assert deal_properties(a_win(), DEAL, owner_id="41000001")["hubspot_owner_id"] == "41000001"


def test_given_a_portal_without_the_deal_owner_property_when_checked_then_it_says_so():
    portal = [p for p in DEAL_PORTAL if p["name"] != "hubspot_owner_id"]
    [problem] = check_deal_mapping(DEAL, portal)
    assert "owner_property: 'hubspot_owner_id' is not a deal property" in problem


def test_given_a_win_without_name_or_close_date_when_mapped_then_named_by_its_id():
    props = deal_properties(a_win(name=None, close_date=None), DEAL)
    assert props["dealname"] == "Opportunity 006000000000001AAA"
    assert "closedate" not in props


def test_given_a_win_when_made_a_deal_then_keyed_by_opportunity_and_on_the_lead_contact():
    won = a_win()
    deal = deal_to_write(won, deal_properties(won, DEAL))
    assert (deal.key, deal.contact_email) == ("006000000000001AAA", won.lead.email)


def test_given_a_deal_mapping_without_an_amount_when_loaded_then_it_says_so():
    with pytest.raises(ValidationError, match="amount"):
        HubSpotDealMapping(properties={"name": "dealname"})


def test_given_a_deal_mapping_of_an_unknown_fact_when_loaded_then_it_names_the_field():
    with pytest.raises(ValidationError, match="revenue_total"):
        HubSpotDealMapping(properties={"name": "dealname", "amount": "amount",
                                       "revenue_total": "x"})


def test_given_the_shipped_mapping_when_checked_against_the_sandboxes_then_it_fits():
    assert check_deal_mapping(DEAL, DEAL_PORTAL) == []
    assert check_status_map_values(STATUSES, "hs_lead_status", CONTACT_PORTAL) == []
    assert check_status_map_keys(STATUSES, LEAD_STATUSES) == []
    assert check_status_reason_property(
        OUTCOMES.hubspot.contact.status_reason_property, UNQUALIFIED_REASON,
        UNQUALIFIED_REASONS, CONTACT_PORTAL) == []


def test_given_a_salesforce_reason_the_dropdown_lacks_when_checked_then_it_is_named():
    reasons = [*UNQUALIFIED_REASONS, "Bought Elsewhere"]
    [problem] = check_status_reason_property("accord_unqualified_reason", UNQUALIFIED_REASON,
                                             reasons, CONTACT_PORTAL)
    assert "'Bought Elsewhere' is a value of Salesforce's Unqualified_Reason__c" in problem
    assert "not an option of accord_unqualified_reason" in problem and "No Budget" in problem


def test_given_a_text_property_when_checked_then_any_reason_fits():
    assert check_status_reason_property("jobtitle", UNQUALIFIED_REASON, ["Anything"],
                                        CONTACT_PORTAL) == []


@pytest.mark.parametrize(("name", "field", "expected"), [
    ("accord_why", UNQUALIFIED_REASON, "'accord_why' is not a contact property"),
    ("accord_score", UNQUALIFIED_REASON, "'accord_score' is a number property"),
    ("createdate", UNQUALIFIED_REASON, "'createdate' is read-only"),
    ("accord_unqualified_reason", None, "names no salesforce.lead.status_reason_field"),
])
def test_given_a_reason_property_that_cannot_hold_a_reason_when_checked_then_it_says_why(
        name: str, field: str | None, expected: str):
    [problem] = check_status_reason_property(name, field, UNQUALIFIED_REASONS, CONTACT_PORTAL)
    assert expected in problem
    assert problem.startswith("mappings/crm_outcomes.yaml hubspot.contact.status_reason_property")


def test_given_a_stage_and_a_property_the_portal_lacks_when_checked_then_both_named():
    broken = DEAL.model_copy(update={"won_stage": "won", "properties": {
        **DEAL.properties, "first_campaign": "accord_first_campaign"}})
    problems = check_deal_mapping(broken, DEAL_PORTAL)
    assert len(problems) == 2
    assert any("'won' is not an option of dealstage" in p and "closedwon" in p
               for p in problems)
    assert any("properties.first_campaign: 'accord_first_campaign' is not a deal property"
               in p for p in problems)


def test_given_a_portal_without_a_unique_deal_key_when_checked_then_it_says_so():
    portal = [p for p in DEAL_PORTAL if p["name"] != "accord_deal_key"]
    [problem] = check_deal_mapping(DEAL, portal)
    assert "accord_deal_key" in problem


def test_given_a_status_typo_and_a_bad_option_when_checked_then_each_is_named():
    statuses = {"Working - Contacetd": "IN_PROGRESS", "Nurture": "LATER"}
    [key] = check_status_map_keys(statuses, LEAD_STATUSES)
    [value] = check_status_map_values(statuses, "hs_lead_status", CONTACT_PORTAL)
    assert "'Working - Contacetd' is not an active Lead Status" in key
    assert "'LATER' is not an option of hs_lead_status" in value and "BAD_TIMING" in value
