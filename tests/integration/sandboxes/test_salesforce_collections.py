"""sObject Collections upsert on the Salesforce sandbox, through simple-salesforce's
``restful`` (the client has no method of its own for it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound

from tests.integration.sandboxes.salesforce_client import (
    JAMES,
    MARIA,
    connect,
    lead,
    new_key,
)

if TYPE_CHECKING:
    from tests.integration.sandboxes.conftest import SalesforceSandbox

pytestmark = pytest.mark.integration

KEY = "Accord_Lead_Key__c"


def upsert(sf: Salesforce, records: list[dict[str, Any]], sobject: str = "Lead",
           field: str = KEY, all_or_none: bool = False) -> list[dict[str, Any]]:
    body = {"allOrNone": all_or_none,
            "records": [{"attributes": {"type": sobject}, **r} for r in records]}
    answer: list[dict[str, Any]] = sf.restful(f"composite/sobjects/{sobject}/{field}",
                                              method="PATCH", json=body)
    return answer


def test_given_new_and_known_keys_when_collection_upserted_then_upsert_results_in_order(
        salesforce_sandbox: SalesforceSandbox) -> None:
    sf = connect(salesforce_sandbox)
    known, fresh = new_key(), new_key()
    sf.Lead.upsert(f"{KEY}/{known}", lead(Accord_Score__c=10))

    results = upsert(sf, [lead(**{KEY: fresh}), {KEY: known.upper(), "Accord_Score__c": 90,
                                                 "OwnerId": JAMES}])

    assert [(r["success"], r["errors"], r["created"]) for r in results] == [
        (True, [], True), (True, [], False)]
    assert list(results[0]) == ["id", "success", "errors", "created"]
    assert results[0]["id"].startswith("00Q") and len(results[0]["id"]) == 18
    updated = sf.Lead.get_by_custom_id(KEY, known)
    assert (updated["Id"], updated["Accord_Score__c"], updated["OwnerId"]) == (
        results[1]["id"], 90, JAMES)


def test_given_bad_records_when_upserted_without_all_or_none_then_others_saved(
        salesforce_sandbox: SalesforceSandbox) -> None:
    sf = connect(salesforce_sandbox)
    keys = [new_key() for _ in range(3)]

    results = upsert(sf, [lead(**{KEY: keys[0]}, Status="Hot"),
                          {KEY: keys[1], "LastName": "Lee"},
                          lead(**{KEY: keys[2]})])

    assert results[0] == {"success": False, "errors": [{
        "statusCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        "message": "Status: bad value for restricted picklist field: Hot",
        "fields": ["Status"]}]}
    assert results[1]["errors"] == [{"statusCode": "REQUIRED_FIELD_MISSING",
                                     "message": "Required fields are missing: [Company]",
                                     "fields": ["Company"]}]
    assert results[2]["success"] is True and results[2]["created"] is True
    found = sf.query(f"SELECT {KEY} FROM Lead WHERE {KEY} IN "
                     f"('{keys[0]}', '{keys[1]}', '{keys[2]}')")
    assert [r[KEY] for r in found["records"]] == [keys[2]]


def test_given_one_bad_record_when_upserted_all_or_none_then_every_record_rolled_back(
        salesforce_sandbox: SalesforceSandbox) -> None:
    sf = connect(salesforce_sandbox)
    good, bad = new_key(), new_key()

    results = upsert(sf, [lead(**{KEY: good}), lead(**{KEY: bad}, Email="not-an-email")],
                     all_or_none=True)

    assert results[0] == {"success": False, "errors": [{
        "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "message": "Record rolled back because not all records were valid and the request "
                   "was using AllOrNone header", "fields": []}]}
    assert results[1]["errors"][0]["statusCode"] == "INVALID_EMAIL_ADDRESS"
    assert sf.query(f"SELECT Id FROM Lead WHERE {KEY} = '{good}'")["totalSize"] == 0


def test_given_converted_lead_when_upserted_then_cannot_update_converted_lead(
        salesforce_sandbox: SalesforceSandbox) -> None:
    sf = connect(salesforce_sandbox)
    key = new_key()
    sf.Lead.upsert(f"{KEY}/{key}", lead(Email=key))
    converted = salesforce_sandbox.admin("POST", f"/sales/leads/{key}/convert", {})
    assert converted.status_code == 200, converted.text

    results = upsert(sf, [{KEY: key, "Accord_Score__c": 55}])
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.Lead.upsert(f"{KEY}/{key}", {"Accord_Score__c": 56})

    error = {"statusCode": "CANNOT_UPDATE_CONVERTED_LEAD",
             "message": "cannot reference converted lead", "fields": []}
    assert results == [{"success": False, "errors": [error]}]
    assert raised.value.content == [{"message": "cannot reference converted lead",
                                     "errorCode": "CANNOT_UPDATE_CONVERTED_LEAD", "fields": []}]
    record = sf.Lead.get_by_custom_id(KEY, key)
    assert (record["IsConverted"], record["Status"]) == (True, "Closed - Converted")
    assert record["ConvertedContactId"] == converted.json()["contactId"]


def test_given_201_records_when_upserted_then_400_exceeded_id_limit(
        salesforce_sandbox: SalesforceSandbox) -> None:
    sf = connect(salesforce_sandbox)

    with pytest.raises(SalesforceMalformedRequest) as raised:
        upsert(sf, [lead(**{KEY: new_key()}) for _ in range(201)])

    assert raised.value.content == [{
        "message": "record limit reached. cannot submit more than 200 records into this call",
        "errorCode": "EXCEEDED_ID_LIMIT"}]


def test_given_200_records_when_upserted_then_one_api_call_saves_all(
        salesforce_sandbox: SalesforceSandbox) -> None:
    sf = connect(salesforce_sandbox)
    sf.query("SELECT COUNT() FROM Lead")
    before = sf.api_usage["api-usage"].used

    results = upsert(sf, [lead(**{KEY: new_key()}) for _ in range(200)])

    assert len(results) == 200 and all(r["success"] and r["created"] for r in results)
    assert sf.api_usage["api-usage"].used == before + 1


def test_given_missing_and_repeated_keys_when_upserted_then_per_record_errors(
        salesforce_sandbox: SalesforceSandbox) -> None:
    sf = connect(salesforce_sandbox)
    twice = new_key()

    results = upsert(sf, [lead(), lead(**{KEY: twice}), lead(**{KEY: twice.upper()})])

    assert results[0]["errors"] == [{"statusCode": "MISSING_ARGUMENT",
                                     "message": f"{KEY} not specified", "fields": []}]
    assert [r["errors"][0]["statusCode"] for r in results[1:]] == ["DUPLICATE_VALUE"] * 2


def test_given_record_of_another_type_or_unknown_field_when_upserted_then_refused(
        salesforce_sandbox: SalesforceSandbox) -> None:
    sf = connect(salesforce_sandbox)
    body = {"records": [{"attributes": {"type": "Contact"}, "LastName": "Lee", KEY: new_key()}]}

    with pytest.raises(SalesforceMalformedRequest) as wrong_type:
        sf.restful(f"composite/sobjects/Lead/{KEY}", method="PATCH", json=body)
    with pytest.raises(SalesforceResourceNotFound) as not_external:
        upsert(sf, [lead(Email=new_key())], field="Email")

    assert wrong_type.value.content[0]["errorCode"] == "INVALID_TYPE"
    assert not_external.value.content[0]["errorCode"] == "NOT_FOUND"


def test_given_contacts_and_opportunities_when_upserted_then_related_and_queryable(
        salesforce_sandbox: SalesforceSandbox) -> None:
    sf = connect(salesforce_sandbox)
    account = sf.Account.create({"Name": "Acme"})["id"]
    lead_key, deal_key = new_key(), f"deal-{new_key()}"
    contacts = upsert(sf, [{KEY: lead_key, "LastName": "Lee", "AccountId": account}],
                      sobject="Contact")
    contact = contacts[0]["id"]

    deals = upsert(sf, [{"Accord_Opportunity_Key__c": deal_key, "Name": "Acme - 40 seats",
                         "StageName": "Prospecting", "CloseDate": "2026-12-31",
                         "Amount": 48000, "AccountId": account, "ContactId": contact,
                         KEY: lead_key, "OwnerId": MARIA}],
                   sobject="Opportunity", field="Accord_Opportunity_Key__c")
    won = upsert(sf, [{"Accord_Opportunity_Key__c": deal_key, "StageName": "Closed Won"}],
                 sobject="Opportunity", field="Accord_Opportunity_Key__c")

    assert contacts[0]["created"] and contact.startswith("003")
    assert deals[0]["created"] and won[0]["created"] is False
    row = sf.query("SELECT Amount, StageName, CloseDate, IsClosed, IsWon, Probability, "
                   f"ContactId, AccountId FROM Opportunity WHERE {KEY} = '{lead_key}'")
    assert {k: v for k, v in row["records"][0].items() if k != "attributes"} == {
        "Amount": 48000.0, "StageName": "Closed Won", "CloseDate": "2026-12-31",
        "IsClosed": True, "IsWon": True, "Probability": 100.0, "ContactId": contact,
        "AccountId": account}


def test_given_bad_stage_and_close_date_when_opportunity_upserted_then_per_record_errors(
        salesforce_sandbox: SalesforceSandbox) -> None:
    sf = connect(salesforce_sandbox)
    base = {"Name": "Deal", "CloseDate": "2026-12-31", "StageName": "Prospecting"}

    results = upsert(sf, [{**base, "Accord_Opportunity_Key__c": new_key(), "StageName": "Won"},
                          {**base, "Accord_Opportunity_Key__c": new_key(), "CloseDate": None}],
                     sobject="Opportunity", field="Accord_Opportunity_Key__c")

    assert [r["errors"][0]["statusCode"] for r in results] == [
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "REQUIRED_FIELD_MISSING"]
    assert [r["errors"][0]["fields"] for r in results] == [["StageName"], ["CloseDate"]]
