"""Deals and deal-contact associations in the HubSpot sandbox, through hubspot-api-client."""

from __future__ import annotations

import json
import uuid

import hubspot
import pytest
from hubspot.crm.associations.v4 import (
    BatchInputPublicDefaultAssociationMultiPost,
    PublicDefaultAssociationMultiPost,
)
from hubspot.crm.associations.v4 import PublicObjectId as AssociatedId
from hubspot.crm.contacts import AssociationSpec as ContactAssociationSpec
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInputUpsert as ContactUpserts,
)
from hubspot.crm.contacts import PublicAssociationsForObject as ContactAssociation
from hubspot.crm.contacts import PublicObjectId as ContactTarget
from hubspot.crm.contacts import SimplePublicObjectBatchInputUpsert as ContactUpsert
from hubspot.crm.contacts import SimplePublicObjectInputForCreate as ContactCreate
from hubspot.crm.deals import (
    ApiException,
    AssociationSpec,
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchReadInputSimplePublicObjectId,
    PublicAssociationsForObject,
    PublicObjectId,
    SimplePublicObjectBatchInput,
    SimplePublicObjectBatchInputForCreate,
    SimplePublicObjectBatchInputUpsert,
    SimplePublicObjectId,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)

from tests.integration.sandboxes.hubspot_fixture import HubSpotSandbox

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client(hubspot_sandbox: HubSpotSandbox) -> hubspot.Client:
    return hubspot.Client.create(access_token=hubspot_sandbox.access_token,
                                 host=hubspot_sandbox.base_url)


def a_contact(client: hubspot.Client) -> str:
    email = f"deal.buyer.{uuid.uuid4().hex[:8]}@example.com"
    batch = ContactUpserts(inputs=[ContactUpsert(id_property="email", id=email,
                                                 properties={"firstname": "Dee"})])
    return str(client.crm.contacts.batch_api.upsert(
        batch_input_simple_public_object_batch_input_upsert=batch).results[0].id)


def a_key() -> str:
    return f"deal-{uuid.uuid4().hex[:10]}"


def upsert_deals(client: hubspot.Client, *inputs: tuple[str, dict[str, str]],
                 id_property: str | None = "accord_deal_key"):
    batch = BatchInputSimplePublicObjectBatchInputUpsert(inputs=[
        SimplePublicObjectBatchInputUpsert(id_property=id_property, id=key, properties=values)
        for key, values in inputs])
    return client.crm.deals.batch_api.upsert(
        batch_input_simple_public_object_batch_input_upsert=batch)


def error_body(error: ApiException) -> dict:
    return json.loads(error.body)


def to_contact(contact_id: str) -> PublicAssociationsForObject:
    return PublicAssociationsForObject(
        to=PublicObjectId(id=contact_id),
        types=[AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=3)])


def test_given_deal_with_contact_association_when_created_then_201_and_both_sides_linked(
        client):
    contact_id = a_contact(client)

    deal = client.crm.deals.basic_api.create(
        simple_public_object_input_for_create=SimplePublicObjectInputForCreate(
            properties={"dealname": "Acme renewal", "amount": "1200.50",
                        "dealstage": "qualifiedtobuy", "closedate": "2026-03-31",
                        "hubspot_owner_id": "41000002"},
            associations=[to_contact(contact_id)]))

    assert deal.id.isdigit()
    assert deal.properties["dealname"] == "Acme renewal"
    assert deal.properties["pipeline"] == "default"  # the default pipeline when none is given
    assert deal.properties["closedate"] == "2026-03-31T00:00:00.000Z"
    assert deal.properties["hs_object_id"] == deal.id
    v4 = client.crm.associations.v4.basic_api
    from_contact = v4.get_page("contacts", contact_id, "deals")
    assert [(r.to_object_id, r.association_types[0].type_id)
            for r in from_contact.results] == [(deal.id, 4)]
    from_deal = v4.get_page("deals", deal.id, "contacts")
    assert [(r.to_object_id, r.association_types[0].type_id)
            for r in from_deal.results] == [(contact_id, 3)]
    read = client.crm.deals.basic_api.get_by_id(deal.id, associations=["contacts"])
    assert [a.id for a in read.associations["contacts"].results] == [contact_id]


