"""One real sync process against both CRM sandboxes: a partition's decisions are written as
one batch per CRM, superseded decisions are not written, an unknown owner is dead-lettered
alone, and the offsets are committed once everything is durable."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from simple_salesforce import format_soql

from deploy.local.kafka_broker import REPO_ROOT
from services.contracts.events import LEAD_ROUTED, LeadRouted
from services.contracts.lead_key import lead_key_for
from services.mapping.crm_mapping import load_mapping
from services.messaging.dead_letters import PREFIX
from services.messaging.settings import KafkaSettings
from services.messaging.topics import LEAD_DECISIONS, SYNC_DEAD_LETTERS, committed_offsets
from services.sync.batch_plan import UNKNOWN_OWNER
from services.sync.crm_errors import CrmLimitReached
from services.sync.crm_writes import BatchOutcome
from services.sync.outcome_mapping import load_outcome_mapping
from services.sync.settings import SyncSettings
from services.sync.worker import SYNC_GROUP, SyncWorker
from tests.builders import an_example_of
from tests.conftest import free_port, read_records
from tests.integration.decision_publishing import publish_decisions
from tests.integration.sandboxes.conftest import SalesforceSandbox
from tests.integration.sandboxes.hubspot_fixture import HubSpotSandbox
from tests.integration.sandboxes.salesforce_client import connect
from tests.integration.service_processes import ServiceProcess, start_service

pytestmark = pytest.mark.integration
T = TypeVar("T")
LEADS = 300
GHOST = "ghost.rep@accord.example"  # an owner neither CRM knows


@pytest.fixture
def client_name() -> str:
    """The Sforce-Call-Options client sync calls as: the sandbox counts its calls apart."""
    return f"accord-sync-{uuid.uuid4().hex[:8]}"


def sync_env(kafka: KafkaSettings, salesforce: SalesforceSandbox, hubspot: HubSpotSandbox,
             client_name: str, **overrides: str) -> dict[str, str]:
    """The settings of a sync process on ``kafka``'s topics against both sandboxes."""
    return {
        "ACCORD_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "ACCORD_KAFKA_TOPIC_PREFIX": kafka.topic_prefix,
        "ACCORD_SYNC_SALESFORCE_TOKEN_URL": salesforce.token_url,
        "ACCORD_SYNC_SALESFORCE_CLIENT_ID": salesforce.client_id,
        "ACCORD_SYNC_SALESFORCE_CLIENT_SECRET": salesforce.client_secret,
        "ACCORD_SYNC_SALESFORCE_CA_BUNDLE": str(salesforce.ca_path),
        "ACCORD_SYNC_SALESFORCE_CLIENT_NAME": client_name,
        "ACCORD_SYNC_HUBSPOT_BASE_URL": hubspot.base_url,
        "ACCORD_SYNC_HUBSPOT_ACCESS_TOKEN": hubspot.access_token,
        **overrides,
    }


@pytest.fixture
def sync(fresh_kafka: KafkaSettings, salesforce_sandbox: SalesforceSandbox,
         hubspot_sandbox: HubSpotSandbox,
         client_name: str, tmp_path: Path) -> Iterator[ServiceProcess]:
    """One sync process on this test's topics, started after its mapping check passed."""
    process = start_service("services.sync", sync_env(fresh_kafka, salesforce_sandbox,
                                                      hubspot_sandbox,
                                                      client_name), tmp_path / "sync.log")
    try:
        eventually(lambda: "sync.mapping_checked" in process.output() or None,
                   "the start-up mapping check", process, timeout=60)
        yield process
    finally:
        process.stop()


