"""Two router workers share the partitions; one is killed (SIGKILL) while leads stream in.

The survivor fences the dead worker, aborts its open transaction, restores the golden
records of its partitions from the changelog and carries on from the committed offsets:
every lead gets exactly one decision (read committed) and so exactly one owner.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from services.contracts.envelope import decode, encode
from services.contracts.events import LEAD_CAPTURED
from services.messaging.settings import KafkaSettings
from tests.builders import a_captured_lead
from tests.conftest import read_decisions
from tests.integration.service_processes import ServiceProcess, start_service
from tests.integration.test_router import publish

pytestmark = pytest.mark.integration
LEADS = 400
COUNTRIES = ["DE", "US", "GB", "BR", "CA", "FR"]


def assigned_partitions(worker: ServiceProcess) -> list[int]:
    """The partitions the worker said it owns last."""
    owned: list[int] = []
    for line in worker.output().splitlines():
        if '"router.assigned"' in line:
            owned = json.loads(line)["partitions"]
    return owned


def wait_until_sharing(workers: list[ServiceProcess], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not all(assigned_partitions(w) for w in workers):
        for worker in workers:
            assert worker.popen.poll() is None, worker.output()[-3000:]
        assert time.monotonic() < deadline, [w.output()[-2000:] for w in workers]
        time.sleep(0.3)


async def test_given_two_workers_when_one_is_killed_midstream_then_each_lead_decided_once(
        fresh_kafka: KafkaSettings, tmp_path: Path):
    env = {"ACCORD_KAFKA_BOOTSTRAP_SERVERS": fresh_kafka.bootstrap_servers,
           "ACCORD_KAFKA_TOPIC_PREFIX": fresh_kafka.topic_prefix,
           "ACCORD_ROUTER_SESSION_TIMEOUT_SECONDS": "6",
           # Small batches keep transactions open most of the time: the kill lands in one.
           "ACCORD_ROUTER_MAX_BATCH": "5"}
    first = start_service("services.router", env, tmp_path / "router-1.log")
    second = start_service("services.router", env, tmp_path / "router-2.log")
    leads = [a_captured_lead(email=f"lead{i}@firm{i % 17}.example",
                             employees=(i * 37) % 3000, country=COUNTRIES[i % 6])
             for i in range(LEADS)]
    records = [encode(LEAD_CAPTURED, "/test", lead.lead_key, lead, event_id=f"e{i}")
               for i, lead in enumerate(leads)]
    try:
        await asyncio.to_thread(wait_until_sharing, [first, second])
        killed_owned = assigned_partitions(first)
        chunks = [records[i:i + 20] for i in range(0, LEADS, 20)]
        for number, chunk in enumerate(chunks):
            await publish(fresh_kafka, [(r.key, r.value, r.headers) for r in chunk])
            if number == len(chunks) // 2:
                first.stop(signal.SIGKILL)  # a crash, with leads still streaming in
        decisions = await read_decisions(fresh_kafka, LEADS, within=120,
                                       settle=3)
    finally:
        first.stop(signal.SIGKILL)
        second.stop()
    assert killed_owned and assigned_partitions(second) == list(range(6)), second.output()[-3000:]
    assert '"router.partition_restored"' in second.output()
    per_lead = Counter(decode(r.key, r.value, list(r.headers)).data["lead_key"]
                       for r in decisions)
    assert set(per_lead) == {lead.lead_key for lead in leads}
    repeated = {lead: n for lead, n in per_lead.items() if n != 1}
    assert not repeated, f"decided more than once: {repeated}"
