"""Contact operations of the HubSpot sandbox, in-process over a temporary store."""

from __future__ import annotations

import pytest

from sandboxes.hubspot.contacts import ContactService, iso, requested_names
from sandboxes.hubspot.errors import ApiError
from sandboxes.hubspot.owners import Owner
from sandboxes.hubspot.payloads import SearchInput, UpsertInput
from sandboxes.hubspot.store import ContactStore

OWNERS = (Owner("41000001", "maria@accord.example", "Maria", "Garcia", 75000001),)


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        self.now += 1
        return self.now


@pytest.fixture
def service(tmp_path):
    store = ContactStore(tmp_path / "hubspot.sqlite3")
    yield ContactService(store, OWNERS, portal_id=62515, clock=Clock())
    store.close()


def by_email(email: str, **values: str) -> UpsertInput:
    return UpsertInput.model_validate({"idProperty": "email", "id": email, "properties": values})


def test_given_two_inputs_for_one_email_when_upserted_then_duplicate_ids_refused(service):
    with pytest.raises(ApiError) as raised:
        service.upsert_batch([by_email("ann@example.com"), by_email("ANN@example.com")])

    assert raised.value.status == 400
    assert raised.value.context == {"ids": ["ann@example.com"]}


def test_given_one_bad_input_when_upserted_then_no_input_written(service):
    with pytest.raises(ApiError):
        service.upsert_batch([by_email("ann@example.com", firstname="Ann"),
                              by_email("bob@example.com", lifecyclestage="bogus")])

    assert service.search(SearchInput())["total"] == 0


def test_given_invalid_email_as_id_when_upserted_then_invalid_email(service):
    with pytest.raises(ApiError) as raised:
        service.upsert_batch([by_email("not-an-email")])

    assert raised.value.errors == [{"message": "Email address not-an-email is invalid",
                                    "code": "INVALID_EMAIL",
                                    "context": {"propertyName": ["email"]}}]


def test_given_upsert_by_non_unique_property_when_sent_then_refused(service):
    item = UpsertInput.model_validate(
        {"idProperty": "firstname", "id": "Ann", "properties": {}})

    with pytest.raises(ApiError, match="non-unique"):
        service.upsert_batch([item])


def test_given_contact_when_patched_to_anothers_email_then_conflict(service):
    ann = service.create({"email": "ann@example.com"})
    bob = service.create({"email": "bob@example.com"})

    with pytest.raises(ApiError) as raised:
        service.update(bob["id"], None, {"email": "Ann@example.com"})

    assert (raised.value.status, raised.value.message) == (
        409, f"Contact already exists. Existing ID: {ann['id']}")


def test_given_contact_when_patched_by_email_then_values_changed_and_update_time_moves(service):
    created = service.create({"email": "ann@example.com", "firstname": "Ann"})

    updated = service.update("ANN@example.com", "email", {"firstname": "Anna"})

    assert updated["id"] == created["id"]
    assert updated["properties"]["firstname"] == "Anna"
    assert updated["updatedAt"] > created["updatedAt"]


def test_given_many_contacts_when_listed_then_pages_follow_the_after_cursor(service):
    for i in range(3):
        service.create({"email": f"c{i}@example.com"})

    first = service.list_page(2, None, [], "http://sandbox")
    second = service.list_page(2, first["paging"]["next"]["after"], ["email"], "http://sandbox")

    assert len(first["results"]) == 2
    assert first["paging"]["next"]["link"].startswith("http://sandbox/crm/v3/objects/contacts?")
    assert [r["properties"]["email"] for r in second["results"]] == ["c2@example.com"]
    assert "paging" not in second


def test_given_search_results_beyond_limit_when_searched_then_offset_paging(service):
    for i in range(3):
        service.create({"email": f"c{i}@example.com", "accord_score": str(10 - i)})
    request = SearchInput.model_validate({
        "filterGroups": [{"filters": [{"propertyName": "accord_score", "operator": "GTE",
                                       "value": 9}]}],
        "sorts": [{"propertyName": "accord_score", "direction": "ASCENDING"}],
        "properties": ["accord_score"], "limit": 1})

    first = service.search(request)
    second = service.search(request.model_copy(update={"after": first["paging"]["next"]["after"]}))

    assert first["total"] == 2
    assert [r["properties"]["accord_score"] for r in first["results"]] == ["9"]
    assert [r["properties"]["accord_score"] for r in second["results"]] == ["10"]
    assert "paging" not in second


def test_given_search_limit_above_200_when_searched_then_validation_error(service):
    with pytest.raises(ApiError, match="limit"):
        service.search(SearchInput(limit=201))


def test_given_properties_parameters_when_split_then_repeated_and_comma_forms_combine():
    assert requested_names(["email,firstname", " lastname "]) == ["email", "firstname", "lastname"]
    assert requested_names(None) == []


def test_given_epoch_milliseconds_when_formatted_then_hubspot_timestamp():
    assert iso(1_700_000_000_123) == "2023-11-14T22:13:20.123Z"


def test_given_unknown_requested_property_when_read_then_left_out_and_unset_ones_null(service):
    created = service.create({"email": "ann@example.com"})

    contact = service.get(created["id"], None, ["company", "no_such_property"])

    assert contact["properties"] == {
        "company": None, "createdate": created["properties"]["createdate"],
        "lastmodifieddate": created["properties"]["lastmodifieddate"],
        "hs_object_id": created["id"]}


def test_given_upsert_by_record_id_when_email_taken_then_conflict_and_nothing_written(service):
    ann = service.create({"email": "ann@example.com"})
    bob = service.create({"email": "bob@example.com", "firstname": "Bob"})
    item = UpsertInput.model_validate({"id": bob["id"], "properties": {
        "email": "ann@example.com", "firstname": "Robert"}})

    with pytest.raises(ApiError) as raised:
        service.upsert_batch([item])

    assert raised.value.status == 409
    assert raised.value.message.endswith(ann["id"])
    assert service.get(bob["id"], None, ["firstname"])["properties"]["firstname"] == "Bob"