def eventually(probe: Callable[[], T | None], what: str, process: ServiceProcess,
               timeout: float = 90.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.popen.poll() is None, f"sync exited:\n{process.output()[-3000:]}"
        found = probe()
        if found is not None:
            return found
        time.sleep(0.5)
    raise AssertionError(f"{what} did not happen within {timeout}s:\n"
                         f"{process.output()[-3000:]}")


def a_decision(email: str, company: str, score: int, owner: str | None = None) -> LeadRouted:
    example: LeadRouted = an_example_of(LEAD_ROUTED)
    return example.model_copy(update={
        "lead_key": lead_key_for(email), "score": score, "decision_id": uuid.uuid4().hex,
        "lead": example.lead.model_copy(update={"email": email, "company": company}),
        "owner": example.owner.model_copy(update={"email": owner or example.owner.email})})


async def publish_in_one_transaction(kafka: KafkaSettings, decisions: list[LeadRouted]) -> int:
    """Publish to partition 0 as the router does (a transaction, read_committed consumers
    see all of it at once); returns the last record's offset."""
    sent = await publish_decisions(kafka, [(LEAD_ROUTED, d) for d in decisions], partition=0)
    return max(meta.offset for meta in sent)


async def committed(kafka: KafkaSettings) -> int:
    """Sync's committed offset on partition 0 of the decisions topic; -1 before any."""
    offsets = await committed_offsets(kafka, kafka.group(SYNC_GROUP), kafka.topic(LEAD_DECISIONS))
    return offsets.get(0, -1)


def salesforce_calls(sandbox: SalesforceSandbox, client: str) -> int:
    answer = sandbox.admin("GET", "/usage")
    assert answer.status_code == 200, answer.text
    return int(answer.json()["by_client"].get(client, 0))


def hubspot_calls(sandbox: HubSpotSandbox) -> int:
    """Calls the sandbox counted today, this one included."""
    headers = httpx.get(f"{sandbox.base_url}/crm/v3/owners/", params={"limit": 1},
                        headers={"Authorization": f"Bearer {sandbox.access_token}"},
                        trust_env=False, timeout=10).headers
    return int(headers["X-HubSpot-RateLimit-Daily"]) - int(
        headers["X-HubSpot-RateLimit-Daily-Remaining"])


def hubspot_contacts(sandbox: HubSpotSandbox, marker: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 100, "properties": "email,accord_score",
                                  **({"after": after} if after else {})}
        page = httpx.get(f"{sandbox.base_url}/crm/v3/objects/contacts", params=params,
                         headers={"Authorization": f"Bearer {sandbox.access_token}"},
                         trust_env=False, timeout=10).json()
        found += [c for c in page["results"] if marker in (c["properties"]["email"] or "")]
        after = page.get("paging", {}).get("next", {}).get("after")
        if after is None:
            return found


async def test_given_300_decisions_when_synced_then_written_in_few_batch_calls_and_committed(
        sync: ServiceProcess, fresh_kafka: KafkaSettings, salesforce_sandbox: SalesforceSandbox,
        hubspot_sandbox: HubSpotSandbox, client_name: str):
    tag = uuid.uuid4().hex[:8]
    company = f"Batch {tag}"
    emails = [f"lead{i}.{tag}@batch.example" for i in range(LEADS)]
    superseded = a_decision(emails[0], company, score=11)
    ghost = a_decision(f"ghost.{tag}@batch.example", company, score=5, owner=GHOST)
    decisions = [superseded, *(a_decision(e, company, score=i % 90 + 1)
                               for i, e in enumerate(emails)), ghost]
    decisions[1] = a_decision(emails[0], company, score=77)  # the later one for lead 0 wins
    sf_before = salesforce_calls(salesforce_sandbox, client_name)
    hs_before = hubspot_calls(hubspot_sandbox)

    last_offset = await publish_in_one_transaction(fresh_kafka, decisions)

    deadline = time.monotonic() + 90
    while await committed(fresh_kafka) < last_offset + 1:
        assert time.monotonic() < deadline, f"not committed:\n{sync.output()[-3000:]}"
        assert sync.popen.poll() is None, f"sync exited:\n{sync.output()[-3000:]}"
        await asyncio.sleep(0.5)

    # One batch: Salesforce 200 + 100 Leads, HubSpot 3 x 100 contacts; plus one owner lookup
    # each for the rule's owner and for the ghost (cached owners cost nothing).
    owner_lookups = 2
    sf_calls = salesforce_calls(salesforce_sandbox, client_name) - sf_before
    hs_calls = hubspot_calls(hubspot_sandbox) - hs_before - 1  # minus the counting call itself
    print(f"salesforce calls {sf_calls}, hubspot calls {hs_calls} for {len(decisions)} records")
    assert sf_calls - owner_lookups <= 3
    assert hs_calls - owner_lookups <= 5

    sf = connect(salesforce_sandbox)
    soql = format_soql("SELECT Accord_Lead_Key__c, Accord_Score__c FROM Lead "
                       "WHERE Company = {}", company)
    leads = sf.query_all(soql)["records"]
    assert sorted(r["Accord_Lead_Key__c"] for r in leads) == sorted(
        lead_key_for(e) for e in emails)  # each once; the ghost's lead is not written
    assert {r["Accord_Lead_Key__c"]: r["Accord_Score__c"] for r in leads}[
        lead_key_for(emails[0])] == 77
    contacts = hubspot_contacts(hubspot_sandbox, tag)
    assert sorted(c["properties"]["email"] for c in contacts) == sorted(emails)
    assert {c["properties"]["email"]: c["properties"]["accord_score"] for c in contacts}[
        emails[0]] == "77"

    letters = await read_records(fresh_kafka, SYNC_DEAD_LETTERS, 2, within=30, settle=1.0)
    assert len(letters) == 2
    assert {dict(r.headers)[f"{PREFIX}crm"] for r in letters} == {b"salesforce", b"hubspot"}
    for letter in letters:
        headers = dict(letter.headers)
        assert headers[f"{PREFIX}code"] == UNKNOWN_OWNER.encode()
        assert letter.key == ghost.lead_key.encode()
        assert headers["ce_type"] == LEAD_ROUTED.encode()  # the original record's headers


def sync_refusing_to_start(kafka: KafkaSettings, salesforce_sandbox: SalesforceSandbox,
                           hubspot_sandbox: HubSpotSandbox, client_name: str, log: Path,
                           **env: str) -> str:
    """Start sync with ``env``; its output, once it exited 2 as a misfit mapping must."""
    process = start_service("services.sync", sync_env(
        kafka, salesforce_sandbox, hubspot_sandbox, client_name, **env), log)
    try:
        status = process.popen.wait(60)
    finally:
        process.stop()
    output = process.output()
    assert status == 2, output[-3000:]
    assert "Traceback" not in output
    return output


def test_given_a_mapping_that_does_not_fit_when_sync_starts_then_it_exits_2_saying_why(
        kafka: KafkaSettings, salesforce_sandbox: SalesforceSandbox,
        hubspot_sandbox: HubSpotSandbox,
        client_name: str, tmp_path: Path):
    mapping = (REPO_ROOT / "mappings" / "crm.yaml").read_text()
    broken = tmp_path / "crm.yaml"
    broken.write_text(mapping.replace("title: Title", "title: Job_Title__c")
                      .replace("id_property: email", "id_property: email_address"))

    output = sync_refusing_to_start(kafka, salesforce_sandbox, hubspot_sandbox, client_name,
                                    tmp_path / "sync.log", ACCORD_SYNC_MAPPING_FILE=str(broken))

    assert "Job_Title__c" in output and "email_address" in output


def test_given_a_reason_property_without_the_orgs_reasons_when_sync_starts_then_exits_2(
        kafka: KafkaSettings, salesforce_sandbox: SalesforceSandbox,
        hubspot_sandbox: HubSpotSandbox, client_name: str, tmp_path: Path):
    outcomes = (REPO_ROOT / "mappings" / "crm_outcomes.yaml").read_text()
    broken = tmp_path / "crm_outcomes.yaml"
    # A dropdown of employee ranges cannot hold "No Budget": a check that needs both CRMs.
    broken.write_text(outcomes.replace("status_reason_property: accord_unqualified_reason",
                                       "status_reason_property: numemployees"))

    output = sync_refusing_to_start(kafka, salesforce_sandbox, hubspot_sandbox, client_name,
                                    tmp_path / "sync.log",
                                    ACCORD_SYNC_OUTCOME_MAPPING_FILE=str(broken))

    assert "'No Budget' is a value of Salesforce's Unqualified_Reason__c but not an option " \
           "of numemployees" in output


def test_given_jwt_bearer_without_a_username_when_sync_starts_then_exits_2_naming_it(
        kafka: KafkaSettings, salesforce_sandbox: SalesforceSandbox,
        hubspot_sandbox: HubSpotSandbox, client_name: str, tmp_path: Path):
    output = sync_refusing_to_start(kafka, salesforce_sandbox, hubspot_sandbox, client_name,
                                    tmp_path / "sync.log",
                                    ACCORD_SYNC_SALESFORCE_AUTH_FLOW="jwt_bearer")

    assert "ACCORD_SYNC_SALESFORCE_USERNAME" in output
    assert "ACCORD_SYNC_SALESFORCE_PRIVATE_KEY_FILE" in output


def test_given_a_crm_away_at_start_when_sync_starts_then_it_keeps_asking_until_stopped(
        kafka: KafkaSettings, salesforce_sandbox: SalesforceSandbox,
        hubspot_sandbox: HubSpotSandbox,
        client_name: str, tmp_path: Path):
    away = f"http://127.0.0.1:{free_port()}"  # nobody listens there
    process = start_service("services.sync", sync_env(
        kafka, salesforce_sandbox, hubspot_sandbox, client_name, ACCORD_SYNC_HUBSPOT_BASE_URL=away),
        tmp_path / "sync.log")
    try:
        eventually(lambda: process.output().count("sync.crm_unreachable_at_start") >= 2 or None,
                   "two attempts to reach HubSpot", process, timeout=30)
    finally:
        status = process.stop()

    assert status == 0, process.output()[-3000:]
    assert "Traceback" not in process.output()


class FakeCrm:
    """A CRM writer whose first write finds Accord's share used up (CrmLimitReached)."""

    def __init__(self, crm: str, park_seconds: float) -> None:
        self.crm = crm
        self.park_seconds = park_seconds
        self.calls: list[tuple[float, int]] = []  # when, how many records

    def owner_id(self, email: str) -> str:
        return "005000000000001AAA" if self.crm == "salesforce" else "41000001"

    def _upsert(self, records: list[Any]) -> BatchOutcome:
        self.calls.append((time.monotonic(), len(records)))
        if len(self.calls) == 1:
            raise CrmLimitReached(self.crm, "share used", self.park_seconds)
        return BatchOutcome(written={r.key: f"id-{r.key}" for r in records})

    def upsert_leads(self, external_id_field: str, records: list[Any]) -> BatchOutcome:
        return self._upsert(records)

    def upsert_contacts(self, id_property: str, records: list[Any]) -> BatchOutcome:
        return self._upsert(records)


def a_worker_writing_to(salesforce: FakeCrm, hubspot: FakeCrm, kafka: KafkaSettings,
                        ) -> SyncWorker:
    """A sync worker with the shipped mappings, writing to fake CRMs."""
    return SyncWorker(SyncSettings(kafka=kafka), load_mapping(REPO_ROOT / "mappings" / "crm.yaml"),
                      load_outcome_mapping(REPO_ROOT / "mappings" / "crm_outcomes.yaml"),
                      salesforce, hubspot)  # type: ignore[arg-type]


async def test_given_a_crm_limit_when_syncing_then_parked_polling_paused_and_committed_after(
        fresh_kafka: KafkaSettings, monkeypatch: pytest.MonkeyPatch):
    polls: list[tuple[float, frozenset[Any], int]] = []
    real_getmany = AIOKafkaConsumer.getmany

    async def spied_getmany(consumer: AIOKafkaConsumer, *args: Any, **kwargs: Any) -> Any:
        found = await real_getmany(consumer, *args, **kwargs)
        polls.append((time.monotonic(), frozenset(consumer.paused()),
                      sum(len(v) for v in found.values())))
        return found

    monkeypatch.setattr(AIOKafkaConsumer, "getmany", spied_getmany)
    salesforce, hubspot = FakeCrm("salesforce", 3.0), FakeCrm("hubspot", 0.0)
    worker = a_worker_writing_to(salesforce, hubspot, fresh_kafka)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        tag = uuid.uuid4().hex[:8]
        last = await publish_in_one_transaction(fresh_kafka, [
            a_decision(f"p{i}.{tag}@park.example", "Park Co", score=i + 1) for i in range(5)])
        deadline = time.monotonic() + 30
        while await committed(fresh_kafka) < last + 1:
            assert time.monotonic() < deadline and not running.done()
            if salesforce.calls and len(salesforce.calls) == 1:
                assert await committed(fresh_kafka) < last + 1  # parked: nothing committed
            await asyncio.sleep(0.2)
    finally:
        stop.set()
        await asyncio.wait_for(running, 30)

    (parked_at, sent), (resumed_at, sent_again) = salesforce.calls
    assert sent == sent_again == 5
    assert resumed_at - parked_at >= 3.0
    # While parked the consumer kept polling, every partition of the decisions paused.
    during = [p for p in polls if parked_at + 0.5 < p[0] < resumed_at - 0.2]
    assert len(during) >= 3
    topic = fresh_kafka.topic(LEAD_DECISIONS)
    assert all(TopicPartition(topic, 0) in paused and count == 0
               for _, paused, count in during)
    assert all(len({tp for tp in paused if tp.topic == topic}) == 6 for _, paused, _ in during)


async def test_given_a_crm_parked_when_stop_is_asked_then_the_worker_ends_leaving_the_batch_uncommitted(  # noqa: E501
        fresh_kafka: KafkaSettings):
    salesforce, hubspot = FakeCrm("salesforce", 3600.0), FakeCrm("hubspot", 0.0)
    worker = a_worker_writing_to(salesforce, hubspot, fresh_kafka)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        tag = uuid.uuid4().hex[:8]
        await publish_in_one_transaction(fresh_kafka, [
            a_decision(f"s{i}.{tag}@park.example", "Park Co", score=i + 1) for i in range(5)])
        deadline = time.monotonic() + 30
        while not (salesforce.calls and len(hubspot.calls) >= 2):  # parked; HubSpot done
            assert time.monotonic() < deadline and not running.done()
            await asyncio.sleep(0.2)
    finally:
        stop.set()
        # Parked for an hour, yet it ends at once (a deadline, not a timed assertion).
        await asyncio.wait_for(running, 30)

    assert len(salesforce.calls) == 1  # never retried: stopped during the park
    assert await committed(fresh_kafka) == -1
