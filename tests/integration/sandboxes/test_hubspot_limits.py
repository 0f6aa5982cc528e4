"""Rate limits and fault knobs of the HubSpot sandbox, seen through hubspot-api-client."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import hubspot
import pytest
from hubspot.crm.contacts import (
    ApiException,
    BatchInputSimplePublicObjectBatchInputUpsert,
    SimplePublicObjectBatchInputUpsert,
)

from tests.integration.sandboxes.hubspot_fixture import HubSpotSandbox, start_hubspot_sandbox

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubSpotSandbox]:
    """A sandbox of this module's own: its knobs and counters are not shared."""
    started = start_hubspot_sandbox(tmp_path_factory.mktemp("hubspot-limits") / "data")
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def contacts(sandbox: HubSpotSandbox) -> Iterator[object]:
    """The contacts basic API; knobs go back to their settings after each test."""
    client = hubspot.Client.create(access_token=sandbox.access_token, host=sandbox.base_url)
    sandbox.reset_knobs()
    yield client.crm.contacts.basic_api
    sandbox.reset_knobs()


def call_status(api) -> tuple[int, dict, Any]:
    try:
        _, status, headers = api.get_page_with_http_info(limit=1)
    except ApiException as error:
        return error.status, json.loads(error.body), error.headers or {}
    return status, {}, headers


def test_given_tight_ten_second_limit_when_exceeded_then_429_ten_secondly_rolling(
        sandbox, contacts):
    sandbox.set_knobs(ten_second_limit=3)

    answers = [call_status(contacts) for _ in range(4)]

    assert [status for status, _, _ in answers] == [200, 200, 200, 429]
    assert [h["X-HubSpot-RateLimit-Remaining"] for _, _, h in answers] == ["2", "1", "0", "0"]
    _, body, headers = answers[3]
    assert body["status"] == "error"
    assert body["message"] == "You have reached your ten_secondly_rolling limit."
    assert (body["errorType"], body["policyName"]) == ("RATE_LIMIT", "TEN_SECONDLY_ROLLING")
    assert uuid.UUID(body["correlationId"])
    assert headers["X-HubSpot-RateLimit-Max"] == "3"
    assert headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"


def test_given_window_full_when_ten_seconds_pass_then_calls_accepted_again(sandbox, contacts):
    sandbox.set_knobs(ten_second_limit=2)
    for _ in range(2):
        call_status(contacts)
    assert call_status(contacts)[0] == 429

    time.sleep(10.2)

    assert call_status(contacts)[0] == 200


def test_given_daily_cap_reached_when_called_then_429_daily(sandbox, contacts):
    used = 625_000 - int(call_status(contacts)[2]["X-HubSpot-RateLimit-Daily-Remaining"])
    sandbox.set_knobs(daily_limit=used + 1)

    allowed, refused = call_status(contacts), call_status(contacts)

    assert allowed[0] == 200 and allowed[2]["X-HubSpot-RateLimit-Daily-Remaining"] == "0"
    assert refused[0] == 429
    assert refused[1]["policyName"] == "DAILY"
    assert refused[1]["message"] == "You have reached your daily limit."


def test_given_wrong_token_when_limit_reached_then_still_401(sandbox, contacts):
    sandbox.set_knobs(ten_second_limit=1)
    call_status(contacts)
    stranger = hubspot.Client.create(access_token="pat-na1-wrong", host=sandbox.base_url)

    assert call_status(stranger.crm.contacts.basic_api)[0] == 401


def test_given_outage_when_called_then_503_until_it_ends(sandbox, contacts):
    sandbox.set_knobs(outage_seconds=1.5)

    during = call_status(contacts)
    assert httpx.get(f"{sandbox.base_url}/__sandbox/health", trust_env=False).status_code == 200
    time.sleep(1.6)
    after = call_status(contacts)

    assert during[0] == 503
    assert during[1]["status"] == "error" and during[1]["category"] == "INTERNAL_ERROR"
    assert "Retry-After" not in during[2]  # urllib3 would sleep it out and retry silently
    assert after[0] == 200


