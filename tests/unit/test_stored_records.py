"""Golden records read back from the bytes this process stored are the records stored."""

from __future__ import annotations

from collections import OrderedDict

import pytest

from bench.router_step_bench import RULES, mixed_stream, run
from services.router import record_processing
from services.router.golden_record import GoldenRecord
from services.router.record_processing import record_bytes, stored_record
from services.router.rules.loader import load_rules


def test_given_records_of_a_mixed_stream_when_read_back_then_as_parsed_from_their_bytes():
    _, store, _ = run(load_rules(RULES), mixed_stream(400))
    records = [value for key, value in store.items() if key.startswith("lead:")]
    assert len(records) > 50
    for stored in records:
        known = stored_record(stored)
        assert known == GoldenRecord.model_validate_json(stored)
        assert record_bytes(known) == stored


def test_given_bytes_this_process_did_not_store_when_read_then_parsed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    record = GoldenRecord(lead_key="ana@initech.example")
    stored = record_bytes(record)
    assert stored_record(stored) is record
    monkeypatch.setattr(record_processing, "_STORED", OrderedDict())
    assert stored_record(stored) == record and stored_record(stored) is not record
    with pytest.raises(ValueError):
        stored_record(b'{"fields": {}}')


def test_given_many_records_stored_when_more_come_then_the_oldest_are_forgotten(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(record_processing, "_STORED", OrderedDict())
    monkeypatch.setattr(record_processing, "_STORED_SIZE", 3)
    written = [record_bytes(GoldenRecord(lead_key=f"{n}@x.example")) for n in range(5)]
    assert list(record_processing._STORED) == written[2:]
