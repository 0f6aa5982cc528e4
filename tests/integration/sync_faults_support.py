"""What the sync fault tests share: a sync process against both sandboxes, decisions published
as the router publishes them (one transaction, keyed by lead), and the checks that matter
after a fault — committed everywhere, each lead exactly once in each CRM, no dead letters."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simple_salesforce import format_soql

from services.contracts.events import LEAD_ROUTED, LeadRouted
from services.messaging.settings import KafkaSettings
from services.messaging.topics import LEAD_DECISIONS, SYNC_DEAD_LETTERS, committed_offsets
from services.sync.worker import SYNC_GROUP
from tests.conftest import read_records
from tests.integration.decision_publishing import publish_decisions
from tests.integration.sandboxes.conftest import SalesforceSandbox
from tests.integration.sandboxes.hubspot_fixture import HubSpotSandbox
from tests.integration.sandboxes.salesforce_client import connect
from tests.integration.service_processes import ServiceProcess, start_service
from tests.integration.test_sync_batches import a_decision, hubspot_contacts, sync_env

OWNERS = ("maria.garcia@accord.example", "amara.okafor@accord.example")


@dataclass
class Backlog:
    """Decisions published for one test: their leads' emails, a marker in every email and
    company, each email's (partition, offset), and the offset after each partition's last."""

    marker: str
    emails: list[str]
    offsets: dict[str, tuple[int, int]]
    ends: dict[int, int]


def decisions_for(count: int, marker: str) -> list[LeadRouted]:
    """``count`` decisions for distinct leads, scores and owners varied; the marker is in
    each email and in the company, so a test finds its own records in a shared sandbox."""
    return [a_decision(f"lead{i}.{marker}@faults.example", f"Faults {marker}", score=i % 97 + 1,
                       owner=OWNERS[i % len(OWNERS)]) for i in range(count)]


async def publish(kafka: KafkaSettings, count: int) -> Backlog:
    """Publish ``count`` decisions in one transaction, keyed by lead (the partitioner spreads
    them over the topic's partitions), as the router does."""
    marker = uuid.uuid4().hex[:10]
    decisions = decisions_for(count, marker)
    sent = await publish_decisions(kafka, [(LEAD_ROUTED, d) for d in decisions])
    emails = [str(d.lead.email).lower() for d in decisions]
    offsets: dict[str, tuple[int, int]] = {}
    ends: dict[int, int] = {}
    for email, meta in zip(emails, sent, strict=True):
        offsets[email] = (meta.partition, meta.offset)
        ends[meta.partition] = max(ends.get(meta.partition, 0), meta.offset + 1)
    return Backlog(marker, emails, offsets, ends)


async def committed(kafka: KafkaSettings) -> dict[int, int]:
    """The sync group's committed offset per partition of the decisions topic."""
    return await committed_offsets(kafka, kafka.group(SYNC_GROUP), kafka.topic(LEAD_DECISIONS))


async def all_committed(kafka: KafkaSettings, backlog: Backlog) -> bool:
    """Whether every partition's offset is committed past the backlog's last record."""
    done = await committed(kafka)
    return all(done.get(p, -1) >= end for p, end in backlog.ends.items())


async def wait_until_committed(kafka: KafkaSettings, backlog: Backlog, sync: ServiceProcess,
                               within: float) -> None:
    """Wait (with a deadline, not a timed assertion) until sync committed the whole backlog."""
    deadline = time.monotonic() + within
    while not await all_committed(kafka, backlog):
        assert sync.popen.poll() is None, f"sync exited:\n{sync.output()[-3000:]}"
        assert time.monotonic() < deadline, (
            f"not committed within {within}s: {await committed(kafka)} < {backlog.ends}\n"
            f"{sync.output()[-4000:]}")
        await asyncio.sleep(0.5)


async def wait_for(probe: Callable[[], bool], what: str, within: float,
                   sync: ServiceProcess | None = None) -> None:
    """Wait until ``probe()`` holds, or fail saying what did not happen."""
    deadline = time.monotonic() + within
    while not await asyncio.to_thread(probe):
        if sync is not None:
            assert sync.popen.poll() is None, f"sync exited:\n{sync.output()[-3000:]}"
        assert time.monotonic() < deadline, (
            f"{what} did not happen within {within}s"
            + (f":\n{sync.output()[-3000:]}" if sync is not None else ""))
        await asyncio.sleep(0.3)


def start_sync(kafka: KafkaSettings, salesforce: SalesforceSandbox, hubspot: HubSpotSandbox,
               log: Path, **overrides: str) -> ServiceProcess:
    """A real ``python -m services.sync`` on ``kafka``'s topics, once its mapping check
    passed; every run appends to ``log``."""
    process = start_service("services.sync", sync_env(
        kafka, salesforce, hubspot, f"accord-faults-{uuid.uuid4().hex[:6]}", **overrides), log)
    deadline = time.monotonic() + 60
    while "sync.mapping_checked" not in process.output()[-20_000:]:
        if process.popen.poll() is not None or time.monotonic() > deadline:
            process.stop()
            raise AssertionError(f"sync did not start:\n{process.output()[-3000:]}")
        time.sleep(0.2)
    return process


def logged(process: ServiceProcess, event: str, **fields: str) -> list[dict[str, Any]]:
    """The JSON log lines of ``process`` for ``event`` whose fields hold ``fields``."""
    found: list[dict[str, Any]] = []
    for line in process.output().splitlines():
        if event not in line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("event") == event and all(str(entry.get(k)) == v
                                               for k, v in fields.items()):
            found.append(entry)
    return found


def salesforce_leads_by_email(sandbox: SalesforceSandbox, marker: str) -> Counter[str]:
    """How many Leads of the test's company each email has in the Salesforce sandbox."""
    soql = format_soql("SELECT Email, Accord_Lead_Key__c FROM Lead WHERE Company = {}",
                       f"Faults {marker}")
    records: list[dict[str, Any]] = connect(sandbox).query_all(soql)["records"]
    return Counter(str(r["Email"]).lower() for r in records)


def hubspot_contacts_by_email(sandbox: HubSpotSandbox, marker: str) -> Counter[str]:
    """How many contacts with the test's marker each email has in the HubSpot sandbox."""
    return Counter(str(c["properties"]["email"]).lower()
                   for c in hubspot_contacts(sandbox, marker))


def assert_each_lead_once_in_both(salesforce: SalesforceSandbox, hubspot: HubSpotSandbox,
                                  backlog: Backlog) -> None:
    """Every lead of the backlog is in each CRM, exactly once; nothing else is."""
    expected = Counter(e.lower() for e in backlog.emails)
    leads = salesforce_leads_by_email(salesforce, backlog.marker)
    contacts = hubspot_contacts_by_email(hubspot, backlog.marker)
    assert leads == expected, _difference("Salesforce", leads, expected)
    assert contacts == expected, _difference("HubSpot", contacts, expected)


def _difference(crm: str, found: Counter[str], expected: Counter[str]) -> str:
    missing = sorted(set(expected) - set(found))
    doubled = sorted(e for e, n in found.items() if n > 1)
    return (f"{crm}: {len(found)} of {len(expected)} leads, missing {missing[:5]} "
            f"({len(missing)}), duplicated {doubled[:5]} ({len(doubled)})")


async def dead_letters(kafka: KafkaSettings, settle: float = 3.0) -> list[Any]:
    """Every record on the sync dead-letter topic (reading ``settle`` seconds for them)."""
    return await read_records(kafka, SYNC_DEAD_LETTERS, 0, settle=settle)
