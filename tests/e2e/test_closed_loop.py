"""The closed loop on real processes: a form lead becomes an MQL and is routed; both CRMs show
it; the rep works it in Salesforce (SLA met); an opportunity is won for 48,000; HubSpot then
shows the status, the customer stage and the deal, and the golden record books the revenue
to the campaign that first brought the lead. At the end both CRMs and the golden record agree
field by field, and nothing is duplicated. A rep who unqualifies a lead with a reason sees
HubSpot show both, and the lead go back to marketing."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import httpx
import hubspot
import pytest
import requests
from simple_salesforce import Salesforce, format_soql

from deploy.local.launcher import LocalSystem
from services.contracts.events import LEAD_ROUTED, OPPORTUNITY_WON
from services.messaging.settings import KafkaSettings
from services.messaging.topics import (
    LEAD_DECISIONS,
    ROUTER_DEAD_LETTERS,
    SYNC_DEAD_LETTERS,
    router_changelog,
)
from tests.builders import a_lead
from tests.conftest import read_records
from tests.e2e.crm_clients import (
    API_KEY,
    OWNERS,
    eventually,
    hubspot_client,
    salesforce_client,
)

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
LEAD = a_lead(email="grace.hopper@siemens.example", first_name="Grace", last_name="Hopper",
              company="Siemens", title="VP Engineering", employees=5000, country="DE",
              lead_source="demo_request", campaign="2026-q4-webinar")
KEY = LEAD["email"]
OWNER = OWNERS["maria.garcia@accord.example"]
CONTACT_PROPERTIES = ["email", "firstname", "lastname", "company", "jobtitle", "country",
                      "hubspot_owner_id", "lifecyclestage", "hs_lead_status", "accord_score",
                      "accord_unqualified_reason"]


def salesforce_admin(env: dict[str, str], path: str, body: dict[str, Any]) -> dict[str, Any]:
    """What a sales rep does in Salesforce (the sandbox's admin API, saved as the rep)."""
    session = requests.Session()
    session.trust_env = False
    answer = session.post(
        f"https://127.0.0.1:{env['SALESFORCE_SANDBOX_PORT']}/__sandbox{path}", json=body,
        verify=env["ACCORD_SYNC_SALESFORCE_CA_BUNDLE"], timeout=10,
        headers={"Authorization": "Bearer " + env.get("SALESFORCE_SANDBOX_ADMIN_TOKEN",
                                                      "local-salesforce-admin-token")})
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def kafka_of(env: dict[str, str]) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=env["ACCORD_KAFKA_BOOTSTRAP_SERVERS"],
                         topic_prefix=env["ACCORD_KAFKA_TOPIC_PREFIX"])


def hubspot_contact(env: dict[str, str], wanted: dict[str, str], key: str = KEY) -> Any:
    """The contact once it shows every ``wanted`` property value, else None."""
    try:
        found = hubspot_client(env).crm.contacts.basic_api.get_by_id(
            contact_id=key, id_property="email", properties=CONTACT_PROPERTIES)
    except hubspot.crm.contacts.ApiException:
        return None
    props = found.properties
    return found if all(props.get(k) == v for k, v in wanted.items()) else None


def salesforce_one(sf: Salesforce, soql: str) -> dict[str, Any] | None:
    records = sf.query(soql)["records"]
    assert len(records) <= 1, f"duplicates: {records}"
    return records[0] if records else None


def decisions(env: dict[str, str], key: str = KEY) -> list[dict[str, Any]]:
    """The lead's ``lead.routed`` decisions, oldest first."""
    routed = asyncio.run(read_records(kafka_of(env), LEAD_DECISIONS, 1, settle=2.0,
                                      only_type=LEAD_ROUTED))
    return [json.loads(r.value) for r in routed if r.key == key.encode()]


def dead_letters(env: dict[str, str], topic: str) -> list[Any]:
    return asyncio.run(read_records(kafka_of(env), topic, 0, settle=2.0))


def sla_clock(env: dict[str, str]) -> dict[str, Any]:
    """The lead's SLA clock as the router last committed it (its changelog)."""
    kafka = kafka_of(env)
    records = asyncio.run(read_records(kafka, router_changelog(kafka).removeprefix(
        kafka.topic_prefix), 1, settle=2.0))
    clocks = [json.loads(r.value) for r in records if r.key == f"sla:{KEY}".encode()]
    assert clocks, "the route's SLA started no clock"
    clock: dict[str, Any] = clocks[-1]
    return clock


