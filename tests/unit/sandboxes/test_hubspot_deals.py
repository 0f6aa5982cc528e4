"""Deal operations of the HubSpot sandbox, in-process over a temporary store."""

from __future__ import annotations

import pytest

from sandboxes.hubspot.associations import AssociationService
from sandboxes.hubspot.changes import Change, ChangeSource
from sandboxes.hubspot.deal_batches import DealBatches
from sandboxes.hubspot.deal_store import DealStore
from sandboxes.hubspot.deals import DealService
from sandboxes.hubspot.errors import ApiError
from sandboxes.hubspot.owners import Owner
from sandboxes.hubspot.payloads import AssociationPair, BatchReadInput, UpsertInput
from sandboxes.hubspot.store import ContactStore

OWNERS = (Owner("41000001", "maria@accord.example", "Maria", "Garcia", 75000001),)
API = ChangeSource.integration(4400001)


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        self.now += 1
        return self.now


@pytest.fixture
def parts(tmp_path):
    store = ContactStore(tmp_path / "hubspot.sqlite3")
    seen: list[Change] = []
    deals = DealService(store, DealStore(store.connection), OWNERS, 62515, API, seen.extend,
                        clock=Clock())
    yield store, deals, seen
    store.close()


def by_key(key: str, **values: str) -> UpsertInput:
    return UpsertInput.model_validate(
        {"idProperty": "accord_deal_key", "id": key, "properties": values})


def test_given_new_store_when_deals_created_then_ids_in_their_own_range(parts):
    _, deals, _ = parts

    first = deals.create({"dealname": "A"})

    assert first["id"] == "5000001"
    assert first["properties"]["pipeline"] == "default"


def test_given_taken_deal_key_when_another_deal_takes_it_then_409_and_nothing_written(parts):
    _, deals, seen = parts
    deals.create({"dealname": "A", "accord_deal_key": "k1"})
    other = deals.create({"dealname": "B"})
    seen.clear()

    with pytest.raises(ApiError) as raised:
        deals.update(other["id"], None, {"accord_deal_key": "k1"})

    assert raised.value.status == 409
    assert seen == []


def test_given_upserts_when_applied_then_changes_name_only_what_changed(parts):
    _, deals, seen = parts
    batches = DealBatches(deals)

    batches.upsert([by_key("k1", dealname="A", amount="5")])
    status, answer = batches.upsert([by_key("k1", dealname="A", amount="6")])

    assert status == 200 and answer["results"][0]["new"] is False
    created, updated = seen
    assert created.created and created.source == API
    assert set(created.properties) == {"dealname", "amount", "accord_deal_key", "pipeline"}
    assert (updated.created, updated.properties) == (False, {"amount": "6"})


def test_given_one_invalid_input_when_batch_upserted_then_nothing_written(parts):
    _, deals, seen = parts

    with pytest.raises(ApiError):
        DealBatches(deals).upsert([by_key("k1", dealname="A"), by_key("k2", amount="lots")])

    assert deals.deals.find_by_key("k1") is None
    assert seen == []


def test_given_duplicate_keys_when_batch_upserted_then_refused(parts):
    _, deals, _ = parts

    with pytest.raises(ApiError, match="Duplicate IDs"):
        DealBatches(deals).upsert([by_key("k1"), by_key("k1")])


def test_given_deal_key_when_batch_read_by_it_then_found(parts):
    _, deals, _ = parts
    created = deals.create({"dealname": "A", "accord_deal_key": "k9"})

    status, answer = DealBatches(deals).read(BatchReadInput.model_validate(
        {"idProperty": "accord_deal_key", "inputs": [{"id": "k9"}, {"id": "nope"}],
         "properties": ["dealname"]}))

    assert status == 207
    assert [r["id"] for r in answer["results"]] == [created["id"]]
    assert answer["errors"][0]["context"] == {"ids": ["nope"]}


def test_given_closedate_as_epoch_ms_when_created_then_stored_as_iso(parts):
    _, deals, _ = parts

    deal = deals.create({"closedate": "1767225600000"})

    assert deal["properties"]["closedate"] == "2026-01-01T00:00:00.000Z"


def test_given_bad_closedate_when_created_then_invalid_date(parts):
    _, deals, _ = parts

    with pytest.raises(ApiError) as raised:
        deals.create({"closedate": "next tuesday"})

    assert raised.value.errors[0]["code"] == "INVALID_DATE"


def test_given_batch_pairs_with_one_unknown_contact_when_associated_then_207(parts):
    store, deals, _ = parts
    contact = store.create({"email": "ann@example.com"}, now_ms=1)
    deal = deals.create({"dealname": "A"})
    pairs = [AssociationPair.model_validate({"from": {"id": deal["id"]}, "to": {"id": i}})
             for i in (str(contact.id), "999")]

    status, answer = AssociationService(store, deals.deals).associate_default_batch(
        "deals", "contacts", pairs)

    assert status == 207
    assert len(answer["results"]) == 2
    assert answer["errors"][0]["context"]["INVALID_OBJECT_IDS"] == ["CONTACT=999 is not valid"]
    assert deals.deals.deals_of(contact.id) == [int(deal["id"])]


def test_given_contact_to_contact_when_associated_then_400(parts):
    store, deals, _ = parts

    with pytest.raises(ApiError):
        AssociationService(store, deals.deals).associate_default("contacts", "1", "0-1", "2")
