"""A real sync process against both CRM sandboxes: a decision the CRMs already hold is not
written again (also after a restart), each field follows its sync rule, a rep's Salesforce
status reaches HubSpot without being written back, and a won opportunity becomes a HubSpot
deal on the lead's contact."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from simple_salesforce import format_soql

from services.contracts.events import LEAD_ROUTED, OPPORTUNITY_WON, LeadRouted, OpportunityWon
from services.contracts.lead_key import lead_key_for
from services.messaging.settings import KafkaSettings
from tests.builders import an_example_of
from tests.integration.decision_publishing import publish_decisions
from tests.integration.sandboxes.conftest import SalesforceSandbox
from tests.integration.sandboxes.hubspot_fixture import HubSpotSandbox
from tests.integration.sandboxes.salesforce_client import connect
from tests.integration.service_processes import ServiceProcess, start_service
from tests.integration.test_sync_batches import (
    committed,
    eventually,
    hubspot_calls,
    salesforce_calls,
    sync_env,
)

pytestmark = pytest.mark.integration
FORM = "/accord/ingest/v1/leads"
SF_FIELDS = "Phone, LeadSource, Title, Company, Status, Accord_Score__c, LastModifiedDate"
HS_PROPERTIES = ("phone,jobtitle,company,hs_lead_status,lifecyclestage,accord_score,"
                 "accord_unqualified_reason")


class Sync:
    """Starts and restarts one sync process on a test's topics."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.process: ServiceProcess | None = None
        self.runs = 0

    def start(self) -> ServiceProcess:
        self.runs += 1
        process = start_service("services.sync", self.env,
                                self.log_dir / f"sync-{self.runs}.log")
        self.process = process
        eventually(lambda: "sync.mapping_checked" in process.output() or None,
                   "the start-up mapping check", process, timeout=60)
        return process

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None

    def output(self) -> str:
        return self.process.output() if self.process is not None else ""


@pytest.fixture
def client_name() -> str:
    return f"accord-sync-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def sync(fresh_kafka: KafkaSettings, salesforce_sandbox: SalesforceSandbox,
         hubspot_sandbox: HubSpotSandbox, client_name: str, tmp_path: Path) -> Iterator[Sync]:
    runner = Sync(sync_env(fresh_kafka, salesforce_sandbox, hubspot_sandbox, client_name),
                  tmp_path)
    runner.start()
    try:
        yield runner
    finally:
        runner.stop()


def a_decision(email: str, **changes: Any) -> LeadRouted:
    example: LeadRouted = an_example_of(LEAD_ROUTED)
    lead = changes.pop("lead", {})
    return example.model_copy(update={
        "lead_key": lead_key_for(email), "decision_id": uuid.uuid4().hex,
        "lead": example.lead.model_copy(update={"email": email, "phone": "+1 555 0100",
                                                **lead}),
        **changes})


async def publish_and_wait(kafka: KafkaSettings, sync: Sync, *events: tuple[str, Any]) -> None:
    """Publish to partition 0 in one transaction, as the router does, and wait until sync
    committed past them."""
    last = max(meta.offset for meta in await publish_decisions(kafka, events, partition=0))
    deadline = time.monotonic() + 60
    while await committed(kafka) < last + 1:
        assert sync.process is not None and sync.process.popen.poll() is None, sync.output()
        assert time.monotonic() < deadline, f"not committed:\n{sync.output()[-3000:]}"
        await asyncio.sleep(0.3)


def batches_written(output: str) -> list[dict[str, Any]]:
    """The ``sync.batch_written`` log lines of a sync process (JSON lines)."""
    lines = (line for line in output.splitlines() if line.startswith("{"))
    return [e for e in map(json.loads, lines) if e.get("event") == "sync.batch_written"]


def salesforce_lead(sandbox: SalesforceSandbox, email: str) -> dict[str, Any]:
    soql = format_soql(f"SELECT {SF_FIELDS} FROM Lead WHERE Accord_Lead_Key__c = {{}}",
                       lead_key_for(email))
    [lead] = connect(sandbox).query_all(soql)["records"]
    return dict(lead)


