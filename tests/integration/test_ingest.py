"""ingest against the real broker: 202 only after Kafka has the event; errors name the fault."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import jsonschema
import pytest

from services.contracts.events import LEAD_CAPTURED
from services.contracts.schema_files import schema_path
from services.messaging.settings import KafkaSettings
from services.messaging.topics import LEAD_EVENTS
from tests.builders import a_lead
from tests.conftest import free_port, read_records
from tests.integration.conftest import API_KEY
from tests.integration.service_processes import (
    ServiceProcess,
    start_ingest,
)

pytestmark = pytest.mark.integration


def post(url: str, body: object, key: str | None = API_KEY, **kwargs: object) -> httpx.Response:
    headers = {"X-Api-Key": key} if key else {}
    return httpx.post(f"{url}/v1/leads", json=body, headers=headers, timeout=10, **kwargs)


async def test_given_a_valid_lead_when_posted_then_202_and_the_event_is_on_kafka(
        ingest: str, kafka: KafkaSettings):
    answer = post(ingest, a_lead(email="  Katherine.Johnson@NASA.example "))
    assert answer.status_code == 202, answer.text
    event_id = answer.json()["event_id"]

    records = await read_records(kafka, LEAD_EVENTS, 1)
    [record] = [r for r in records if dict(r.headers)["ce_id"].decode() == event_id]
    headers = dict(record.headers)
    assert record.key == b"katherine.johnson@nasa.example"
    assert headers["ce_type"] == LEAD_CAPTURED.encode()
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_source"] == b"/accord/ingest/v1/leads"
    assert headers["content-type"] == b"application/json"
    assert headers["ce_dataschema"] == b"urn:accord:schema:lead.captured:v1"
    schema = json.loads(schema_path(LEAD_CAPTURED).read_text())
    value = json.loads(record.value)
    jsonschema.validate(value, schema, format_checker=jsonschema.FormatChecker())
    assert value["fields"]["company"] == "Analytical Engines"


def test_given_no_api_key_when_posted_then_401_names_the_header(ingest: str):
    answer = post(ingest, a_lead(), key=None)
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["header"] == "X-Api-Key"


def test_given_a_wrong_api_key_when_posted_then_401(ingest: str):
    answer = post(ingest, a_lead(), key="not-the-key")
    assert answer.status_code == 401
    assert answer.json()["title"] == "Invalid credentials"


def test_given_an_invalid_email_when_posted_then_422_names_the_field(ingest: str):
    answer = post(ingest, a_lead(email="not-an-email"))
    assert answer.status_code == 422
    body = answer.json()
    assert answer.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in body["errors"]] == ["email"]
    assert "email" in body["detail"]


def test_given_a_missing_email_and_a_bad_employee_count_when_posted_then_422_names_both(
        ingest: str):
    answer = post(ingest, a_lead(email=None, employees="many"))
    assert answer.status_code == 422
    assert sorted(e["field"] for e in answer.json()["errors"]) == ["email", "employees"]


def test_given_an_unknown_field_when_posted_then_422_names_it(ingest: str):
    answer = post(ingest, a_lead(favourite_colour="teal"))
    assert answer.status_code == 422
    assert [e["field"] for e in answer.json()["errors"]] == ["favourite_colour"]


def test_given_a_body_that_is_not_json_when_posted_then_400(ingest: str):
    answer = httpx.post(f"{ingest}/v1/leads", content=b"{oops",
                        headers={"X-Api-Key": API_KEY, "Content-Type": "application/json"})
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"


def test_given_ingest_is_up_when_probed_then_live_and_ready(ingest: str):
    assert httpx.get(f"{ingest}/health/live").status_code == 200
    assert httpx.get(f"{ingest}/health/ready").json() == {"status": "ready"}


def test_given_the_broker_is_stopped_when_a_lead_is_posted_then_503_with_retry_after(
        tmp_path: Path):
    from deploy.local.kafka_broker import KafkaBroker, fetch_broker_jars

    fetch_broker_jars()
    broker = KafkaBroker(free_port(), free_port(), tmp_path / "kafka")
    broker.start()
    settings = KafkaSettings(bootstrap_servers=broker.bootstrap_servers)
    process: ServiceProcess | None = None
    try:
        import asyncio

        from services.messaging.topics import accord_topics, ensure_topics

        asyncio.run(ensure_topics(settings, accord_topics(settings)))
        url, process = start_ingest(settings, tmp_path / "ingest.log",
                                    {"ACCORD_INGEST_API_KEYS": json.dumps([API_KEY])})
        assert post(url, a_lead()).status_code == 202

        broker.kill()
        answer = post(url, a_lead(email="after.the.crash@example.com"))
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert int(answer.headers["Retry-After"]) > 0
        assert httpx.get(f"{url}/health/ready", timeout=5).status_code == 503
    finally:
        if process is not None:
            process.stop()
        broker.stop()
