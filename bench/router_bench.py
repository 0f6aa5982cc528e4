"""Router benchmark: events/s of one worker beside a plain aiokafka loop, in the same run.

    .venv/bin/python -m bench.router_bench [--events 20000]   (or: make bench)

Both read the same pre-loaded topic of ``lead.captured`` events (varied leads) and write one
record per event:
  plain   an aiokafka consume -> produce loop that forwards each record unchanged
          (acks=all, idempotent), committing as it goes: the floor cost of Kafka I/O;
  router  one router worker (the shipped rule set): decode, golden record, score, qualify,
          route, explain, encode, the changelog write and one Kafka transaction per
          partition batch (exactly once).
Throughput is counted from the output records' own timestamps (first to last), so start-up
and group joins are not counted against either; each loop's output is read only after it has
finished (for the router: once its group committed every input event; only the pool picks'
short second hop is read while it runs), so no reader competes with a loop for the CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from deploy.local.kafka_broker import REPO_ROOT, KafkaBroker, fetch_broker_jars, is_listening
from deploy.local.launcher import local_environment
from services.contracts.envelope import encode
from services.contracts.events import LEAD_CAPTURED, LEAD_ROUTED, LeadCaptured, LeadFields
from services.messaging.settings import KafkaSettings
from services.messaging.topics import (
    LEAD_DECISIONS,
    LEAD_EVENTS,
    ROUTER_APP_ID,
    TopicSpec,
    accord_topics,
    committed_offsets,
    ensure_topics,
)

COUNTRIES = ["DE", "US", "GB", "BR", "CA", "FR", "NL", "JP"]
SOURCES = ["demo_request", "web_form", "ebook", None]


def lead(i: int) -> LeadCaptured:
    """A varied lead, so that every route and rule is exercised."""
    fields = LeadFields(email=f"lead{i}@company{i % 997}.example", employees=(i * 37) % 5000,
                        country=COUNTRIES[i % len(COUNTRIES)], title="VP Sales" if i % 3 else
                        "Analyst", lead_source=SOURCES[i % len(SOURCES)], company=f"Co {i}")
    return LeadCaptured(lead_key=fields.email, fields=fields, captured_at=datetime.now(UTC))


async def preload(settings: KafkaSettings, count: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all",
                                enable_idempotence=True, linger_ms=20,
                                max_batch_size=262_144)
    await producer.start()
    try:
        pending = []
        for i in range(count):
            event = lead(i)
            record = encode(LEAD_CAPTURED, "/bench", event.lead_key, event)
            pending.append(await producer.send(settings.topic(LEAD_EVENTS), record.value,
                                               key=record.key, headers=record.headers))
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def output_span(settings: KafkaSettings, topic: str, count: int) -> float:
    """Seconds from the first to the last output record (by their timestamps)."""
    consumer = AIOKafkaConsumer(settings.topic(topic),
                                bootstrap_servers=settings.bootstrap_servers,
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                isolation_level="read_committed",
                                group_id=f"span-{uuid.uuid4().hex[:6]}")
    await consumer.start()
    first, last, seen = float("inf"), 0.0, 0
    try:
        deadline = time.monotonic() + 600
        while seen < count and time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=1000, max_records=5000)).values():
                for record in batch:
                    if topic == LEAD_DECISIONS and dict(record.headers).get("ce_type") != \
                            LEAD_ROUTED.encode():
                        continue  # count decisions, not the events announced beside them
                    first = min(first, record.timestamp)
                    last = max(last, record.timestamp)
                    seen += 1
    finally:
        await consumer.stop()
    if seen < count:
        sys.exit(f"only {seen} of {count} records reached {topic}")
    return (last - first) / 1000


async def await_committed(settings: KafkaSettings, count: int) -> None:
    """Wait, without reading the output, until the router group has committed every input
    event: the output is then read after the router finished, as the plain loop's is — a
    reader running beside the router would take a core from it on this 2-core machine."""
    deadline = time.monotonic() + 900
    done = 0
    while time.monotonic() < deadline:
        done = sum((await committed_offsets(settings, settings.group(ROUTER_APP_ID),
                                            settings.topic(LEAD_EVENTS))).values())
        if done >= count:
            return
        await asyncio.sleep(1.0)
    sys.exit(f"the router committed only {done} of {count} events")


async def plain_loop(settings: KafkaSettings, count: int, out_topic: str) -> None:
    consumer = AIOKafkaConsumer(settings.topic(LEAD_EVENTS),
                                bootstrap_servers=settings.bootstrap_servers,
                                group_id=settings.group("plain-loop"),
                                auto_offset_reset="earliest", enable_auto_commit=False)
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all",
                                enable_idempotence=True, linger_ms=2)
    await consumer.start()
    await producer.start()
    done = 0
    try:
        while done < count:
            batches = await consumer.getmany(timeout_ms=1000, max_records=500)
            for records in batches.values():
                for record in records:
                    await producer.send(out_topic, record.value, key=record.key,
                                        headers=list(record.headers))
                    done += 1
            await producer.flush()
            await consumer.commit()
    finally:
        await consumer.stop()
        await producer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000)
    count = parser.parse_args().events
    env = local_environment()
    bootstrap = env["ACCORD_KAFKA_BOOTSTRAP_SERVERS"].split(",")[0]
    host, _, port = bootstrap.rpartition(":")
    broker = None
    if not is_listening(host, int(port)):
        fetch_broker_jars()
        broker = KafkaBroker(int(port), int(env["ACCORD_KAFKA_CONTROLLER_PORT"]),
                             REPO_ROOT / ".local" / "kafka" / "data")
        broker.start()
    settings = KafkaSettings(bootstrap_servers=bootstrap,
                             topic_prefix=f"bench-{uuid.uuid4().hex[:6]}.")
    plain_out = settings.topic("plain-out")
    try:
        specs = accord_topics(settings)
        asyncio.run(ensure_topics(settings, [*specs, TopicSpec(plain_out, 6)]))
        print(f"pre-loading {count} lead events ...", flush=True)
        asyncio.run(preload(settings, count))

        print("plain aiokafka consume -> produce loop ...", flush=True)
        asyncio.run(plain_loop(settings, count, plain_out))
        plain_s = asyncio.run(output_span(settings, "plain-out", count))

        print("one router worker ...", flush=True)
        log = REPO_ROOT / ".local" / "logs" / "bench-router.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as out:
            router = subprocess.Popen(
                [sys.executable, "-m", "services.router"], cwd=REPO_ROOT,
                env={**env, "ACCORD_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                     "ACCORD_KAFKA_TOPIC_PREFIX": settings.topic_prefix},
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            asyncio.run(await_committed(settings, count))
            # Pool-routed leads are decided one hop later (the pool's partition picks): that
            # short tail is read while the router finishes it.
            router_s = asyncio.run(output_span(settings, LEAD_DECISIONS, count))
        finally:
            os.killpg(router.pid, signal.SIGTERM)
            router.wait(30)
    finally:
        if broker is not None:
            broker.stop()
    plain_rate, router_rate = count / plain_s, count / router_s
    print(f"\nRouter on this machine ({os.cpu_count()} cores), {count} events, "
          f"rule set {Path('rules/leads.yaml')}:\n")
    print(f"{'loop':<34}{'events/s':>10}{'x plain':>9}")
    print(f"{'plain aiokafka consume->produce':<34}{plain_rate:>10.0f}{1:>9.2f}")
    print(f"{'router worker':<34}{router_rate:>10.0f}{router_rate / plain_rate:>9.2f}")
    print("\nTargets: >= 5,000 events/s per worker and >= 0.33 x the plain loop.")


if __name__ == "__main__":
    main()
