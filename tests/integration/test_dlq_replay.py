"""``accord dlq`` and the dead-letter admin API against the real broker."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from pydantic import SecretStr
from typer.testing import CliRunner, Result

from services.cli import app
from services.dead_letter_inspection import read_topic
from services.dlq_admin_api import DlqAdminSettings, create_app
from services.messaging.dead_letters import dead_letter_headers
from services.messaging.settings import KafkaSettings
from services.messaging.topics import (
    LEAD_DECISIONS,
    LEAD_EVENTS,
    ROUTER_DEAD_LETTERS,
    SYNC_DEAD_LETTERS,
)

pytestmark = pytest.mark.integration

TOKEN = "dlq-admin-test-token"
KEY = b"ada@siemens.example"
VALUE = b'{"lead_key": "ada@siemens.example", "fields": {'
ORIGINAL = [("ce_specversion", b"1.0"), ("ce_id", b"evt-poison-1"),
            ("ce_type", b"dev.accord.lead.captured"), ("ce_source", b"/test"),
            ("traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")]
REASON = "unreadable event: the value is not JSON (line 1 column 49)"


async def write_dead_letters(settings: KafkaSettings) -> tuple[str, str]:
    """One router dead letter (a poison lead event) and one sync dead letter (a decision
    Salesforce refused); returns their ids."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
    await producer.start()
    try:
        router = await producer.send_and_wait(
            settings.topic(ROUTER_DEAD_LETTERS), VALUE, key=KEY,
            headers=dead_letter_headers(ORIGINAL, topic=settings.topic(LEAD_EVENTS),
                                        partition=3, offset=17, stage="router",
                                        reason=REASON))
        sync = await producer.send_and_wait(
            settings.topic(SYNC_DEAD_LETTERS), b'{"stage": "mql"}', key=b"bo@shop.example",
            headers=dead_letter_headers(
                [("ce_id", b"dec-1"), ("ce_type", b"dev.accord.lead.routed"),
                 ("x-session-token", b"must-not-show")],
                topic=settings.topic(LEAD_DECISIONS), partition=1, offset=4, stage="sync",
                reason="Email: invalid email address: bo@",
                extra={"crm": "salesforce", "code": "INVALID_EMAIL_ADDRESS"}))
    finally:
        await producer.stop()
    return (f"{settings.topic(ROUTER_DEAD_LETTERS)}:{router.partition}:{router.offset}",
            f"{settings.topic(SYNC_DEAD_LETTERS)}:{sync.partition}:{sync.offset}")


async def accord(settings: KafkaSettings, *args: str) -> Result:
    env = {"ACCORD_KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
           "ACCORD_KAFKA_TOPIC_PREFIX": settings.topic_prefix}
    # The command runs its own event loop: give it a thread away from the test's loop.
    return await asyncio.to_thread(CliRunner().invoke, app, ["dlq", *args], env=env)


async def listed(settings: KafkaSettings, *args: str) -> dict[str, dict[str, Any]]:
    result = await accord(settings, "list", "--json", *args)
    assert result.exit_code == 0, result.output
    return {item["id"]: item for item in json.loads(result.stdout)}