def test_given_association_to_unknown_contact_when_deal_created_then_400_and_no_deal(client):
    before = client.crm.deals.basic_api.get_page(limit=100).results

    with pytest.raises(ApiException) as raised:
        client.crm.deals.basic_api.create(
            simple_public_object_input_for_create=SimplePublicObjectInputForCreate(
                properties={"dealname": "Ghost"}, associations=[to_contact("999999")]))

    assert raised.value.status == 400
    body = error_body(raised.value)
    assert (body["category"], body["message"]) == (
        "VALIDATION_ERROR", "One or more associations are invalid")
    assert body["context"]["INVALID_OBJECT_IDS"] == ["CONTACT=999999 is not valid"]
    assert len(client.crm.deals.basic_api.get_page(limit=100).results) == len(before)


def test_given_deals_when_batch_created_updated_and_read_then_values_follow(client):
    created = client.crm.deals.batch_api.create(
        batch_input_simple_public_object_batch_input_for_create=(
            BatchInputSimplePublicObjectBatchInputForCreate(inputs=[
                SimplePublicObjectBatchInputForCreate(
                    properties={"dealname": f"Batch {i}", "amount": str(100 * i),
                                "dealstage": "appointmentscheduled"}, associations=[])
                for i in (1, 2)])))
    ids = sorted(r.id for r in created.results)
    assert created.status == "COMPLETE"

    change = SimplePublicObjectBatchInput(id=ids[0], properties={"dealstage": "closedwon"})
    updated = client.crm.deals.batch_api.update(
        batch_input_simple_public_object_batch_input=BatchInputSimplePublicObjectBatchInput(
            inputs=[change]))
    read = client.crm.deals.batch_api.read(
        batch_read_input_simple_public_object_id=BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=i) for i in ids],
            properties=["dealstage", "amount"], properties_with_history=[]))

    assert updated.results[0].properties["dealstage"] == "closedwon"
    by_id = {r.id: r.properties for r in read.results}
    assert (by_id[ids[0]]["dealstage"], by_id[ids[1]]["dealstage"]) == (
        "closedwon", "appointmentscheduled")
    assert by_id[ids[1]]["amount"] == "200"
    assert "dealname" not in by_id[ids[1]]


def test_given_unknown_id_when_batch_read_then_207_with_found_deals_and_error(client):
    [deal] = upsert_deals(client, (a_key(), {"dealname": "Known"})).results

    response, status, _ = client.crm.deals.batch_api.read_with_http_info(
        batch_read_input_simple_public_object_id=BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=deal.id), SimplePublicObjectId(id="424242")],
            properties=["dealname"], properties_with_history=[]))

    assert status == 207
    assert [r.id for r in response.results] == [deal.id]
    assert response.num_errors == 1
    assert response.errors[0].category == "OBJECT_NOT_FOUND"
    assert response.errors[0].context == {"ids": ["424242"]}


def test_given_deal_key_when_upserted_twice_then_created_once_and_updated(client):
    key = a_key()

    first = upsert_deals(client, (key, {"dealname": "Upsert", "amount": "10"})).results[0]
    second = upsert_deals(client, (key, {"amount": "20", "dealstage": "contractsent"})).results[0]

    assert (first.new, second.new) == (True, False)
    assert second.id == first.id
    assert second.properties["amount"] == "20"
    assert second.properties["dealname"] == "Upsert"
    assert second.properties["accord_deal_key"] == key
    by_key = client.crm.deals.basic_api.get_by_id(key, id_property="accord_deal_key",
                                                  properties=["amount"])
    assert (by_key.id, by_key.properties["amount"]) == (first.id, "20")


@pytest.mark.parametrize("id_property", [None, "dealname", "hs_object_id"])
def test_given_non_unique_id_property_when_deals_upserted_then_400(client, id_property):
    with pytest.raises(ApiException) as raised:
        upsert_deals(client, ("x", {"dealname": "x"}), id_property=id_property)

    assert raised.value.status == 400
    named = id_property or "hs_object_id"
    assert error_body(raised.value)["message"] == (
        f"Unable to perform update/upsert by non-unique 0-3 property {named} in portal ID 62515")


def test_given_101_inputs_when_deals_upserted_then_hubspot_batch_limit_error(client):
    with pytest.raises(ApiException) as raised:
        upsert_deals(client, *[(a_key(), {"dealname": "x"}) for _ in range(101)])

    assert raised.value.status == 400
    body = error_body(raised.value)
    assert body["category"] == "VALIDATION_ERROR"
    assert body["message"] == ("The maximum number of inputs supported in a batch is 100. "
                               "Please reduce the number of items and try again")


def test_given_100_inputs_when_deals_upserted_then_all_created(client):
    response = upsert_deals(client, *[(a_key(), {"dealname": f"n{i}"}) for i in range(100)])

    assert len(response.results) == 100
    assert all(r.new for r in response.results)


