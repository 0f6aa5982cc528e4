"""HTTP behaviour of the HubSpot sandbox app, in-process through httpx's ASGI transport."""

from __future__ import annotations

import httpx
import pytest

from sandboxes.hubspot.app import create_app
from sandboxes.hubspot.payloads import MAX_BODY_BYTES
from sandboxes.hubspot.settings import HubSpotSandboxSettings

TOKEN = "pat-unit-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ADMIN_TOKEN = "unit-admin-token"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
async def client(tmp_path):
    owners = tmp_path / "owners.yaml"
    owners.write_text(
        "owners:\n"
        "  - email: maria@accord.example\n    first_name: Maria\n    last_name: Garcia\n"
        "    hubspot_owner_id: '41000001'\n")
    settings = HubSpotSandboxSettings(data_dir=tmp_path / "data", owners_file=owners,
                                      access_token=TOKEN, admin_token=ADMIN_TOKEN)
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as test_client:
        yield test_client


async def test_given_no_token_when_crm_called_then_401_without_counting(client):
    response = await client.get("/crm/v3/objects/contacts")

    assert response.status_code == 401
    assert response.json()["category"] == "INVALID_AUTHENTICATION"
    assert "X-HubSpot-RateLimit-Daily" not in response.headers
    counted = await client.get("/crm/v3/objects/contacts", headers=AUTH)
    assert counted.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "624999"


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


async def test_given_tight_limit_knob_when_exceeded_then_429_body_and_zero_remaining(client):
    knobs = await client.post("/__sandbox/knobs", json={"ten_second_limit": 1},
                              headers=ADMIN)
    assert knobs.json()["ten_second_limit"] == 1

    await client.get("/crm/v3/objects/contacts", headers=AUTH)
    refused = await client.get("/crm/v3/objects/contacts", headers=AUTH)

    assert refused.status_code == 429
    assert refused.json()["policyName"] == "TEN_SECONDLY_ROLLING"
    assert refused.headers["X-HubSpot-RateLimit-Remaining"] == "0"


async def test_given_outage_knob_when_called_then_503_for_crm_but_admin_still_answers(client):
    await client.post("/__sandbox/knobs", json={"outage_seconds": 60}, headers=ADMIN)

    crm = await client.get("/crm/v3/objects/contacts", headers=AUTH)
    unauthenticated = await client.get("/crm/v3/objects/contacts")
    admin = await client.get("/__sandbox/knobs", headers=ADMIN)

    assert (crm.status_code, unauthenticated.status_code) == (503, 503)
    assert crm.json()["status"] == "error"
    assert admin.json()["outage_seconds_left"] > 59
    await client.delete("/__sandbox/knobs", headers=ADMIN)
    assert (await client.get("/crm/v3/objects/contacts", headers=AUTH)).status_code == 200


async def test_given_invalid_knob_value_when_posted_then_400(client):
    response = await client.post("/__sandbox/knobs", json={"error_rate": 2}, headers=ADMIN)

    assert (response.status_code, response.json()["category"]) == (400, "VALIDATION_ERROR")


async def test_given_rep_edit_when_values_invalid_then_400_like_the_api(client):
    created = await client.post("/crm/v3/objects/contacts", headers=AUTH,
                                json={"properties": {"email": "rep@example.com"}})

    edit = await client.post(f"/__sandbox/rep/contacts/{created.json()['id']}",
                             json={"properties": {"lifecyclestage": "bogus"}}, headers=ADMIN)
    good = await client.post("/__sandbox/rep/contacts/rep@example.com?idProperty=email",
                             json={"properties": {"lifecyclestage": "lead"}}, headers=ADMIN)

    assert edit.status_code == 400
    assert good.json()["properties"]["lifecyclestage"] == "lead"


async def test_given_unknown_owner_when_rep_edits_then_400(client):
    response = await client.post("/__sandbox/rep/deals",
                                 json={"properties": {"dealname": "x"}, "owner_id": "1"},
                                 headers=ADMIN)

    assert response.status_code == 400


async def test_given_deal_properties_when_one_read_then_unique_key_marked(client):
    response = await client.get("/crm/v3/properties/deals/accord_deal_key", headers=AUTH)

    assert response.json()["hasUniqueValue"] is True


async def test_given_no_admin_token_when_admin_api_called_then_401_but_health_open(client):
    knobs = await client.get("/__sandbox/knobs")
    with_api_token = await client.get("/__sandbox/webhooks", headers=AUTH)

    assert (knobs.status_code, knobs.json()["category"]) == (401, "INVALID_ADMIN_TOKEN")
    assert with_api_token.status_code == 401
    assert (await client.get("/__sandbox/health")).status_code == 200
