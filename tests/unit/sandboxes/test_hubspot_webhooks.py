"""Webhook parts of the HubSpot sandbox: events, signatures, and delivery (in-process)."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from sandboxes.hubspot.changes import Change, ChangeSource, changed_values
from sandboxes.hubspot.webhook_delivery import DeliveryPolicy, WebhookDispatcher
from sandboxes.hubspot.webhook_events import DEFAULT_SUBSCRIPTIONS, EventFactory, subscription_id
from sandboxes.hubspot.webhook_signing import signature_v3, signed_headers, v3_uri
from services.ingest import hubspot_signature
from services.ingest.hubspot_webhooks import parse_batch

API = ChangeSource.integration(4400001)


def test_given_snapshots_when_compared_then_changed_and_cleared_values_only():
    assert changed_values({"a": "1", "b": "2", "c": "3"}, {"a": "1", "b": "9", "d": "4"}) == {
        "b": "9", "d": "4", "c": ""}


def test_given_created_record_when_turned_into_events_then_creation_then_property_changes():
    factory = EventFactory(4400001, 62515, DEFAULT_SUBSCRIPTIONS)
    change = Change("contact", 101, 1_700_000_000_123, API, created=True,
                    properties={"email": "ann@example.com", "firstname": "Ann"})

    events = factory.events([change])

    assert [(e["subscriptionType"], e.get("propertyName")) for e in events] == [
        ("contact.creation", None), ("contact.propertyChange", "email"),
        ("contact.propertyChange", "firstname")]
    assert events[0]["changeFlag"] == "CREATED"
    assert all(e["sourceId"] == "4400001" and e["changeSource"] == "INTEGRATION"
               for e in events)
    assert len({e["eventId"] for e in events}) == 3
    assert events[1]["subscriptionId"] == subscription_id("contact.propertyChange", "email")
    assert events[1]["subscriptionId"] != events[2]["subscriptionId"]
    assert len(parse_batch(json.dumps(events).encode())) == 3


def test_given_subscription_list_when_change_not_subscribed_then_no_event():
    factory = EventFactory(1, 2, ["deal.propertyChange"])
    rep = ChangeSource.crm_ui(75000001)

    events = factory.events([Change("contact", 1, 5, rep, created=True, properties={"a": "b"}),
                             Change("deal", 7, 5, rep, properties={"amount": "10"})])

    assert [(e["objectId"], e["propertyName"], e["sourceId"]) for e in events] == [
        (7, "amount", "userId:75000001")]


@pytest.mark.parametrize("uri", [
    "https://ingest.example/webhooks/hubspot",
    "https://ingest.example/webhooks/hubspot?portal=62515&tag=a%3Ab%2Fc%40d",
])
def test_given_uri_when_signed_then_ingest_verifies_it(uri):
    body = b'[{"eventId":1}]'
    headers = signed_headers("secret", uri, body, 1_700_000_000_000)

    verdict = hubspot_signature.verify(
        hubspot_signature.SignedRequest("POST", uri, body, headers), "secret", ["v3"],
        now_ms=1_700_000_000_500)

    assert verdict.ok, verdict.detail
    assert signature_v3("secret", "post", uri, body, 1) == hubspot_signature.sign_v3(
        "secret", "POST", uri, body, "1")
    assert v3_uri("/a%3ab") == "/a:b"


def test_given_retry_policy_when_delays_computed_then_doubling_jittered_and_capped():
    policy = DeliveryPolicy("http://x", "s", retry_base_seconds=1.0, retry_cap_seconds=5.0)

    delays = [policy.delay_after(attempt) for attempt in range(6)]

    assert 0.75 <= delays[0] <= 1.0
    assert 1.5 <= delays[1] <= 2.0
    assert all(3.75 <= d <= 5.0 for d in delays[3:])


def events(count: int, object_id: int = 1) -> list[dict]:
    factory = EventFactory(1, 2, DEFAULT_SUBSCRIPTIONS)
    return factory.events([Change("contact", object_id, 5, API,
                                  properties={f"p{i}": "v" for i in range(count)})])


async def run_dispatcher(handler, published: list[dict], until, **policy) -> WebhookDispatcher:
    dispatcher = WebhookDispatcher(
        DeliveryPolicy("http://hooks.test/hubspot", "secret", **policy),
        transport=httpx.MockTransport(handler))
    dispatcher.start()
    try:
        dispatcher.publish(published)
        for _ in range(500):  # up to 5 s
            if until(dispatcher):
                break
            await asyncio.sleep(0.01)
        assert until(dispatcher), dispatcher.status()
    finally:
        await dispatcher.stop()
    return dispatcher


async def test_given_250_events_when_published_together_then_batches_of_100_100_50():
    sizes: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sizes.append(len(json.loads(request.content)))
        return httpx.Response(204)

    await run_dispatcher(handler, events(250), lambda d: d.delivered_events == 250)

    assert sorted(sizes, reverse=True) == [100, 100, 50]


async def test_given_failing_target_when_attempts_exhausted_then_counted_as_failed():
    attempts: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(json.loads(request.content)[0]["attemptNumber"])
        return httpx.Response(500)

    dispatcher = await run_dispatcher(handler, events(2), lambda d: d.failed_events == 2,
                                      max_attempts=3, retry_base_seconds=0.0)

    assert attempts == [0, 1, 2]
    assert [a.status for a in dispatcher.attempts] == [500, 500, 500]


async def test_given_connection_error_then_retried_and_recorded():
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200)

    dispatcher = await run_dispatcher(handler, events(1), lambda d: d.delivered_events == 1,
                                      retry_base_seconds=0.0)

    assert [a.error is not None for a in dispatcher.attempts] == [True, False]
    assert dispatcher.status()["deliveredEvents"] == 1