def hubspot_get(sandbox: HubSpotSandbox, path: str, **params: Any) -> dict[str, Any]:
    answer = httpx.get(f"{sandbox.base_url}{path}", params=params, trust_env=False, timeout=10,
                       headers={"Authorization": f"Bearer {sandbox.access_token}"})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def hubspot_contact(sandbox: HubSpotSandbox, email: str) -> dict[str, Any]:
    return hubspot_get(sandbox, f"/crm/v3/objects/contacts/{email}", idProperty="email",
                       properties=HS_PROPERTIES)


async def test_given_a_decision_written_when_the_same_comes_again_then_no_crm_call(
        sync: Sync, fresh_kafka: KafkaSettings, salesforce_sandbox: SalesforceSandbox,
        hubspot_sandbox: HubSpotSandbox, client_name: str):
    email = f"twice.{uuid.uuid4().hex[:8]}@skip.example"
    await publish_and_wait(fresh_kafka, sync, (LEAD_ROUTED, a_decision(email)))
    written = salesforce_lead(salesforce_sandbox, email)
    sf_before = salesforce_calls(salesforce_sandbox, client_name)
    hs_before = hubspot_calls(hubspot_sandbox)

    await publish_and_wait(fresh_kafka, sync, (LEAD_ROUTED, a_decision(email)))

    assert salesforce_calls(salesforce_sandbox, client_name) == sf_before
    assert hubspot_calls(hubspot_sandbox) - hs_before == 1  # the counting call itself
    assert salesforce_lead(salesforce_sandbox, email) == written
    *_, sf_log, hs_log = [(e["crm"], e["written"], e["skipped"])
                          for e in batches_written(sync.output())]
    assert {sf_log, hs_log} == {("salesforce", 0, 1), ("hubspot", 0, 1)}


async def test_given_a_restart_when_the_same_decision_comes_then_still_skipped_and_changes_written(
        sync: Sync, fresh_kafka: KafkaSettings, salesforce_sandbox: SalesforceSandbox,
        hubspot_sandbox: HubSpotSandbox):
    email = f"restart.{uuid.uuid4().hex[:8]}@skip.example"
    await publish_and_wait(fresh_kafka, sync, (LEAD_ROUTED, a_decision(email, score=40)))
    lead_before = salesforce_lead(salesforce_sandbox, email)
    contact_before = hubspot_contact(hubspot_sandbox, email)
    sync.stop()
    sync.start()

    await publish_and_wait(fresh_kafka, sync, (LEAD_ROUTED, a_decision(email, score=40)))

    assert salesforce_lead(salesforce_sandbox, email) == lead_before  # not even touched
    assert hubspot_contact(hubspot_sandbox, email)["updatedAt"] == contact_before["updatedAt"]
    assert "sync.known_values_restored" in sync.output()
    assert {(e["crm"], e["written"], e["skipped"]) for e in batches_written(sync.output())} \
        == {("salesforce", 0, 1), ("hubspot", 0, 1)}

    await publish_and_wait(fresh_kafka, sync, (LEAD_ROUTED, a_decision(email, score=41)))

    assert salesforce_lead(salesforce_sandbox, email)["Accord_Score__c"] == 41
    assert hubspot_contact(hubspot_sandbox, email)["properties"]["accord_score"] == "41"


async def test_given_an_existing_lead_when_fields_change_then_each_follows_its_sync_rule(
        sync: Sync, fresh_kafka: KafkaSettings, salesforce_sandbox: SalesforceSandbox,
        hubspot_sandbox: HubSpotSandbox):
    email = f"rules.{uuid.uuid4().hex[:8]}@rules.example"
    first = a_decision(email, lead={"title": "CTO", "lead_source": "demo_request",
                                    "company": "First Co", "phone": "+1 555 0100"},
                       field_sources={"title": FORM, "phone": FORM})
    await publish_and_wait(fresh_kafka, sync, (LEAD_ROUTED, first))

    later = a_decision(
        email, lead={"title": "CEO", "lead_source": "webinar", "company": "Second Co",
                     "phone": "+1 555 0199"},
        salesforce_status="Nurture",
        field_sources={"title": "hubspot", "lead_source": FORM, "company": FORM,
                       "phone": FORM})
    await publish_and_wait(fresh_kafka, sync, (LEAD_ROUTED, later))

    lead = salesforce_lead(salesforce_sandbox, email)
    contact = hubspot_contact(hubspot_sandbox, email)["properties"]
    assert lead["Phone"] == contact["phone"] == "+1 555 0100"  # dont_sync: only on create
    assert lead["LeadSource"] == "demo_request"  # always_salesforce: Salesforce owns it
    assert lead["Company"] == contact["company"] == "Second Co"  # fills Salesforce's value
    assert lead["Title"] == "CEO"  # two_way, from HubSpot: written to Salesforce...
    assert contact["jobtitle"] == "CTO"  # ...and not back to HubSpot, which holds it
    assert lead["Status"] == "Marketing Qualified"  # the rep's status is not written back
    assert contact["hs_lead_status"] == "BAD_TIMING"  # Nurture, mapped
    assert contact["lifecyclestage"] == "marketingqualifiedlead"  # still the stage's


