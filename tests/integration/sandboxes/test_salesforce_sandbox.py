"""The Salesforce sandbox driven by the unmodified simple-salesforce client, as sync uses it."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from tests.integration.sandboxes.salesforce_client import (
    JAMES,
    MARIA,
    connect,
    lead,
    new_key,
    request_token,
    sandbox_session,
)

if TYPE_CHECKING:
    from tests.integration.sandboxes.conftest import SalesforceSandbox

pytestmark = pytest.mark.integration


def test_given_configured_client_when_token_requested_then_bearer_token_for_instance(
        salesforce_sandbox: SalesforceSandbox) -> None:
    response = request_token(salesforce_sandbox, sandbox_session(salesforce_sandbox))

    assert response.status_code == 200
    token = response.json()
    assert token["token_type"] == "Bearer"
    assert token["instance_url"] == salesforce_sandbox.base_url
    assert token["id"].endswith("/id/00D000000000001AAA/005000000000009AAA")
    assert token["issued_at"].isdigit() and token["signature"] and token["access_token"]


def test_given_wrong_secret_when_token_requested_then_400_invalid_client(
        salesforce_sandbox: SalesforceSandbox) -> None:
    response = request_token(salesforce_sandbox, sandbox_session(salesforce_sandbox),
                             client_secret="not-the-secret")

    assert response.status_code == 400
    assert response.json() == {"error": "invalid_client",
                               "error_description": "invalid client credentials"}


def test_given_unknown_client_id_when_token_requested_then_400_invalid_client_id(
        salesforce_sandbox: SalesforceSandbox) -> None:
    response = request_token(salesforce_sandbox, sandbox_session(salesforce_sandbox),
                             client_id="someone-else")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_id"


def test_given_password_grant_when_token_requested_then_400_unsupported_grant_type(
        salesforce_sandbox: SalesforceSandbox) -> None:
    response = request_token(salesforce_sandbox, sandbox_session(salesforce_sandbox),
                             grant_type="password")

    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_given_new_lead_key_when_upserted_then_created_201(
        salesforce_sandbox: SalesforceSandbox) -> None:
    sf = connect(salesforce_sandbox)

    status = sf.Lead.upsert(f"Accord_Lead_Key__c/{new_key()}", lead())

    assert status == 201


def test_given_existing_lead_key_when_upserted_again_then_200_and_record_updated(
        salesforce_sandbox: SalesforceSandbox) -> None:
    sf = connect(salesforce_sandbox)
    key = new_key()
    sf.Lead.upsert(f"Accord_Lead_Key__c/{key}", lead(Accord_Score__c=40))

    # External ids match case-insensitively, as in Salesforce.
    status = sf.Lead.upsert(f"Accord_Lead_Key__c/{key.upper()}",
                            {"Accord_Score__c": 87, "OwnerId": JAMES})

    assert status == 200
    record = sf.Lead.get_by_custom_id("Accord_Lead_Key__c", key)
    assert record["Accord_Score__c"] == 87
    assert record["OwnerId"] == JAMES
    assert record["LastName"] == "Lee"


def test_given_upserted_lead_when_queried_by_key_then_owner_and_status_returned(
        salesforce_sandbox: SalesforceSandbox) -> None:
    sf = connect(salesforce_sandbox)
    key = new_key()
    sf.Lead.upsert(f"Accord_Lead_Key__c/{key}", lead(Email=key))

    result = sf.query("SELECT Id, OwnerId, Status, Name FROM Lead "
                      f"WHERE Accord_Lead_Key__c = '{key}'")

    assert result["totalSize"] == 1 and result["done"] is True
    row = result["records"][0]
    assert row["attributes"]["type"] == "Lead"
    assert row["attributes"]["url"] == f"/services/data/v62.0/sobjects/Lead/{row['Id']}"
    assert (row["OwnerId"], row["Status"], row["Name"]) == (MARIA, "Marketing Qualified",
                                                            "Ann Lee")


def test_given_seeded_owners_when_user_queried_by_email_then_user_found(
        salesforce_sandbox: SalesforceSandbox) -> None:
    sf = connect(salesforce_sandbox)

    result = sf.query("SELECT Id, Email, Name, IsActive FROM User "
                      "WHERE Email IN ('maria.garcia@accord.example', 'JAMES.CHEN@accord.example') "
                      "ORDER BY Email")

    assert [(r["Id"], r["Name"], r["IsActive"]) for r in result["records"]] == [
        (JAMES, "James Chen", True), (MARIA, "Maria Garcia", True)]


def test_given_unknown_field_when_upserted_then_malformed_request_invalid_field(
        salesforce_sandbox: SalesforceSandbox) -> None:
    sf = connect(salesforce_sandbox)

    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.Lead.upsert(f"Accord_Lead_Key__c/{new_key()}", lead(Foo__c="x"))

    assert raised.value.content == [{"message": "No such column 'Foo__c' on sobject of type Lead",
                                     "errorCode": "INVALID_FIELD", "fields": []}]


def test_given_status_outside_picklist_when_upserted_then_malformed_request_restricted_picklist(
        salesforce_sandbox: SalesforceSandbox) -> None:
    sf = connect(salesforce_sandbox)

    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.Lead.upsert(f"Accord_Lead_Key__c/{new_key()}", lead(Status="Hot"))

    error = raised.value.content[0]
    assert error["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert error["fields"] == ["Status"]
    assert "bad value for restricted picklist field: Hot" in error["message"]


def test_given_lead_without_company_when_upserted_then_required_field_missing(
        salesforce_sandbox: SalesforceSandbox) -> None:
    sf = connect(salesforce_sandbox)

    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.Lead.upsert(f"Accord_Lead_Key__c/{new_key()}", {"LastName": "Lee"})

    assert raised.value.content[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert raised.value.content[0]["fields"] == ["Company"]


def test_given_owner_that_is_no_user_when_upserted_then_invalid_cross_reference(
        salesforce_sandbox: SalesforceSandbox) -> None:
    sf = connect(salesforce_sandbox)

    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.Lead.upsert(f"Accord_Lead_Key__c/{new_key()}", lead(OwnerId="005000000000099AAA"))

    assert raised.value.content[0]["errorCode"] == "INVALID_CROSS_REFERENCE_KEY"
    assert raised.value.content[0]["fields"] == ["OwnerId"]


def test_given_field_that_is_no_external_id_when_upserted_then_resource_not_found(
        salesforce_sandbox: SalesforceSandbox) -> None:
    sf = connect(salesforce_sandbox)

    with pytest.raises(SalesforceResourceNotFound) as raised:
        sf.Lead.upsert("Email/ann@example.com", lead())

    assert raised.value.content[0]["errorCode"] == "NOT_FOUND"


def test_given_bogus_token_when_api_called_then_expired_session(
        salesforce_sandbox: SalesforceSandbox) -> None:
    sf = connect(salesforce_sandbox, session_id="00D000000000001!not-a-token")

    with pytest.raises(SalesforceExpiredSession) as raised:
        sf.query("SELECT Id FROM Lead")

    assert raised.value.content == [{"message": "Session expired or invalid",
                                     "errorCode": "INVALID_SESSION_ID"}]


def test_given_token_older_than_session_lifetime_when_api_called_then_expired_session(
        salesforce_sandbox: SalesforceSandbox) -> None:
    salesforce_sandbox.restart({"SALESFORCE_SANDBOX_SESSION_SECONDS": "1"})
    try:
        sf = connect(salesforce_sandbox)
        sf.query("SELECT Id FROM Lead LIMIT 1")
        time.sleep(1.2)

        with pytest.raises(SalesforceExpiredSession):
            sf.query("SELECT Id FROM Lead LIMIT 1")
    finally:
        salesforce_sandbox.restart()


def test_given_records_and_token_when_sandbox_restarts_then_both_survive(
        salesforce_sandbox: SalesforceSandbox) -> None:
    sf = connect(salesforce_sandbox)
    key = new_key()
    sf.Lead.upsert(f"Accord_Lead_Key__c/{key}", lead(Accord_Stage__c="mql"))
    ca_before = salesforce_sandbox.ca_path.read_bytes()

    salesforce_sandbox.restart()

    assert salesforce_sandbox.ca_path.read_bytes() == ca_before
    record = sf.Lead.get_by_custom_id("Accord_Lead_Key__c", key)
    assert record["Accord_Stage__c"] == "mql"


def test_given_api_calls_when_made_then_sforce_limit_info_counts_up(
        salesforce_sandbox: SalesforceSandbox) -> None:
    sf = connect(salesforce_sandbox)

    sf.query("SELECT COUNT() FROM Lead")
    first = sf.api_usage["api-usage"]
    sf.query("SELECT COUNT() FROM Lead")
    second = sf.api_usage["api-usage"]

    assert second.used == first.used + 1
    assert second.total == 15000


def test_given_daily_limit_reached_when_api_called_then_refused_request_limit_exceeded(
        salesforce_sandbox: SalesforceSandbox) -> None:
    sf = connect(salesforce_sandbox)
    sf.query("SELECT COUNT() FROM Lead")
    used = sf.api_usage["api-usage"].used
    salesforce_sandbox.restart({"SALESFORCE_SANDBOX_API_DAILY_LIMIT": str(used + 2)})
    try:
        sf.query("SELECT COUNT() FROM Lead")
        sf.query("SELECT COUNT() FROM Lead")

        with pytest.raises(SalesforceRefusedRequest) as raised:
            sf.query("SELECT COUNT() FROM Lead")

        assert raised.value.status == 403
        assert raised.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    finally:
        salesforce_sandbox.restart()


def test_given_account_when_created_updated_and_deleted_then_each_step_answers_like_salesforce(
        salesforce_sandbox: SalesforceSandbox) -> None:
    sf = connect(salesforce_sandbox)

    created = sf.Account.create({"Name": "Acme"})
    updated = sf.Account.update(created["id"], {"Website": "https://acme.example"})
    record = sf.Account.get(created["id"])
    deleted = sf.Account.delete(created["id"])

    assert created["success"] is True and created["id"].startswith("001")
    assert len(created["id"]) == 18
    assert (updated, deleted) == (204, 204)
    assert record["Website"] == "https://acme.example"
    assert record["OwnerId"] == "005000000000009AAA"
    with pytest.raises(SalesforceResourceNotFound) as raised:
        sf.Account.get(created["id"])
    assert raised.value.content[0]["errorCode"] == "ENTITY_IS_DELETED"
