"""The Salesforce sandbox's API usage accounting and its test/demo knobs (latency, errors,
outages, a tight daily allowance, expired sessions), seen through simple-salesforce."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
import requests
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
)

from tests.integration.sandboxes.salesforce_client import (
    connect,
    eventually,
    lead,
    new_key,
    sandbox_session,
)

if TYPE_CHECKING:
    from tests.integration.sandboxes.conftest import SalesforceSandbox

pytestmark = pytest.mark.integration

KEY = "Accord_Lead_Key__c"
UNAVAILABLE = [{"message": "Server is temporarily unavailable, please try again later.",
                "errorCode": "SERVER_UNAVAILABLE"}]


@pytest.fixture(autouse=True)
def reset_knobs(salesforce_sandbox: SalesforceSandbox) -> Iterator[None]:
    yield
    eventually(lambda: salesforce_sandbox.admin("DELETE", "/knobs").status_code == 200)


def test_given_no_admin_token_when_knobs_called_then_401(
        salesforce_sandbox: SalesforceSandbox) -> None:
    answer = salesforce_sandbox.admin("POST", "/knobs", {"latency_ms": 5}, token="wrong")

    assert answer.status_code == 401
    assert answer.json()[0]["errorCode"] == "INVALID_ADMIN_TOKEN"
    assert salesforce_sandbox.admin("GET", "/knobs").json()["latency_ms"] == 0


def test_given_call_options_client_when_calls_made_then_usage_counted_per_client_and_in_limits(
        salesforce_sandbox: SalesforceSandbox) -> None:
    session = sandbox_session(salesforce_sandbox)
    session.headers["Sforce-Call-Options"] = "client=accord-sync/1.0, defaultNamespace=acc"
    sf = connect(salesforce_sandbox, session=session)
    before = salesforce_sandbox.admin("GET", "/usage").json()["by_client"].get("accord-sync/1.0", 0)

    sf.query("SELECT COUNT() FROM Lead")
    limits = sf.restful("limits")
    usage = salesforce_sandbox.admin("GET", "/usage").json()

    assert usage["by_client"]["accord-sync/1.0"] == before + 2
    used = sf.api_usage["api-usage"]
    assert (used.used, used.total) == (usage["used"], 15000)
    assert limits["DailyApiRequests"] == {"Max": 15000, "Remaining": 15000 - used.used}


def test_given_tight_allowance_knob_when_exhausted_then_403_request_limit_exceeded(
        salesforce_sandbox: SalesforceSandbox) -> None:
    sf = connect(salesforce_sandbox)
    sf.query("SELECT COUNT() FROM Lead")
    used = sf.api_usage["api-usage"].used
    salesforce_sandbox.knobs(api_daily_limit=used + 1)

    sf.query("SELECT COUNT() FROM Lead")
    with pytest.raises(SalesforceRefusedRequest) as raised:
        sf.query("SELECT COUNT() FROM Lead")

    assert raised.value.status == 403
    assert raised.value.content == [{"message": "TotalRequests Limit exceeded.",
                                     "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    limit_info = sf.session.get(f"{salesforce_sandbox.base_url}/services/data/v62.0/limits",
                                headers=sf.headers, timeout=10)
    assert limit_info.headers["Sforce-Limit-Info"] == f"api-usage={used + 1}/{used + 1}"


def test_given_latency_knob_when_api_called_then_answer_delayed(
        salesforce_sandbox: SalesforceSandbox) -> None:
    sf = connect(salesforce_sandbox)
    salesforce_sandbox.knobs(latency_ms=400)

    started = time.monotonic()
    sf.query("SELECT COUNT() FROM Lead")

    assert time.monotonic() - started >= 0.4


def test_given_error_rate_of_503s_when_api_called_then_server_unavailable_not_counted(
        salesforce_sandbox: SalesforceSandbox) -> None:
    sf = connect(salesforce_sandbox)
    sf.query("SELECT COUNT() FROM Lead")
    used = sf.api_usage["api-usage"].used
    salesforce_sandbox.knobs(error_rate=1.0, error_kinds=["unavailable"])

    with pytest.raises(SalesforceGeneralError) as raised:
        sf.query("SELECT COUNT() FROM Lead")

    assert raised.value.status == 503
    assert raised.value.content == UNAVAILABLE
    assert salesforce_sandbox.admin("GET", "/usage").json()["used"] == used


def test_given_error_rate_of_lock_errors_when_writing_then_unable_to_lock_row_reads_pass(
        salesforce_sandbox: SalesforceSandbox) -> None:
    sf = connect(salesforce_sandbox)
    salesforce_sandbox.knobs(error_rate=1.0, error_kinds=["unable_to_lock_row"])

    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.Lead.upsert(f"{KEY}/{new_key()}", lead())
    collection = sf.restful(f"composite/sobjects/Lead/{KEY}", method="PATCH", json={
        "records": [{"attributes": {"type": "Lead"}, KEY: new_key(), **lead()}]})
    read = sf.query("SELECT COUNT() FROM Lead")

    lock = {"message": "unable to obtain exclusive access to this record",
            "errorCode": "UNABLE_TO_LOCK_ROW", "fields": []}
    assert raised.value.content == [lock]
    assert collection == [{"success": False, "errors": [{
        "statusCode": "UNABLE_TO_LOCK_ROW", "message": lock["message"], "fields": []}]}]
    assert read["done"] is True


def test_given_half_error_rate_when_many_calls_then_some_fail_and_some_pass(
        salesforce_sandbox: SalesforceSandbox) -> None:
    sf = connect(salesforce_sandbox)
    salesforce_sandbox.knobs(error_rate=0.5, error_kinds=["unavailable"])
    outcomes = []

    for _ in range(40):
        try:
            sf.query("SELECT COUNT() FROM Lead")
            outcomes.append(True)
        except SalesforceGeneralError:
            outcomes.append(False)

    assert 5 <= outcomes.count(False) <= 35


def test_given_unavailable_outage_when_api_called_then_503_until_window_ends(
        salesforce_sandbox: SalesforceSandbox) -> None:
    sf = connect(salesforce_sandbox)
    knobs = salesforce_sandbox.knobs(outage_seconds=1.5, outage_mode="unavailable")

    with pytest.raises(SalesforceGeneralError) as raised:
        sf.query("SELECT COUNT() FROM Lead")
    token = sandbox_session(salesforce_sandbox).post(salesforce_sandbox.token_url, timeout=10)
    time.sleep(1.6)

    assert knobs["outage_mode"] == "unavailable" and knobs["outage_remaining_seconds"] > 1
    assert (raised.value.status, raised.value.content) == (503, UNAVAILABLE)
    assert token.status_code == 503
    assert sf.query("SELECT COUNT() FROM Lead")["done"] is True


def test_given_refuse_outage_when_api_called_then_connection_refused_until_window_ends(
        salesforce_sandbox: SalesforceSandbox) -> None:
    sf = connect(salesforce_sandbox)
    sf.query("SELECT COUNT() FROM Lead")  # a pooled connection, cut when the outage starts
    salesforce_sandbox.knobs(outage_seconds=2, outage_mode="refuse")
    time.sleep(0.5)

    with pytest.raises(requests.ConnectionError) as raised:
        sf.query("SELECT COUNT() FROM Lead")

    assert "refused" in str(raised.value).lower()
    eventually(lambda: _answers(salesforce_sandbox), timeout=10)
    assert sf.query("SELECT COUNT() FROM Lead")["done"] is True


def _answers(sandbox: SalesforceSandbox) -> bool:
    try:
        return sandbox_session(sandbox).get(f"{sandbox.base_url}/__sandbox/health",
                                            timeout=2).status_code == 200
    except requests.ConnectionError:
        return False


def test_given_sessions_expired_when_api_called_then_invalid_session_and_new_token_works(
        salesforce_sandbox: SalesforceSandbox) -> None:
    sf = connect(salesforce_sandbox)
    sf.query("SELECT COUNT() FROM Lead")

    expired = salesforce_sandbox.admin("POST", "/sessions/expire")
    with pytest.raises(SalesforceExpiredSession) as raised:
        sf.query("SELECT COUNT() FROM Lead")

    assert expired.json()["expired"] >= 1
    assert raised.value.content == [{"message": "Session expired or invalid",
                                     "errorCode": "INVALID_SESSION_ID"}]
    assert connect(salesforce_sandbox).query("SELECT COUNT() FROM Lead")["done"] is True


def test_given_one_token_expired_when_api_called_then_only_that_session_ends(
        salesforce_sandbox: SalesforceSandbox) -> None:
    first, second = connect(salesforce_sandbox), connect(salesforce_sandbox)

    answer = salesforce_sandbox.admin("POST", "/sessions/expire",
                                      {"access_token": first.session_id})

    assert answer.json() == {"expired": 1}
    with pytest.raises(SalesforceExpiredSession):
        first.query("SELECT COUNT() FROM Lead")
    assert second.query("SELECT COUNT() FROM Lead")["done"] is True