async def test_given_dead_letters_when_listed_shown_and_replayed_then_the_original_is_back(
        fresh_kafka: KafkaSettings):
    router_id, sync_id = await write_dead_letters(fresh_kafka)

    everything = await listed(fresh_kafka)
    assert set(everything) == {router_id, sync_id}
    assert everything[router_id]["reason"] == REASON
    assert everything[router_id]["event_type"] == "dev.accord.lead.captured"
    assert everything[sync_id]["code"] == "INVALID_EMAIL_ADDRESS"
    assert set(await listed(fresh_kafka, "--stage", "sync")) == {sync_id}
    table = await accord(fresh_kafka, "list")
    assert router_id in table.stdout and "unreadable event" in table.stdout
    assert (await accord(fresh_kafka, "list", "--code", "NOPE")).exit_code == 1

    shown = await accord(fresh_kafka, "show", sync_id)
    assert shown.exit_code == 0, shown.output
    detail = json.loads(shown.stdout)
    headers = {h["name"]: h["value"] for h in detail["headers"]}
    assert headers["accord.errors.crm"] == "salesforce"
    assert headers["x-session-token"] == "[redacted]" and "must-not-show" not in shown.stdout
    assert detail["value"] == {"stage": "mql"}
    assert (await accord(fresh_kafka, "show", f"{router_id}0")).exit_code == 2
    assert (await accord(fresh_kafka, "show", "not-an-id")).exit_code == 2

    dry = await accord(fresh_kafka, "replay", router_id, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert f"would replay {router_id} -> {fresh_kafka.topic(LEAD_EVENTS)}" in dry.stdout
    assert await read_topic(fresh_kafka, fresh_kafka.topic(LEAD_EVENTS)) == []
    assert not (await listed(fresh_kafka))[router_id]["replayed"]

    done = await accord(fresh_kafka, "replay", router_id)
    assert done.exit_code == 0, done.output
    assert f"replayed {router_id} -> {fresh_kafka.topic(LEAD_EVENTS)}" in done.stdout
    [replayed] = await read_topic(fresh_kafka, fresh_kafka.topic(LEAD_EVENTS))
    assert (replayed.key, replayed.value) == (KEY, VALUE)
    assert list(replayed.headers) == [*ORIGINAL, ("accord_replayed_from", router_id.encode())]

    after = await listed(fresh_kafka)
    assert after[router_id]["replayed"] and not after[sync_id]["replayed"]
    # --all skips what was replayed already
    rest = await accord(fresh_kafka, "replay", "--all", "--dry-run")
    assert rest.exit_code == 0, rest.output
    assert sync_id in rest.stdout and router_id not in rest.stdout


async def test_given_a_bad_replay_selection_when_run_then_usage_error(
        fresh_kafka: KafkaSettings):
    assert (await accord(fresh_kafka, "replay")).exit_code == 2
    assert (await accord(fresh_kafka, "replay", "t:0:1", "--all")).exit_code == 2
    assert (await accord(fresh_kafka, "replay", "--stage", "ingest")).exit_code == 2
    assert (await accord(fresh_kafka, "replay", "--code", "NOPE")).exit_code == 1


def admin(settings: KafkaSettings) -> httpx.AsyncClient:
    api = create_app(DlqAdminSettings(token=SecretStr(TOKEN)), settings)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://admin")


async def test_given_the_admin_api_when_called_without_the_token_then_401(
        fresh_kafka: KafkaSettings):
    async with admin(fresh_kafka) as client:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            response = await client.get("/dead-letters", headers=headers)
            assert response.status_code == 401
            assert "Authorization" in response.json()["error"]
        refused = await client.post("/dead-letters/replay", json={"all": True})
        assert refused.status_code == 401


async def test_given_the_admin_api_with_the_token_when_replaying_then_the_original_is_back(
        fresh_kafka: KafkaSettings):
    router_id, sync_id = await write_dead_letters(fresh_kafka)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with admin(fresh_kafka) as client:
        listing = await client.get("/dead-letters", params={"stage": "router"}, headers=auth)
        assert [d["id"] for d in listing.json()["dead_letters"]] == [router_id]
        one = await client.get(f"/dead-letters/{sync_id}", headers=auth)
        assert one.json()["code"] == "INVALID_EMAIL_ADDRESS"
        missing = await client.get(f"/dead-letters/{sync_id}9", headers=auth)
        assert missing.status_code == 404 and missing.json()["field"] == "id"
        bad = await client.post("/dead-letters/replay", json={}, headers=auth)
        assert bad.status_code == 422 and bad.json()["field"] == "ids"
        typed = await client.post("/dead-letters/replay", json={"all": "maybe"}, headers=auth)
        assert typed.status_code == 422 and typed.json()["field"] == "all"

        dry = await client.post("/dead-letters/replay", headers=auth,
                                json={"code": "INVALID_EMAIL_ADDRESS", "dry_run": True})
        assert [r["id"] for r in dry.json()["replayed"]] == [sync_id]
        assert await read_topic(fresh_kafka, fresh_kafka.topic(LEAD_DECISIONS)) == []

        done = await client.post("/dead-letters/replay", json={"ids": [sync_id]},
                                 headers=auth)
        assert done.status_code == 200, done.text
        assert done.json()["replayed"][0]["to_topic"] == fresh_kafka.topic(LEAD_DECISIONS)
        after = await client.get("/dead-letters", params={"code": "INVALID_EMAIL_ADDRESS"},
                                 headers=auth)
        assert after.json()["dead_letters"][0]["replayed"] is True
    [replayed] = await read_topic(fresh_kafka, fresh_kafka.topic(LEAD_DECISIONS))
    assert replayed.key == b"bo@shop.example"
    assert dict(replayed.headers)["accord_replayed_from"] == sync_id.encode()
    assert not any(name.startswith("accord.errors.") for name, _ in replayed.headers)


def test_given_an_empty_token_when_the_admin_api_starts_then_it_refuses(
        monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ACCORD_DLQ_ADMIN_TOKEN", " ")
    with pytest.raises(ValueError, match="ACCORD_DLQ_ADMIN_TOKEN"):
        DlqAdminSettings()
    with pytest.raises(ValueError, match="empty"):
        create_app(DlqAdminSettings.model_construct(token=SecretStr("")), KafkaSettings())


async def test_given_a_dead_letter_from_a_foreign_topic_when_replayed_then_refused(
        fresh_kafka: KafkaSettings):
    producer = AIOKafkaProducer(bootstrap_servers=fresh_kafka.bootstrap_servers, acks="all")
    await producer.start()
    try:
        sent = await producer.send_and_wait(
            fresh_kafka.topic(ROUTER_DEAD_LETTERS), VALUE, key=KEY,
            headers=dead_letter_headers(ORIGINAL, topic="someone-else.accord.lead-events",
                                        partition=0, offset=1, stage="router", reason=REASON))
    finally:
        await producer.stop()
    letter_id = f"{fresh_kafka.topic(ROUTER_DEAD_LETTERS)}:{sent.partition}:{sent.offset}"

    refused = await accord(fresh_kafka, "replay", letter_id)

    assert refused.exit_code == 2
    assert "not one of Accord's topics" in refused.output


async def test_given_kafka_unreachable_when_asked_then_exit_3_and_503():
    down = KafkaSettings(bootstrap_servers="127.0.0.1:1")
    result = await accord(down, "list")
    assert result.exit_code == 3 and "127.0.0.1:1" in result.output
    async with admin(down) as client:
        response = await client.get("/dead-letters",
                                    headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 503 and response.json()["field"] == "kafka"