def test_given_outage_when_set_to_zero_then_api_answers_again(sandbox, contacts):
    sandbox.set_knobs(outage_seconds=600)
    assert call_status(contacts)[0] == 503

    knobs = sandbox.set_knobs(outage_seconds=0)

    assert knobs["outage_seconds_left"] == 0
    assert call_status(contacts)[0] == 200


def test_given_error_rate_one_when_called_then_every_call_502_or_503_with_error_body(
        sandbox, contacts):
    sandbox.set_knobs(error_rate=1.0)

    answers = [call_status(contacts) for _ in range(6)]

    assert {status for status, _, _ in answers} <= {502, 503}
    assert all(body["status"] == "error" and "correlationId" in body for _, body, _ in answers)
    sandbox.set_knobs(error_rate=0.0)
    assert call_status(contacts)[0] == 200


def test_given_error_rate_half_when_called_many_times_then_some_fail_and_some_pass(
        sandbox, contacts):
    sandbox.set_knobs(error_rate=0.5)

    statuses = [call_status(contacts)[0] for _ in range(40)]

    assert 200 in statuses
    assert {502, 503} & set(statuses)


def test_given_latency_when_called_then_answer_is_delayed(sandbox, contacts):
    started = time.monotonic()
    call_status(contacts)
    quick = time.monotonic() - started
    sandbox.set_knobs(latency_ms=400)

    started = time.monotonic()
    status = call_status(contacts)[0]
    slow = time.monotonic() - started

    assert status == 200
    assert slow >= 0.4 > quick


def test_given_knobs_when_reset_then_settings_values_return(sandbox, contacts):
    sandbox.set_knobs(latency_ms=5, error_rate=0.25, ten_second_limit=7, daily_limit=9)

    sandbox.reset_knobs()

    assert sandbox.admin("GET", "knobs") == {
        "latency_ms": 0, "error_rate": 0.0, "outage_seconds_left": 0,
        "ten_second_limit": 190, "daily_limit": 625_000}


def test_given_unknown_knob_when_posted_then_400(sandbox, contacts):
    answer = httpx.post(f"{sandbox.base_url}/__sandbox/knobs", json={"speed": 1},
                        headers={"Authorization": f"Bearer {sandbox.admin_token}"},
                        trust_env=False)

    assert answer.status_code == 400
    assert answer.json()["category"] == "VALIDATION_ERROR"


def test_given_101_contacts_when_batch_upserted_then_hubspot_batch_limit_message(
        sandbox, contacts):
    client = hubspot.Client.create(access_token=sandbox.access_token, host=sandbox.base_url)
    batch = BatchInputSimplePublicObjectBatchInputUpsert(inputs=[
        SimplePublicObjectBatchInputUpsert(id_property="email", id=f"c{i}@example.com",
                                           properties={})
        for i in range(101)])

    with pytest.raises(ApiException) as raised:
        client.crm.contacts.batch_api.upsert(
            batch_input_simple_public_object_batch_input_upsert=batch)

    assert raised.value.status == 400
    assert json.loads(raised.value.body)["message"] == (
        "The maximum number of inputs supported in a batch is 100. "
        "Please reduce the number of items and try again")


def test_given_calls_and_a_refusal_when_usage_is_read_then_the_admin_api_counts_them_at_no_cost(
        sandbox, contacts):
    deadline = time.monotonic() + 15
    while sandbox.admin("GET", "usage")["last_ten_seconds"]:  # earlier tests' calls age out
        assert time.monotonic() < deadline
        time.sleep(0.5)
    sandbox.set_knobs(ten_second_limit=2)
    before = sandbox.admin("GET", "usage")

    statuses = [call_status(contacts)[0] for _ in range(3)]
    first, second = sandbox.admin("GET", "usage"), sandbox.admin("GET", "usage")

    assert statuses == [200, 200, 429]
    assert first == second  # reading the usage is not a call
    assert first["today"] - before["today"] == 2
    assert first["last_ten_seconds"] == 2
    assert first["ten_second_limit"] == 2
    assert first["refused"].get("TEN_SECONDLY_ROLLING", 0) - before["refused"].get(
        "TEN_SECONDLY_ROLLING", 0) == 1
