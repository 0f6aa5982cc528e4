"""HTTP behaviour of the HubSpot sandbox app, in-process through httpx's ASGI transport."""

from __future__ import annotations

import httpx
import pytest

from sandboxes.hubspot.app import create_app
from sandboxes.hubspot.payloads import MAX_BODY_BYTES
from sandboxes.hubspot.settings import HubSpotSandboxSettings

TOKEN = "pat-unit-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def client(tmp_path):
    owners = tmp_path / "owners.yaml"
    owners.write_text(
        "owners:\n"
        "  - email: maria@accord.example\n    first_name: Maria\n    last_name: Garcia\n"
        "    hubspot_owner_id: '41000001'\n")
    settings = HubSpotSandboxSettings(data_dir=tmp_path / "data", owners_file=owners,
                                      access_token=TOKEN)
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as test_client:
        yield test_client


async def test_given_no_token_when_crm_called_then_401_without_counting(client):
    response = await client.get("/crm/v3/objects/contacts")

    assert response.status_code == 401
    assert response.json()["category"] == "INVALID_AUTHENTICATION"
    assert "X-HubSpot-RateLimit-Daily" not in response.headers
    counted = await client.get("/crm/v3/objects/contacts", headers=AUTH)
    assert counted.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "249999"


async def test_given_health_check_when_called_without_token_then_ok(client):
    assert (await client.get("/__sandbox/health")).json() == {"status": "ok"}


async def test_given_both_owner_paths_when_called_then_same_answer_without_redirect(client):
    with_slash = await client.get("/crm/v3/owners/", headers=AUTH, follow_redirects=False)
    without = await client.get("/crm/v3/owners", headers=AUTH, follow_redirects=False)

    assert with_slash.status_code == without.status_code == 200
    assert with_slash.json() == without.json()
    assert with_slash.json()["results"][0]["type"] == "PERSON"


async def test_given_unknown_owner_when_read_then_404(client):
    response = await client.get("/crm/v3/owners/1", headers=AUTH)

    assert (response.status_code, response.json()["category"]) == (404, "OBJECT_NOT_FOUND")


async def test_given_error_answer_when_authorised_then_rate_limit_headers_still_sent(client):
    response = await client.get("/crm/v3/objects/contacts/123", headers=AUTH)

    assert response.status_code == 404
    assert response.headers["X-HubSpot-RateLimit-Max"] == "190"


async def test_given_comma_and_repeated_properties_when_read_then_both_honoured(client):
    await client.post("/crm/v3/objects/contacts", headers=AUTH,
                json={"properties": {"email": "ann@example.com", "firstname": "Ann",
                                     "company": "Acme", "jobtitle": "CTO"}})

    response = await client.get(
        "/crm/v3/objects/contacts/ann@example.com?idProperty=email"
        "&properties=firstname,company&properties=jobtitle", headers=AUTH)

    assert set(response.json()["properties"]) == {
        "firstname", "company", "jobtitle", "createdate", "lastmodifieddate", "hs_object_id"}


async def test_given_created_contact_when_answered_then_201_with_values_as_strings(client):
    response = await client.post("/crm/v3/objects/contacts", headers=AUTH,
                           json={"properties": {"email": "bob@example.com", "accord_score": 12}})

    assert response.status_code == 201
    assert response.json()["properties"]["accord_score"] == "12"


async def test_given_body_over_limit_when_posted_then_413(client):
    response = await client.post("/crm/v3/objects/contacts/search", headers=AUTH,
                           content=b"{" + b" " * MAX_BODY_BYTES + b"}")

    assert response.status_code == 413


async def test_given_invalid_json_when_posted_then_validation_error(client):
    response = await client.post("/crm/v3/objects/contacts/batch/upsert", headers=AUTH,
                           content=b"{not json")

    assert (response.status_code, response.json()["category"]) == (400, "VALIDATION_ERROR")


async def test_given_unknown_object_type_when_properties_listed_then_400(client):
    response = await client.get("/crm/v3/properties/widgets", headers=AUTH)

    assert response.status_code == 400
    one = await client.get("/crm/v3/properties/0-1/email", headers=AUTH)
    assert one.json()["name"] == "email"
