"""The faust-streaming app: a thin adapter that feeds events to ``handle_event``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import faust
import structlog
from pydantic import ValidationError

from services.contracts.envelope import EnvelopeError, decode, encode
from services.contracts.events import LEAD_ROUTED
from services.messaging.dead_letters import dead_letter_headers
from services.messaging.topics import (
    GOLDEN_RECORDS_TABLE,
    LEAD_DECISIONS,
    LEAD_EVENTS,
    ROUTER_APP_ID,
    ROUTER_DEAD_LETTERS,
)
from services.router.golden_record import GoldenRecord
from services.router.handle_event import (
    UnlinkedChangeError,
    UnsupportedEventError,
    handle_event,
)
from services.router.rule_publication import CurrentRules
from services.router.rules.cel_conditions import ConditionError
from services.router.rules.model import RuleSet
from services.router.settings import RouterSettings

log = structlog.get_logger(__name__)
SOURCE = "/accord/router"


def _header_list(headers: Mapping[str, bytes] | Iterable[tuple[str, bytes]] | None,
                 ) -> list[tuple[str, bytes]]:
    if headers is None:
        return []
    if isinstance(headers, Mapping):
        return list(headers.items())
    return list(headers)


def create_router_app(settings: RouterSettings, rules: RuleSet) -> faust.App:
    """Build the router's faust app; ``rules`` (the file) apply until a published rule set
    is read from the rules topic, which then wins."""
    kafka = settings.kafka
    current = CurrentRules(rules)
    rules_ready = asyncio.Event()
    brokers = ";".join(f"kafka://{b}" for b in kafka.bootstrap_servers.split(","))
    app = faust.App(
        kafka.group(ROUTER_APP_ID),
        broker=brokers,
        store="memory://",
        # No web server: it would bind 0.0.0.0 and serve table contents at /table.
        web_enabled=False,
        autodiscover=False,
        topic_disable_leader=True,
        topic_replication_factor=kafka.replication_factor,
        table_standby_replicas=settings.standby_replicas,
        broker_session_timeout=settings.session_timeout_seconds,
        broker_heartbeat_interval=settings.session_timeout_seconds / 5,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        key_serializer="json",
        value_serializer="json",
    )
    events = app.topic(kafka.topic(LEAD_EVENTS), key_serializer="raw", value_serializer="raw")
    own_user_ids = tuple(settings.salesforce_integration_user_ids)
    decisions = app.topic(kafka.topic(LEAD_DECISIONS), key_serializer="raw",
                          value_serializer="raw")
    dead_letters = app.topic(kafka.topic(ROUTER_DEAD_LETTERS), key_serializer="raw",
                             value_serializer="raw")
    # The changelog holds JSON keys and values. No value_type: faust would treat a class
    # there as one of its models; GoldenRecord validates the plain JSON on every read.
    records = app.Table(GOLDEN_RECORDS_TABLE, key_type=str, partitions=6)

    async def route_leads(stream: faust.StreamT[Any]) -> AsyncIterator[None]:
        # concurrency=1 (the default): with more, a slow event can be committed past and
        # lost after a crash (faust-streaming issue #606).
        # Decide nothing until the latest published rule set is known.
        await rules_ready.wait()
        async for event in stream.events():
            message = event.message
            headers = _header_list(message.headers)
            try:
                if not message.key:
                    raise EnvelopeError("the record has no key; Accord keys events by lead key")
                envelope = decode(message.key, message.value, headers)
                key = message.key.decode()
                stored = records.get(key)
                record = GoldenRecord.model_validate(stored) if stored else None
                outcome = handle_event(current.rules, record, envelope, datetime.now(UTC),
                                       own_user_ids)
            except (EnvelopeError, ValidationError, ConditionError, UnsupportedEventError,
                    UnlinkedChangeError, UnicodeDecodeError) as exc:
                # An exception escaping an agent gets the event acked and skipped
                # (faust-streaming issue #315): dead-letter it with its reason instead.
                log.warning("router.dead_lettered", reason=str(exc)[:500],
                            offset=message.offset, partition=message.partition)
                await dead_letters.send(
                    key=message.key, value=message.value,
                    headers=dead_letter_headers(headers, topic=message.topic,
                                                partition=message.partition,
                                                offset=message.offset, stage="router",
                                                reason=str(exc)),
                )
                yield None
                continue
            if not outcome.duplicate:
                records[key] = outcome.record.model_dump(mode="json")
            if outcome.decision is not None:
                out = encode(LEAD_ROUTED, SOURCE, key, outcome.decision,
                             event_id=outcome.decision.decision_id)
                await decisions.send(key=out.key, value=out.value, headers=out.headers)
                log.info("router.decided", decision_id=outcome.decision.decision_id,
                         stage=outcome.decision.stage, route=outcome.decision.owner.route,
                         duplicate=outcome.duplicate)
            yield None

    async def follow_published_rules() -> None:
        await current.follow(kafka, rules_ready)

    app.task(follow_published_rules)
    app.agent(events, name="route-leads")(route_leads)
    return app