def test_given_a_form_lead_when_worked_and_won_then_both_crms_and_the_record_agree(
        system: LocalSystem) -> None:
    env = system.env
    ingest = f"http://127.0.0.1:{env['ACCORD_INGEST_PORT']}"
    posted = httpx.post(f"{ingest}/v1/leads", json=LEAD, headers={"X-Api-Key": API_KEY},
                        timeout=10)
    assert posted.status_code == 202, posted.text
    sf = salesforce_client(env)
    lead_soql = format_soql("SELECT Id, OwnerId, Status, Accord_Stage__c, Accord_Score__c, "
                            "FirstName, LastName, Company, Title, Country, IsConverted "
                            "FROM Lead WHERE Accord_Lead_Key__c = {}", KEY)

    # 1. An MQL, routed to the enterprise owner: both CRMs show the owner and the stage.
    lead = eventually(lambda: salesforce_one(sf, lead_soql), "the Salesforce Lead", system)
    assert lead["OwnerId"] == OWNER["salesforce_user_id"]
    assert lead["Status"] == "Marketing Qualified"
    eventually(lambda: hubspot_contact(env, {
        "hubspot_owner_id": OWNER["hubspot_owner_id"],
        "lifecyclestage": "marketingqualifiedlead"}), "the MQL in HubSpot", system)

    # 2. The rep works it in Salesforce: HubSpot follows, the SLA clock is met.
    salesforce_admin(env, f"/sales/leads/{KEY}/status", {"status": "Working - Contacted"})
    eventually(lambda: hubspot_contact(env, {"lifecyclestage": "salesqualifiedlead",
                                             "hs_lead_status": "IN_PROGRESS"}),
               "the rep's status in HubSpot", system)
    assert sla_clock(env)["state"] == "met"
    worked = salesforce_one(sf, lead_soql)
    assert worked is not None and worked["Status"] == "Working - Contacted"  # sales' word kept

    # 3. Converted with an opportunity, which is won for 48,000.
    converted = salesforce_admin(env, f"/sales/leads/{KEY}/convert",
                                 {"opportunity": {"Name": "Siemens - Accord platform"}})
    opportunity_id = converted["opportunityId"]
    salesforce_admin(env, f"/sales/opportunities/{opportunity_id}/win", {"amount": 48000})
    contact = eventually(lambda: hubspot_contact(env, {"lifecyclestage": "customer"}),
                         "the customer stage in HubSpot", system)
    deals = hubspot_client(env).crm.deals.basic_api

    def deal_synced() -> Any:
        try:
            return deals.get_by_id(deal_id=opportunity_id, id_property="accord_deal_key",
                                   properties=["amount", "dealstage", "dealname",
                                               "hubspot_owner_id"],
                                   associations=["contacts"])
        except hubspot.crm.deals.ApiException:
            return None

    deal = eventually(deal_synced, "the won deal in HubSpot", system)
    assert Decimal(deal.properties["amount"]) == Decimal(48000)
    assert deal.properties["dealstage"] == "closedwon"
    assert deal.properties["hubspot_owner_id"] == OWNER["hubspot_owner_id"]  # the rep's deal
    associated = [a.id for a in deal.associations["contacts"].results]
    assert associated == [contact.id]

    # 4. The golden record books the revenue to the first campaign.
    won = asyncio.run(read_records(kafka_of(env), LEAD_DECISIONS, 1, settle=1.0,
                                   only_type=OPPORTUNITY_WON))
    assert len(won) == 1
    booked = json.loads(won[0].value)
    assert Decimal(booked["amount"]) == Decimal(48000)
    assert Decimal(booked["lead_revenue"]) == Decimal(48000)
    assert booked["first_campaign"] == "2026-q4-webinar"

    # 5. Field by field, the CRMs and the golden record agree; nothing is duplicated.
    made = decisions(env)
    golden = made[-1]
    assert golden["stage"] == "customer"
    # One decision per thing a person did (form, Working, conversion, win): our own writes
    # coming back as webhooks and Outbound Messages decided nothing — no loop.
    assert [d["stage"] for d in made] == ["mql", "sql", "sql", "customer"], made
    sf_contact = eventually(lambda: salesforce_one(sf, format_soql(
        "SELECT Id, FirstName, LastName, Email, OwnerId, Accord_Score__c, Accord_Stage__c "
        "FROM Contact WHERE Accord_Lead_Key__c = {}", KEY)), "the Salesforce Contact", system)
    final = hubspot_contact(env, {"lifecyclestage": "customer"}).properties
    fields = golden["lead"]
    assert (final["firstname"], final["lastname"], final["company"], final["jobtitle"],
            final["country"]) == (fields["first_name"], fields["last_name"],
                                  fields["company"], fields["title"], fields["country"])
    assert (sf_contact["FirstName"], sf_contact["LastName"], sf_contact["Email"]) == (
        fields["first_name"], fields["last_name"], fields["email"])
    assert int(final["accord_score"]) == golden["score"] == int(sf_contact["Accord_Score__c"])
    assert sf_contact["Accord_Stage__c"] == "customer"
    assert final["hubspot_owner_id"] == OWNER["hubspot_owner_id"]
    assert sf_contact["OwnerId"] == OWNER["salesforce_user_id"]
    for sobject in ("Lead", "Contact", "Opportunity"):
        count = sf.query(format_soql(f"SELECT Id FROM {sobject} WHERE Accord_Lead_Key__c = {{}}",
                                     KEY))["totalSize"]
        assert count == 1, f"{count} {sobject} records for {KEY}"
    search = hubspot_client(env).crm.contacts.search_api.do_search(public_object_search_request={
        "filterGroups": [{"filters": [{"propertyName": "email", "operator": "EQ",
                                       "value": KEY}]}]})
    assert search.total == 1
    for topic in (ROUTER_DEAD_LETTERS, SYNC_DEAD_LETTERS):
        found = dead_letters(env, topic)
        assert found == [], [(r.key, json.loads(r.value).get("subscription_type"),
                              json.loads(r.value).get("change_source"),
                              json.loads(r.value).get("property_name"),
                              dict(r.headers).get("accord.errors.reason")) for r in found]


