"""The whole loop on real processes: webhook -> Kafka -> router -> sync -> both CRM sandboxes."""

from __future__ import annotations

from typing import Any

import httpx
import hubspot
import pytest
from simple_salesforce import format_soql

from deploy.local.launcher import LocalSystem
from tests.builders import a_lead
from tests.e2e.crm_clients import API_KEY, OWNERS, eventually, hubspot_client, salesforce_client

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


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