async def test_given_a_rep_unqualifies_with_a_reason_when_synced_then_hubspot_shows_both(
        sync: Sync, fresh_kafka: KafkaSettings, salesforce_sandbox: SalesforceSandbox,
        hubspot_sandbox: HubSpotSandbox):
    email = f"unqualified.{uuid.uuid4().hex[:8]}@reason.example"
    await publish_and_wait(fresh_kafka, sync, (LEAD_ROUTED, a_decision(email)))

    unqualified = a_decision(email, stage="recycled", salesforce_status="Unqualified",
                             salesforce_status_reason="No Budget")
    await publish_and_wait(fresh_kafka, sync, (LEAD_ROUTED, unqualified))
    contact = hubspot_contact(hubspot_sandbox, email)["properties"]
    assert (contact["hs_lead_status"], contact["accord_unqualified_reason"]) == (
        "UNQUALIFIED", "No Budget")
    assert contact["lifecyclestage"] == "lead"  # recycled: back to marketing
    # The rep's status and reason are Salesforce's own: never written back there.
    assert salesforce_lead(salesforce_sandbox, email)["Status"] == "Marketing Qualified"

    worked = a_decision(email, stage="sql", salesforce_status="Working - Contacted")
    await publish_and_wait(fresh_kafka, sync, (LEAD_ROUTED, worked))
    contact = hubspot_contact(hubspot_sandbox, email)["properties"]
    assert contact["hs_lead_status"] == "IN_PROGRESS"
    assert not contact["accord_unqualified_reason"]  # the old reason cleared


async def test_given_an_opportunity_won_when_synced_then_a_deal_of_the_amount_on_the_contact(
        sync: Sync, fresh_kafka: KafkaSettings, hubspot_sandbox: HubSpotSandbox):
    email = f"won.{uuid.uuid4().hex[:8]}@won.example"
    opportunity = f"006{uuid.uuid4().hex[:15].upper()}"
    customer = a_decision(email, stage="customer", salesforce_status="Closed - Converted")
    example: OpportunityWon = an_example_of(OPPORTUNITY_WON)
    won = example.model_copy(update={
        "lead_key": lead_key_for(email), "opportunity_id": opportunity,
        "amount": Decimal("48000.00"), "name": "Won deal",
        "lead": example.lead.model_copy(update={"email": email})})

    await publish_and_wait(fresh_kafka, sync, (LEAD_ROUTED, customer), (OPPORTUNITY_WON, won))
    await publish_and_wait(fresh_kafka, sync, (OPPORTUNITY_WON, won))  # reported twice

    contact = hubspot_contact(hubspot_sandbox, email)
    assert contact["properties"]["lifecyclestage"] == "customer"
    assert contact["properties"]["hs_lead_status"] == "OPEN_DEAL"
    deal = hubspot_get(hubspot_sandbox, f"/crm/v3/objects/deals/{opportunity}",
                       idProperty="accord_deal_key",
                       properties="amount,dealstage,dealname,pipeline,hubspot_owner_id")
    assert float(deal["properties"]["amount"]) == 48000
    assert deal["properties"]["hubspot_owner_id"] == "41000001"  # Maria, who worked the lead
    assert deal["properties"]["dealstage"] == "closedwon"
    assert deal["properties"]["dealname"] == "Won deal"
    linked = hubspot_get(hubspot_sandbox, f"/crm/v4/objects/deals/{deal['id']}"
                                          "/associations/contacts")
    assert [str(r["toObjectId"]) for r in linked["results"]] == [contact["id"]]
    deals = [(e["written"], e["skipped"]) for e in batches_written(sync.output())
             if e["object"] == "deal"]
    assert deals == [(1, 0), (0, 1)]