def test_given_an_mql_when_the_rep_unqualifies_it_with_a_reason_then_hubspot_shows_both(
        system: LocalSystem) -> None:
    env = system.env
    lead = a_lead(email="bill.lumbergh@initrode.example", first_name="Bill",
                  last_name="Lumbergh", company="Initrode", title="VP Finance", employees=900,
                  country="US", lead_source="demo_request", campaign="2026-q4-webinar")
    key = lead["email"]
    posted = httpx.post(f"http://127.0.0.1:{env['ACCORD_INGEST_PORT']}/v1/leads", json=lead,
                        headers={"X-Api-Key": API_KEY}, timeout=10)
    assert posted.status_code == 202, posted.text
    eventually(lambda: hubspot_contact(env, {"lifecyclestage": "marketingqualifiedlead"}, key),
               "the MQL in HubSpot", system)
    sf = salesforce_client(env)
    eventually(lambda: salesforce_one(sf, format_soql(
        "SELECT Id FROM Lead WHERE Accord_Lead_Key__c = {}", key)), "the Lead", system)

    # The rep turns it down in Salesforce, saying why (an Outbound Message tells Accord).
    salesforce_admin(env, f"/sales/leads/{key}/status",
                     {"status": "Unqualified", "reason": "No Budget"})

    # HubSpot shows the status and the reason, and marketing has the lead back.
    eventually(lambda: hubspot_contact(env, {"hs_lead_status": "UNQUALIFIED",
                                             "accord_unqualified_reason": "No Budget",
                                             "lifecyclestage": "lead"}, key),
               "the rep's status and reason in HubSpot", system)
    made = decisions(env, key)
    assert [d["stage"] for d in made] == ["mql", "recycled"], made
    assert (made[-1]["salesforce_status"], made[-1]["salesforce_status_reason"]) == (
        "Unqualified", "No Budget")
    # Sales' word stays in Salesforce: our writes did not overwrite the status or the reason.
    after = salesforce_one(sf, format_soql(
        "SELECT Status, Unqualified_Reason__c FROM Lead WHERE Accord_Lead_Key__c = {}", key))
    assert after is not None
    assert (after["Status"], after["Unqualified_Reason__c"]) == ("Unqualified", "No Budget")
