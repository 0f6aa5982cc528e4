"""Opportunities in the Salesforce sandbox, and what a sales rep does: edit as themself,
convert a lead, win an opportunity."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from sandboxes.salesforce import sales
from sandboxes.salesforce.errors import ApiError
from sandboxes.salesforce.metadata import CONTACT, LEAD, OPPORTUNITY
from sandboxes.salesforce.records import Records
from sandboxes.salesforce.seed import seed_users, users_from_owners_file
from sandboxes.salesforce.store import Store

OWNERS = Path(__file__).resolve().parents[3] / "sandboxes" / "owners.yaml"
MARIA = "005000000000001AAA"
JAMES = "005000000000002AAA"
NURTURE = "005000000000004AAA"
KEY = "Accord_Lead_Key__c"


@pytest.fixture
def records(tmp_path: Path) -> Records:
    store = Store(tmp_path / "sf.sqlite3")
    seed_users(store, users_from_owners_file(OWNERS), datetime.now(UTC))
    return Records(store)


def a_lead(records: Records, key: str = "ann@example.com") -> str:
    return records.create(LEAD, {"LastName": "Lee", "FirstName": "Ann", "Company": "Acme",
                                 "Email": key, KEY: key, "OwnerId": MARIA})


def test_given_stage_when_opportunity_saved_then_probability_closed_and_won_follow(
        records: Records) -> None:
    deal = records.create(OPPORTUNITY, {"Name": "D", "StageName": "Prospecting",
                                        "CloseDate": "2026-12-31"})
    before = records.get(OPPORTUNITY, deal)
    records.update(OPPORTUNITY, deal, {"StageName": "Closed Lost"})
    after = records.get(OPPORTUNITY, deal)

    assert (before["Probability"], before["IsClosed"], before["IsWon"]) == (10, False, False)
    assert (after["Probability"], after["IsClosed"], after["IsWon"]) == (0, True, False)


@pytest.mark.parametrize("close_date", ["31/12/2026", "2026-02-30", "2026-12-31T00:00:00Z"])
def test_given_bad_close_date_when_opportunity_saved_then_json_parser_error(
        records: Records, close_date: str) -> None:
    with pytest.raises(ApiError) as raised:
        records.create(OPPORTUNITY, {"Name": "D", "StageName": "Prospecting",
                                     "CloseDate": close_date})

    assert raised.value.error_code == "JSON_PARSER_ERROR"


def test_given_lead_when_rep_edits_by_key_then_stamped_with_the_rep(records: Records) -> None:
    lead_id = a_lead(records)

    edited = sales.edit_as(records, LEAD, "ANN@example.com", JAMES, {"Status": "Nurture"})

    assert (edited["Id"], edited["Status"], edited["LastModifiedById"]) == (
        lead_id, "Nurture", JAMES)
    assert edited["CreatedById"] != JAMES


def test_given_no_user_when_rep_edits_then_the_owner_edits(records: Records) -> None:
    lead_id = a_lead(records)

    assert sales.edit_as(records, LEAD, lead_id, None, {"Title": "CTO"})[
        "LastModifiedById"] == MARIA


def test_given_unknown_user_when_rep_edits_then_refused(records: Records) -> None:
    a_lead(records)

    with pytest.raises(ApiError) as raised:
        sales.edit_as(records, LEAD, "ann@example.com", "005000000000099AAA", {"Title": "x"})

    assert raised.value.error_code == "INVALID_CROSS_REFERENCE_KEY"


def test_given_lead_when_converted_then_account_contact_opportunity_and_lead_closed(
        records: Records) -> None:
    lead_id = a_lead(records)

    result = sales.convert_lead(records, "ann@example.com", JAMES, {"Amount": 9000})

    converted = records.get(LEAD, lead_id)
    contact = records.get(CONTACT, result["contactId"])
    deal = records.get(OPPORTUNITY, result["opportunityId"])
    assert (converted["IsConverted"], converted["Status"]) == (True, "Closed - Converted")
    assert converted["ConvertedOpportunityId"] == result["opportunityId"]
    assert (contact["Email"], contact[KEY], contact["AccountId"]) == (
        "ann@example.com", "ann@example.com", result["accountId"])
    assert (deal["Amount"], deal["ContactId"], deal[KEY], deal["OwnerId"]) == (
        9000.0, result["contactId"], "ann@example.com", MARIA)
    assert deal["LastModifiedById"] == JAMES
    with pytest.raises(ApiError) as raised:
        records.update(LEAD, lead_id, {"Title": "CTO"})
    assert raised.value.error_code == "CANNOT_UPDATE_CONVERTED_LEAD"


def test_given_converted_lead_when_converted_again_then_refused(records: Records) -> None:
    a_lead(records)
    sales.convert_lead(records, "ann@example.com", None, None)

    with pytest.raises(ApiError) as raised:
        sales.convert_lead(records, "ann@example.com", None, None)

    assert raised.value.error_code == "CANNOT_UPDATE_CONVERTED_LEAD"


def test_given_opportunity_when_won_then_closed_won_today_with_amount(records: Records) -> None:
    deal = records.create(OPPORTUNITY, {"Name": "D", "StageName": "Prospecting",
                                        "CloseDate": "2027-03-31", "OwnerId": NURTURE,
                                        "Accord_Opportunity_Key__c": "deal-1"})

    won = sales.win_opportunity(records, "deal-1", 52000, MARIA, None)

    assert won["Id"] == deal
    assert (won["StageName"], won["Amount"], won["IsWon"], won["Probability"]) == (
        "Closed Won", 52000.0, True, 100)
    assert won["CloseDate"] == datetime.now(UTC).date().isoformat()


def test_given_lead_when_rep_unqualifies_with_reason_then_status_and_reason_saved(
        records: Records) -> None:
    lead_id = a_lead(records)

    sales.set_lead_status(records, "ann@example.com", "Unqualified", "No Budget", None)

    saved = records.get(LEAD, lead_id)
    assert (saved["Status"], saved["Unqualified_Reason__c"]) == ("Unqualified", "No Budget")


def test_given_unqualified_lead_when_rep_works_it_again_then_old_reason_cleared(
        records: Records) -> None:
    lead_id = a_lead(records)
    sales.set_lead_status(records, lead_id, "Unqualified", "No Need", None)

    sales.set_lead_status(records, lead_id, "Working - Contacted", None, None)

    saved = records.get(LEAD, lead_id)
    assert (saved["Status"], saved.get("Unqualified_Reason__c")) == ("Working - Contacted", None)


def test_given_reason_not_in_picklist_when_rep_unqualifies_then_restricted_picklist_error(
        records: Records) -> None:
    lead_id = a_lead(records)

    with pytest.raises(ApiError) as raised:
        sales.set_lead_status(records, lead_id, "Unqualified", "Too Small", None)

    assert raised.value.error_code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
