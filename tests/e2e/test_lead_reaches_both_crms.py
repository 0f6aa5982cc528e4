"""The whole loop on real processes: webhook -> Kafka -> router -> sync -> both CRM sandboxes."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx
import hubspot
import pytest
import requests
import yaml
from simple_salesforce import Salesforce, format_soql

from deploy.local.kafka_broker import REPO_ROOT
from deploy.local.launcher import LocalSystem, local_environment
from tests.builders import a_lead
from tests.conftest import Broker, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
API_KEY = "e2e-key"
T = TypeVar("T")
OWNERS = {o["email"]: o for o in yaml.safe_load(
    (REPO_ROOT / "sandboxes" / "owners.yaml").read_text())["owners"]}


@pytest.fixture(scope="module")
def system(kafka_broker: Broker, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[LocalSystem]:
    """Every Accord process, started by the same launcher as `make run`, on free ports."""
    tmp = tmp_path_factory.mktemp("e2e")
    sf_port, hs_port, ingest_port = free_port(), free_port(), free_port()
    env = local_environment({
        "ACCORD_KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap_servers,
        "ACCORD_KAFKA_TOPIC_PREFIX": f"e2e-{uuid.uuid4().hex[:8]}.",
        "ACCORD_INGEST_PORT": str(ingest_port),
        "ACCORD_INGEST_API_KEYS": json.dumps([API_KEY]),
        "SALESFORCE_SANDBOX_PORT": str(sf_port),
        "SALESFORCE_SANDBOX_DATA_DIR": str(tmp / "salesforce"),
        "HUBSPOT_SANDBOX_PORT": str(hs_port),
        "HUBSPOT_SANDBOX_DATA_DIR": str(tmp / "hubspot"),
        "ACCORD_SYNC_SALESFORCE_TOKEN_URL": f"https://127.0.0.1:{sf_port}/services/oauth2/token",
        "ACCORD_SYNC_SALESFORCE_CA_BUNDLE": str(tmp / "salesforce" / "ca.pem"),
        "ACCORD_SYNC_HUBSPOT_BASE_URL": f"http://127.0.0.1:{hs_port}",
    })
    local = LocalSystem(env, log_dir=tmp / "logs")
    try:
        local.start()
        yield local
    finally:
        local.stop()


def salesforce_client(env: dict[str, str]) -> Salesforce:
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify (shared pitfalls)
    session.verify = env["ACCORD_SYNC_SALESFORCE_CA_BUNDLE"]
    token = session.post(env["ACCORD_SYNC_SALESFORCE_TOKEN_URL"], data={
        "grant_type": "client_credentials",
        "client_id": env["SALESFORCE_SANDBOX_CLIENT_ID"],
        "client_secret": env["SALESFORCE_SANDBOX_CLIENT_SECRET"],
    }, timeout=10).json()
    return Salesforce(instance_url=token["instance_url"], session_id=token["access_token"],
                      session=session, version="62.0")


def hubspot_client(env: dict[str, str]) -> Any:
    return hubspot.Client.create(access_token=env["HUBSPOT_SANDBOX_ACCESS_TOKEN"],
                                 host=env["ACCORD_SYNC_HUBSPOT_BASE_URL"])


def eventually(probe: Callable[[], T | None], what: str, system: LocalSystem,
               timeout: float = 90.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        time.sleep(0.5)
    logs = "\n".join(f"--- {p.name}\n" + (system.log_dir / f"{p.name}.log").read_text()[-2500:]
                     for p in system.processes)
    raise AssertionError(f"{what} did not happen within {timeout}s\n{logs}")


LEADS = [
    # (body, expected owner, Salesforce status, HubSpot lifecycle stage, HubSpot lead status)
    (a_lead(email="Ada.Lovelace@Siemens.example", employees=5000, country="DE"),
     "maria.garcia@accord.example", "Marketing Qualified", "marketingqualifiedlead", "OPEN"),
    (a_lead(email="bo.dawson@shop.example", employees=300, country="US", company="Shop Co"),
     "amara.okafor@accord.example", "Marketing Qualified", "marketingqualifiedlead", "OPEN"),
    (a_lead(email="cy.ng@gmail.com", employees=None, country=None, title=None,
            company=None, lead_source="web_form"),
     "nurture.queue@accord.example", "Nurture", "lead", "OPEN"),
]


def test_given_three_leads_when_posted_then_both_crms_show_the_decided_owner_and_stage(
        system: LocalSystem):
    env = system.env
    ingest = f"http://127.0.0.1:{env['ACCORD_INGEST_PORT']}"
    for body, *_ in LEADS:
        answer = httpx.post(f"{ingest}/v1/leads", json=body, headers={"X-Api-Key": API_KEY},
                            timeout=10)
        assert answer.status_code == 202, answer.text

    sf = salesforce_client(env)
    contacts = hubspot_client(env).crm.contacts.basic_api
    for body, owner, sf_status, hs_stage, hs_status in LEADS:
        key = body["email"].strip().lower()
        soql = format_soql("SELECT Id, OwnerId, Status, Accord_Stage__c, Accord_Score__c, "
                           "Company FROM Lead WHERE Accord_Lead_Key__c = {}", key)
        lead = eventually(lambda q=soql: (sf.query(q)["records"] or [None])[0],
                          f"the Salesforce Lead for {key}", system)
        assert lead["OwnerId"] == OWNERS[owner]["salesforce_user_id"]
        assert lead["Status"] == sf_status
        assert sf.query(soql)["totalSize"] == 1  # upserted, never duplicated

        def contact_synced(email: str = key) -> Any:
            try:
                found = contacts.get_by_id(contact_id=email, id_property="email", properties=[
                    "hubspot_owner_id", "lifecyclestage", "hs_lead_status", "accord_score"])
            except hubspot.crm.contacts.ApiException:
                return None
            return found if found.properties.get("hubspot_owner_id") else None

        contact = eventually(contact_synced, f"the HubSpot contact for {key}", system)
        assert contact.properties["hubspot_owner_id"] == OWNERS[owner]["hubspot_owner_id"]
        assert contact.properties["lifecyclestage"] == hs_stage
        assert contact.properties["hs_lead_status"] == hs_status
        assert int(contact.properties["accord_score"]) == int(lead["Accord_Score__c"])
