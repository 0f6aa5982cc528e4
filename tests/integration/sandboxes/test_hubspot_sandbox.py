"""The HubSpot sandbox process driven by the unmodified hubspot-api-client."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import hubspot
import pytest
from hubspot.crm.contacts import (
    ApiException,
    BatchInputSimplePublicObjectBatchInputUpsert,
    Filter,
    FilterGroup,
    PublicObjectSearchRequest,
    SimplePublicObjectBatchInputUpsert,
    SimplePublicObjectInputForCreate,
)

from tests.integration.sandboxes.hubspot_fixture import HubSpotSandbox, start_hubspot_sandbox

pytestmark = pytest.mark.integration


def client_for(sandbox: HubSpotSandbox, token: str | None = None) -> hubspot.Client:
    return hubspot.Client.create(access_token=token or sandbox.access_token,
                                 host=sandbox.base_url)


def unique_email(name: str = "ann") -> str:
    return f"{name}.{uuid.uuid4().hex[:8]}@example.com"


def upsert(client: hubspot.Client, *inputs: tuple[str, dict[str, str]]):
    batch = BatchInputSimplePublicObjectBatchInputUpsert(inputs=[
        SimplePublicObjectBatchInputUpsert(id_property="email", id=email, properties=values)
        for email, values in inputs
    ])
    return client.crm.contacts.batch_api.upsert(
        batch_input_simple_public_object_batch_input_upsert=batch)


def error_body(error: ApiException) -> dict:
    return json.loads(error.body)


def search_by(client: hubspot.Client, name: str, operator: str, value: str,
              properties: list[str]):
    request = PublicObjectSearchRequest(
        filter_groups=[FilterGroup(filters=[
            Filter(property_name=name, operator=operator, value=value)])],
        properties=properties, limit=10)
    return client.crm.contacts.search_api.do_search(public_object_search_request=request)


def test_given_unknown_email_when_batch_upserted_then_contact_created(hubspot_sandbox):
    client = client_for(hubspot_sandbox)
    email = unique_email()

    response = upsert(client, (email, {"firstname": "Ann", "lifecyclestage": "lead"}))

    assert response.status == "COMPLETE"
    [result] = response.results
    assert result.new is True
    assert result.id.isdigit()
    assert result.properties["email"] == email
    assert result.properties["firstname"] == "Ann"
    assert result.created_at is not None and result.updated_at is not None


def test_given_existing_contact_when_batch_upserted_again_then_updated_without_duplicate(
        hubspot_sandbox):
    client = client_for(hubspot_sandbox)
    email = unique_email()
    first = upsert(client, (email, {"firstname": "Ann", "accord_score": "10"})).results[0]

    second = upsert(client, (email.upper(), {"accord_score": "75",
                                             "hs_lead_status": "OPEN"})).results[0]

    assert second.new is False
    assert second.id == first.id
    found = search_by(client, "email", "EQ", email, ["accord_score", "firstname"])
    assert found.total == 1
    assert found.results[0].properties["accord_score"] == "75"
    assert found.results[0].properties["firstname"] == "Ann"


def test_given_upserted_contact_when_read_by_email_then_requested_properties_returned(
        hubspot_sandbox):
    client = client_for(hubspot_sandbox)
    email = unique_email()
    created = upsert(client, (email, {"firstname": "Ann", "company": "Acme",
                                      "hubspot_owner_id": "41000002"})).results[0]

    contact = client.crm.contacts.basic_api.get_by_id(
        contact_id=email, id_property="email", properties=["company", "hubspot_owner_id"])

    assert contact.id == created.id
    assert contact.properties["company"] == "Acme"
    assert contact.properties["hubspot_owner_id"] == "41000002"
    assert contact.properties["hs_object_id"] == created.id
    assert "firstname" not in contact.properties
    assert contact.archived is False


def test_given_unknown_record_id_when_read_then_not_found(hubspot_sandbox):
    client = client_for(hubspot_sandbox)

    with pytest.raises(ApiException) as raised:
        client.crm.contacts.basic_api.get_by_id(contact_id="999999999")

    assert raised.value.status == 404
    assert error_body(raised.value)["category"] == "OBJECT_NOT_FOUND"


def test_given_contacts_when_searched_by_property_then_only_matching_returned(hubspot_sandbox):
    client = client_for(hubspot_sandbox)
    key = uuid.uuid4().hex
    wanted, other = unique_email("wanted"), unique_email("other")
    upsert(client, (wanted, {"accord_lead_key": key, "accord_score": "80"}),
           (other, {"accord_lead_key": f"{key}-other", "accord_score": "20"}))

    found = search_by(client, "accord_lead_key", "EQ", key, ["accord_score"])

    assert found.total == 1
    assert "email" not in found.results[0].properties  # not requested
    assert found.results[0].properties["accord_score"] == "80"


def test_given_existing_email_when_created_again_then_conflict(hubspot_sandbox):
    client = client_for(hubspot_sandbox)
    email = unique_email()
    created = upsert(client, (email, {"firstname": "Ann"})).results[0]

    with pytest.raises(ApiException) as raised:
        client.crm.contacts.basic_api.create(simple_public_object_input_for_create=(
            SimplePublicObjectInputForCreate(properties={"email": email.upper()})))

    assert raised.value.status == 409
    body = error_body(raised.value)
    assert body["category"] == "CONFLICT"
    assert body["message"] == f"Contact already exists. Existing ID: {created.id}"


def test_given_owner_email_when_owners_looked_up_then_owner_id_returned(hubspot_sandbox):
    client = client_for(hubspot_sandbox)

    page = client.crm.owners.owners_api.get_page(email="james.chen@accord.example")

    [owner] = page.results
    assert owner.id == "41000002"
    assert (owner.first_name, owner.last_name) == ("James", "Chen")
    assert isinstance(owner.user_id, int)
    assert client.crm.owners.owners_api.get_by_id(owner_id="41000002").email == owner.email


def test_given_contact_properties_when_listed_then_registry_shape_returned(hubspot_sandbox):
    client = client_for(hubspot_sandbox)

    properties = {p.name: p for p in client.crm.properties.core_api.get_all("contacts").results}

    assert {"email", "accord_score", "accord_lead_key", "hs_object_id"} <= set(properties)
    stages = [option.value for option in properties["lifecyclestage"].options]
    assert stages[:2] == ["subscriber", "lead"]
    assert properties["accord_score"].type == "number"
    assert properties["createdate"].modification_metadata.read_only_value is True


def test_given_unknown_property_when_upserted_then_validation_error(hubspot_sandbox):
    client = client_for(hubspot_sandbox)

    with pytest.raises(ApiException) as raised:
        upsert(client, (unique_email(), {"favourite_colour": "green"}))

    assert raised.value.status == 400
    body = error_body(raised.value)
    assert body["category"] == "VALIDATION_ERROR"
    assert body["errors"][0]["code"] == "PROPERTY_DOESNT_EXIST"
    assert body["errors"][0]["context"] == {"propertyName": ["favourite_colour"]}


def test_given_invalid_enum_value_when_upserted_then_validation_error_names_property(
        hubspot_sandbox):
    client = client_for(hubspot_sandbox)
    email = unique_email()

    with pytest.raises(ApiException) as raised:
        upsert(client, (email, {"lifecyclestage": "mql"}))

    assert raised.value.status == 400
    body = error_body(raised.value)
    assert body["category"] == "VALIDATION_ERROR"
    assert [(e["code"], e["context"]["propertyName"]) for e in body["errors"]] == [
        ("INVALID_OPTION", ["lifecyclestage"])]
    assert search_by(client, "email", "EQ", email, []).total == 0


def test_given_more_than_100_inputs_when_upserted_then_validation_error(hubspot_sandbox):
    client = client_for(hubspot_sandbox)
    inputs = [(unique_email(), {"firstname": "x"}) for _ in range(101)]

    with pytest.raises(ApiException) as raised:
        upsert(client, *inputs)

    assert raised.value.status == 400
    assert error_body(raised.value)["category"] == "VALIDATION_ERROR"


def test_given_wrong_token_when_calling_api_then_unauthorized(hubspot_sandbox):
    client = client_for(hubspot_sandbox, token="pat-na1-not-the-token")

    with pytest.raises(ApiException) as raised:
        upsert(client, (unique_email(), {"firstname": "Ann"}))

    assert raised.value.status == 401
    body = error_body(raised.value)
    assert body["category"] == "INVALID_AUTHENTICATION"
    assert body["message"].startswith("Authentication credentials not found.")


def test_given_fresh_portal_when_api_called_then_rate_limit_headers_count_calls(tmp_path: Path):
    sandbox = start_hubspot_sandbox(tmp_path / "data")
    try:
        api = client_for(sandbox).crm.contacts.basic_api

        first = api.get_page_with_http_info(limit=1)[2]
        second = api.get_page_with_http_info(limit=1)[2]
    finally:
        sandbox.stop()

    assert first["X-HubSpot-RateLimit-Daily"] == "625000"
    assert first["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert first["X-HubSpot-RateLimit-Max"] == "190"
    assert (first["X-HubSpot-RateLimit-Daily-Remaining"],
            second["X-HubSpot-RateLimit-Daily-Remaining"]) == ("624999", "624998")
    assert (first["X-HubSpot-RateLimit-Remaining"],
            second["X-HubSpot-RateLimit-Remaining"]) == ("189", "188")


def test_given_contact_when_sandbox_restarted_then_contact_and_counts_survive(hubspot_sandbox):
    client = client_for(hubspot_sandbox)
    email = unique_email()
    created = upsert(client, (email, {"firstname": "Ann"})).results[0]
    before = client.crm.contacts.basic_api.get_page_with_http_info(limit=1)[2]

    hubspot_sandbox.restart()

    contact = client.crm.contacts.basic_api.get_by_id(contact_id=email, id_property="email")
    assert contact.id == created.id
    assert contact.properties["firstname"] == "Ann"
    newer = upsert(client, (unique_email(), {"firstname": "Bob"})).results[0]
    assert int(newer.id) > int(created.id)
    after = client.crm.contacts.basic_api.get_page_with_http_info(limit=1)[2]
    assert (int(before["X-HubSpot-RateLimit-Daily-Remaining"])
            - int(after["X-HubSpot-RateLimit-Daily-Remaining"])) == 3
