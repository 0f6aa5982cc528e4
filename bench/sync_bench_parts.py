"""The sync benchmark's parts: a backlog decided by the router's own ``decide``, Kafka offsets,
record counts from the sandboxes, and the one-record-per-call baseline."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.crm_sandboxes import HS_ACCESS_TOKEN, SF_CLIENT_ID, SF_CLIENT_SECRET, Sandbox
from deploy.local.kafka_broker import REPO_ROOT
from services.contracts.envelope import encode
from services.contracts.events import LEAD_ROUTED, LeadCaptured, LeadFields, LeadRouted
from services.contracts.lead_key import lead_key_for
from services.messaging.settings import KafkaSettings
from services.messaging.topics import LEAD_DECISIONS, committed_offsets, topic_partitions
from services.router.decide import decide
from services.router.golden_record import merge_captured, new_record
from services.router.rules.loader import load_rules
from services.sync.hubspot_writer import HubSpotWriter
from services.sync.salesforce_writer import SalesforceWriter
from services.sync.settings import SyncSettings
from services.sync.worker import SYNC_GROUP

COUNTRIES = ["DE", "US", "GB", "BR", "CA", "FR", "NL", "JP"]
SOURCES = ["demo_request", "web_form", "ebook", None]
TITLES = ["VP Sales", "Analyst", "Head of Marketing", "CTO", None]
FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Frances", "Donald"]
LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Allen", "Knuth"]


def decisions(count: int, tag: str = "lead") -> list[LeadRouted]:
    """``count`` decisions on distinct, varied leads, each decided by the router's rules."""
    rules = load_rules(REPO_ROOT / "rules" / "leads.yaml")
    now = datetime.now(UTC)
    made: list[LeadRouted] = []
    for i in range(count):
        fields = LeadFields(
            email=f"{tag}{i}@company{i % 997}.example", first_name=FIRST[i % len(FIRST)],
            last_name=LAST[(i // 8) % len(LAST)], company=f"Company {i % 997}",
            title=TITLES[i % len(TITLES)], country=COUNTRIES[i % len(COUNTRIES)],
            employees=(i * 37) % 5000, lead_source=SOURCES[i % len(SOURCES)])
        captured = LeadCaptured(lead_key=lead_key_for(fields.email), fields=fields,
                                captured_at=now)
        record = merge_captured(new_record(captured.lead_key), f"e{i}", captured, "/bench")
        made.append(decide(rules, record, f"{tag}-e{i}", now))
    return made


async def preload(kafka: KafkaSettings, backlog: list[LeadRouted]) -> None:
    """Put the backlog on the decisions topic, keyed by lead, as the router would."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all",
                                enable_idempotence=True, linger_ms=20, max_batch_size=262_144)
    await producer.start()
    try:
        pending = []
        for decision in backlog:
            record = encode(LEAD_ROUTED, "/bench", decision.lead_key, decision)
            pending.append(await producer.send(kafka.topic(LEAD_DECISIONS), record.value,
                                               key=record.key, headers=record.headers))
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def end_offsets(kafka: KafkaSettings, topic: str) -> dict[int, int]:
    """Each partition's end offset of ``topic``."""
    partitions = await topic_partitions(kafka, kafka.topic(topic))
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, group_id=None,
                                enable_auto_commit=False, isolation_level="read_committed")
    await consumer.start()
    try:
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    return {tp.partition: offset for tp, offset in ends.items()}


async def committed_all(kafka: KafkaSettings, ends: dict[int, int]) -> bool:
    """Whether sync's group committed every partition up to ``ends``."""
    done = await committed_offsets(kafka, kafka.group(SYNC_GROUP), kafka.topic(LEAD_DECISIONS))
    return all(done.get(p, -1) >= end for p, end in ends.items() if end > 0)


def count_records(salesforce: Sandbox, hubspot: Sandbox) -> tuple[int, int]:
    """Leads in the Salesforce sandbox and contacts in the HubSpot sandbox (two calls)."""
    with httpx.Client(base_url=salesforce.base_url, verify=str(salesforce.ca_path),
                      trust_env=False, timeout=30) as client:
        token = client.post("/services/oauth2/token", data={
            "grant_type": "client_credentials", "client_id": SF_CLIENT_ID,
            "client_secret": SF_CLIENT_SECRET}).json()["access_token"]
        found = client.get("/services/data/v62.0/query/", params={
            "q": "SELECT COUNT() FROM Lead"}, headers={"Authorization": f"Bearer {token}"})
        found.raise_for_status()
    answer = httpx.post(f"{hubspot.base_url}/crm/v3/objects/contacts/search",
                        json={"filterGroups": [], "limit": 1}, trust_env=False, timeout=30,
                        headers={"Authorization": f"Bearer {HS_ACCESS_TOKEN}"})
    answer.raise_for_status()
    return int(found.json()["totalSize"]), int(answer.json()["total"])


def _settings(salesforce: Sandbox, hubspot: Sandbox, client: str, share: float) -> SyncSettings:
    return SyncSettings(
        salesforce_token_url=f"{salesforce.base_url}/services/oauth2/token",
        salesforce_client_id=SF_CLIENT_ID, salesforce_client_secret=SF_CLIENT_SECRET,
        salesforce_ca_bundle=salesforce.ca_path, salesforce_client_name=client,
        hubspot_base_url=hubspot.base_url, hubspot_access_token=HS_ACCESS_TOKEN,
        hubspot_rate_share=share)


_MOST_WARM_UP = 200  # contacts written to fill HubSpot's window before the clock starts


@dataclass
class Baseline:
    """One record per call: records written, seconds taken, calls the sandboxes counted."""

    salesforce_records: int
    salesforce_seconds: float
    salesforce_calls: int
    hubspot_records: int
    hubspot_seconds: float
    hubspot_calls: int


def one_per_call(salesforce: Sandbox, hubspot: Sandbox, share: float,
                 sf_count: int, hs_count: int) -> Baseline:
    """Write new leads one record per call through sync's own writers (HubSpot's within the
    same rate limiter and share); owners are looked up, and HubSpot's window filled, before
    the clock starts."""
    client = "accord-bench-baseline"
    settings = _settings(salesforce, hubspot, client, share)
    sf, hs = SalesforceWriter(settings), HubSpotWriter(settings)
    sample = decisions(max(sf_count, hs_count + _MOST_WARM_UP), tag="baseline")
    owners = {d.owner.email for d in sample}
    sf_owner = {e: sf.owner_id(e) for e in owners}
    hs_owner = {e: hs.owner_id(e) for e in owners}
    sf_before = salesforce.admin("GET", "usage")["by_client"].get(client, 0)
    started = time.monotonic()
    for d in sample[:sf_count]:
        lead = d.lead
        sf.upsert_lead("Accord_Lead_Key__c", d.lead_key, {
            "Email": str(lead.email), "FirstName": lead.first_name, "LastName": lead.last_name,
            "Company": lead.company, "Country": lead.country, "Accord_Score__c": d.score,
            "Accord_Stage__c": d.stage, "OwnerId": sf_owner[d.owner.email]})
    sf_seconds = time.monotonic() - started
    sf_calls = salesforce.admin("GET", "usage")["by_client"].get(client, 0) - sf_before

    def write_contact(d: LeadRouted) -> None:
        lead = d.lead
        hs.upsert_contact("email", str(lead.email), {
            "firstname": lead.first_name or "", "lastname": lead.last_name or "",
            "company": lead.company or "", "country": lead.country or "",
            "accord_score": str(d.score), "hubspot_owner_id": hs_owner[d.owner.email]})

    # Fill the window first (untimed): a burst into an empty window is not the steady rate.
    warm = hs.limiter.allowed
    for d in sample[:warm]:
        write_contact(d)
    hs_before = hubspot.admin("GET", "usage")["today"]
    started = time.monotonic()
    for d in sample[warm:warm + hs_count]:
        write_contact(d)
    hs_seconds = time.monotonic() - started
    hs_calls = hubspot.admin("GET", "usage")["today"] - hs_before
    return Baseline(sf_count, sf_seconds, sf_calls, hs_count, hs_seconds, hs_calls)