def test_given_unknown_stage_when_deal_updated_then_invalid_option_names_property(client):
    [deal] = upsert_deals(client, (a_key(), {"dealname": "Stage"})).results

    with pytest.raises(ApiException) as raised:
        client.crm.deals.basic_api.update(deal.id, simple_public_object_input=(
            SimplePublicObjectInput(properties={"dealstage": "won"})))

    assert raised.value.status == 400
    assert [(e["code"], e["context"]["propertyName"]) for e in error_body(raised.value)[
        "errors"]] == [("INVALID_OPTION", ["dealstage"])]


def test_given_deal_properties_when_listed_then_pipeline_stages_and_unique_key(client):
    properties = {p.name: p for p in client.crm.properties.core_api.get_all("deals").results}

    assert {"dealname", "amount", "dealstage", "pipeline", "closedate",
            "hubspot_owner_id", "hs_lastmodifieddate"} <= set(properties)
    assert [o.value for o in properties["dealstage"].options][-2:] == ["closedwon", "closedlost"]
    assert properties["closedate"].type == "datetime"
    assert properties["accord_deal_key"].has_unique_value is True
    assert properties["dealname"].has_unique_value is False
    owner = client.crm.properties.core_api.get_by_name("deals", "hubspot_owner_id")
    assert "41000002" in [o.value for o in owner.options]


def test_given_deal_and_contact_when_default_associated_then_both_directions_reported(client):
    contact_id = a_contact(client)
    [deal] = upsert_deals(client, (a_key(), {"dealname": "Linked"})).results

    answer = client.crm.associations.v4.basic_api.create_default(
        "deals", deal.id, "contacts", contact_id)

    assert answer.status == "COMPLETE"
    assert {(r._from.id, r.to.id, r.association_spec.association_type_id)
            for r in answer.results} == {(deal.id, contact_id, 3), (contact_id, deal.id, 4)}
    again = client.crm.associations.v4.basic_api.create_default(
        "deals", deal.id, "contacts", contact_id)
    assert again.status == "COMPLETE"
    page = client.crm.associations.v4.basic_api.get_page("contacts", contact_id, "deals")
    assert [r.to_object_id for r in page.results] == [deal.id]


def test_given_unknown_contact_when_default_associated_then_400_invalid(client):
    [deal] = upsert_deals(client, (a_key(), {"dealname": "Alone"})).results

    with pytest.raises(hubspot.crm.associations.v4.ApiException) as raised:
        client.crm.associations.v4.basic_api.create_default("deals", deal.id, "contacts", "77")

    assert raised.value.status == 400
    assert json.loads(raised.value.body)["context"]["objectType"] == ["CONTACT"]


def test_given_pairs_when_batch_associated_by_default_then_each_contact_has_its_deal(client):
    contacts = [a_contact(client) for _ in range(2)]
    deals = upsert_deals(client, *[(a_key(), {"dealname": "Pair"}) for _ in range(2)]).results

    answer = client.crm.associations.v4.batch_api.create_default(
        "deals", "contacts", BatchInputPublicDefaultAssociationMultiPost(inputs=[
            PublicDefaultAssociationMultiPost(_from=AssociatedId(id=d.id),
                                              to=AssociatedId(id=c))
            for d, c in zip(deals, contacts, strict=True)]))

    assert answer.status == "COMPLETE"
    assert len(answer.results) == 4
    for deal, contact in zip(deals, contacts, strict=True):
        page = client.crm.associations.v4.basic_api.get_page("contacts", contact, "deals")
        assert [r.to_object_id for r in page.results] == [deal.id]


def test_given_contact_created_with_deal_association_then_contact_reads_its_deal(client):
    [deal] = upsert_deals(client, (a_key(), {"dealname": "From contact"})).results

    contact = client.crm.contacts.basic_api.create(simple_public_object_input_for_create=(
        ContactCreate(properties={"email": f"with.deal.{uuid.uuid4().hex[:8]}@example.com"},
                      associations=[ContactAssociation(
                          to=ContactTarget(id=deal.id),
                          types=[ContactAssociationSpec(association_category="HUBSPOT_DEFINED",
                                                        association_type_id=4)])])))

    read = client.crm.contacts.basic_api.get_by_id(contact.id, associations=["deals"])
    assert [(a.id, a.type) for a in read.associations["deals"].results] == [
        (deal.id, "contact_to_deal")]
    page = client.crm.associations.v4.basic_api.get_page("deals", deal.id, "contacts")
    assert [r.to_object_id for r in page.results] == [contact.id]
