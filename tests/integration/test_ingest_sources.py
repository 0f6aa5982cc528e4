"""Forms and any system: batches, engagement and revenue, idempotency, signed webhooks,
body limits, content types and metrics — all against a real ingest process and broker."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from services.contracts.events import ENGAGEMENT_RECORDED, REVENUE_RECORDED
from services.messaging.settings import KafkaSettings
from services.messaging.topics import LEAD_EVENTS
from tests.builders import a_lead
from tests.conftest import read_events_with_ids
from tests.integration.conftest import API_KEY, BODY_LIMIT, WEBHOOK_SECRET

pytestmark = pytest.mark.integration
KEY = {"X-Api-Key": API_KEY}


def signed_headers(body: bytes, msg_id: str | None = None,
                   at: datetime | None = None) -> dict[str, str]:
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    at = at or datetime.now(UTC)
    signature = Webhook(WEBHOOK_SECRET).sign(msg_id, at, body.decode())
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signature, "Content-Type": "application/json"}


async def test_given_a_batch_with_one_invalid_lead_when_posted_then_207_and_valid_ones_on_kafka(
        ingest: str, kafka: KafkaSettings):
    leads = [a_lead(email="one@batch.example"), a_lead(email="broken"),
             a_lead(email="three@batch.example")]
    answer = httpx.post(f"{ingest}/v1/leads/batch", json={"leads": leads}, headers=KEY)
    assert answer.status_code == 207, answer.text
    body = answer.json()
    assert (body["accepted"], body["rejected"]) == (2, 1)
    assert [r["status"] for r in body["results"]] == [202, 422, 202]
    assert body["results"][1]["errors"][0]["field"] == "email"
    ids = {r["event_id"] for r in body["results"] if r["status"] == 202}
    records = await read_events_with_ids(kafka, LEAD_EVENTS, ids)
    assert sorted(r.key for r in records) == [b"one@batch.example", b"three@batch.example"]


def test_given_a_batch_of_101_leads_when_posted_then_422_names_the_limit(ingest: str):
    leads = [a_lead(email=f"n{i}@batch.example") for i in range(101)]
    answer = httpx.post(f"{ingest}/v1/leads/batch", json={"leads": leads}, headers=KEY)
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "leads"


async def test_given_an_engagement_and_a_revenue_event_when_posted_then_both_on_kafka(
        ingest: str, kafka: KafkaSettings):
    engaged = httpx.post(f"{ingest}/v1/events", headers=KEY, json={
        "type": "engagement", "email": "Eve@Buyer.example", "action": "webinar_signup",
        "campaign": "2026-q4-webinar", "utm_source": "linkedin", "asset": "Pipeline 101"})
    paid = httpx.post(f"{ingest}/v1/events", headers=KEY, json={
        "type": "revenue", "email": "eve@buyer.example", "amount": "48000.00",
        "currency": "EUR", "occurred_at": "2026-11-20T10:00:00Z", "reference": "INV-1042",
        "system": "billing"})
    assert engaged.status_code == 202, engaged.text
    assert paid.status_code == 202, paid.text
    ids = {engaged.json()["event_id"], paid.json()["event_id"]}
    records = await read_events_with_ids(kafka, LEAD_EVENTS, ids)
    types = {dict(r.headers)["ce_type"].decode(): json.loads(r.value) for r in records}
    assert types[ENGAGEMENT_RECORDED]["attribution"]["utm_source"] == "linkedin"
    assert types[REVENUE_RECORDED]["amount"] == "48000.00"
    assert {r.key for r in records} == {b"eve@buyer.example"}


def test_given_a_revenue_event_with_a_bad_currency_when_posted_then_422_names_it(ingest: str):
    answer = httpx.post(f"{ingest}/v1/events", headers=KEY, json={
        "type": "revenue", "email": "eve@buyer.example", "amount": "10", "currency": "euro",
        "occurred_at": "2026-11-20T10:00:00Z", "reference": "INV-1", "system": "billing"})
    assert answer.status_code == 422
    assert [e["field"] for e in answer.json()["errors"]] == ["revenue.currency"]


async def test_given_the_same_idempotency_key_twice_when_posted_then_first_answer_and_one_event(
        ingest: str, kafka: KafkaSettings):
    headers = {**KEY, "Idempotency-Key": f"order-{uuid.uuid4()}"}
    lead = a_lead(email="once@idempotent.example")
    first = httpx.post(f"{ingest}/v1/leads", json=lead, headers=headers)
    again = httpx.post(f"{ingest}/v1/leads", json=lead, headers=headers)
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    records = await read_events_with_ids(kafka, LEAD_EVENTS, {first.json()["event_id"]})
    assert len(records) == 1


def test_given_an_idempotency_key_reused_for_another_body_when_posted_then_409(ingest: str):
    headers = {**KEY, "Idempotency-Key": f"order-{uuid.uuid4()}"}
    assert httpx.post(f"{ingest}/v1/leads", json=a_lead(), headers=headers).status_code == 202
    answer = httpx.post(f"{ingest}/v1/leads", json=a_lead(title="CEO"), headers=headers)
    assert answer.status_code == 409
    assert answer.json()["header"] == "Idempotency-Key"


async def test_given_a_standard_webhooks_signature_when_posted_then_202_and_id_dedupes(
        ingest: str, kafka: KafkaSettings):
    body = json.dumps(a_lead(email="signed@form.example")).encode()
    headers = signed_headers(body)
    first = httpx.post(f"{ingest}/v1/leads", content=body, headers=headers)
    retry = httpx.post(f"{ingest}/v1/leads", content=body, headers=headers)
    assert first.status_code == 202, first.text
    assert retry.json() == first.json()
    records = await read_events_with_ids(kafka, LEAD_EVENTS, {first.json()["event_id"]})
    assert len(records) == 1


def test_given_a_wrong_signature_when_posted_then_401_names_the_header(ingest: str):
    body = json.dumps(a_lead()).encode()
    headers = signed_headers(body)
    answer = httpx.post(f"{ingest}/v1/leads", content=body + b" ", headers=headers)
    assert answer.status_code == 401
    assert answer.json()["header"] == "webhook-signature"


def test_given_a_signature_from_ten_minutes_ago_when_posted_then_401_names_the_timestamp(
        ingest: str):
    body = json.dumps(a_lead()).encode()
    headers = signed_headers(body, at=datetime.now(UTC) - timedelta(minutes=10))
    answer = httpx.post(f"{ingest}/v1/leads", content=body, headers=headers)
    assert answer.status_code == 401
    assert answer.json()["header"] == "webhook-timestamp"


def test_given_a_body_over_the_limit_when_posted_then_413(ingest: str):
    answer = httpx.post(f"{ingest}/v1/leads", headers=KEY,
                        json=a_lead(company="x" * (BODY_LIMIT + 1)))
    assert answer.status_code == 413
    assert answer.headers["content-type"] == "application/problem+json"


def test_given_a_chunked_body_over_the_limit_when_posted_then_413(ingest: str):
    def chunks():
        yield b'{"email": "big@chunked.example", "company": "'
        for _ in range(BODY_LIMIT // 1024 + 2):
            yield b"x" * 1024
        yield b'"}'

    answer = httpx.post(f"{ingest}/v1/leads", content=chunks(),
                        headers={**KEY, "Content-Type": "application/json"})
    assert answer.status_code == 413


def test_given_a_form_encoded_body_when_posted_then_415_names_content_type(ingest: str):
    answer = httpx.post(f"{ingest}/v1/leads", data={"email": "a@b.example"}, headers=KEY)
    assert answer.status_code == 415
    assert answer.json()["header"] == "Content-Type"


def test_given_published_leads_when_metrics_are_scraped_then_counts_by_source(ingest: str):
    assert httpx.post(f"{ingest}/v1/leads", json=a_lead(), headers=KEY).status_code == 202
    text = httpx.get(f"{ingest}/metrics").text
    assert 'accord_ingest_events_total{outcome="published",source="/accord/ingest/v1/leads"}' \
        in text
    assert 'accord_ingest_requests_total{outcome="202",source="/v1/leads"}' in text
    assert "accord_ingest_publish_seconds_bucket" in text
