"""Sqlite persistence of the HubSpot sandbox: contacts, ids and call counts."""

from __future__ import annotations

import pytest

from sandboxes.hubspot.rate_limits import usage_headers, utc_day
from sandboxes.hubspot.store import Admission, ContactStore, Usage


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "state" / "hubspot.sqlite3"


def test_given_new_store_when_contacts_created_then_ids_start_above_100_and_increase(db_path):
    store = ContactStore(db_path)

    first = store.create({"email": "ann@example.com"}, now_ms=1)
    second = store.create({"email": "bob@example.com"}, now_ms=2)

    assert (first.id, second.id) == (101, 102)


def test_given_contact_when_store_reopened_then_contact_and_next_id_survive(db_path):
    store = ContactStore(db_path)
    created = store.create({"email": "ann@example.com", "firstname": "Ann"}, now_ms=1)
    store.close()

    reopened = ContactStore(db_path)

    assert reopened.find_by_email("ANN@example.com") == created
    assert reopened.create({"email": "bob@example.com"}, now_ms=2).id == created.id + 1


def test_given_contact_when_updated_with_empty_value_then_property_cleared(db_path):
    store = ContactStore(db_path)
    contact = store.create({"email": "ann@example.com", "company": "Acme"}, now_ms=1)

    updated = store.update(contact, {"company": "", "firstname": "Ann"}, now_ms=5)

    assert updated.properties == {"email": "ann@example.com", "firstname": "Ann"}
    assert (updated.created_at, updated.updated_at) == (1, 5)
    assert store.get(contact.id) == updated


def test_given_failure_inside_transaction_when_raised_then_nothing_written(db_path):
    store = ContactStore(db_path)

    with pytest.raises(RuntimeError), store.transaction():
        store.create({"email": "ann@example.com"}, now_ms=1)
        raise RuntimeError("boom")

    assert store.all_active() == []


def test_given_contacts_when_paged_then_ids_above_cursor_in_order(db_path):
    store = ContactStore(db_path)
    ids = [store.create({"email": f"c{i}@example.com"}, now_ms=i).id for i in range(5)]

    assert [c.id for c in store.page(after_id=ids[1], limit=2)] == ids[2:4]


def test_given_calls_when_recorded_then_rolling_ten_second_window_and_daily_total(db_path):
    store = ContactStore(db_path)

    usages = [store.record_call(at, "2026-01-01") for at in (100.0, 101.0, 105.0)]
    later = store.record_call(111.5, "2026-01-01")
    next_day = store.record_call(200.0, "2026-01-02")

    assert usages == [Usage(1, 1), Usage(2, 2), Usage(3, 3)]
    assert later == Usage(today=4, last_ten_seconds=2)  # 100 and 101 left the window
    assert next_day == Usage(today=1, last_ten_seconds=1)


def test_given_usage_when_rendered_then_hubspot_headers_never_negative():
    headers = usage_headers(Usage(today=3, last_ten_seconds=200), daily_limit=10,
                            ten_second_limit=190)

    assert headers == {
        "X-HubSpot-RateLimit-Daily": "10",
        "X-HubSpot-RateLimit-Daily-Remaining": "7",
        "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
        "X-HubSpot-RateLimit-Max": "190",
        "X-HubSpot-RateLimit-Remaining": "0",
    }
    assert utc_day(0) == "1970-01-01"


def test_given_window_full_when_call_admitted_then_refused_uncounted_until_window_moves(db_path):
    store = ContactStore(db_path)
    for at in (100.0, 101.0):
        assert store.admit_call(at, "2026-01-01", ten_second_limit=2).refused_by is None

    refused = store.admit_call(105.0, "2026-01-01", ten_second_limit=2)
    later = store.admit_call(110.5, "2026-01-01", ten_second_limit=2)

    assert refused == Admission(Usage(today=2, last_ten_seconds=2), "TEN_SECONDLY_ROLLING")
    assert later == Admission(Usage(today=3, last_ten_seconds=2))  # 100 left the window


def test_given_daily_cap_reached_when_call_admitted_then_refused_as_daily(db_path):
    store = ContactStore(db_path)
    store.admit_call(100.0, "2026-01-01", daily_limit=1)

    refused = store.admit_call(200.0, "2026-01-01", ten_second_limit=1, daily_limit=1)
    next_day = store.admit_call(300.0, "2026-01-02", daily_limit=1)

    assert refused.refused_by == "DAILY"
    assert next_day.refused_by is None
