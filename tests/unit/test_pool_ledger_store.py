"""A pool's ledger as stored: the same bytes and the same ledger as the plain conversion."""

from __future__ import annotations

import json
from collections import OrderedDict
from datetime import UTC, datetime, timedelta

import pytest

from services.router import pool_ledger_store
from services.router.pool_ledger_store import ledger_bytes, stored_ledger
from services.router.pools import REMEMBERED_PICKS, Pick, Pool, PoolLedger, PoolMember, assign

MONDAY_10_UTC = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def plain_bytes(ledger: PoolLedger) -> bytes:
    return json.dumps(ledger.to_dict()).encode()


def test_given_picks_beyond_what_is_remembered_when_stored_then_bytes_as_plain_json():
    pool = Pool("emea", (PoolMember("a@x.example", 2, daily_capacity=300),
                         PoolMember("b@x.example", 1, daily_capacity=200)), "q@x.example")
    ledger = PoolLedger()
    for i in range(REMEMBERED_PICKS + 120):  # the oldest picks drop out, capacity runs out
        _, ledger = assign(pool, ledger, MONDAY_10_UTC + timedelta(hours=i // 50), f"r-{i}")
        stored = ledger_bytes(ledger)
        assert stored == plain_bytes(ledger)
        assert stored_ledger(stored) == ledger
    assert any(pick.from_fallback for _, pick in ledger.recent)


def test_given_text_needing_escapes_when_stored_then_bytes_as_plain_json():
    ledger = PoolLedger(credits={"é@x.example": -3}, recent=(
        ("r-1", Pick("é@x.example", False, 'kept: "quoted" \u2019 \n')),))
    assert ledger_bytes(ledger) == plain_bytes(ledger)
    assert ledger_bytes(PoolLedger()) == plain_bytes(PoolLedger())


def test_given_bytes_this_process_did_not_write_when_read_then_parsed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = PoolLedger(credits={"a@x.example": 1}, recent=(
        ("r-1", Pick("a@x.example", False, "why")),))
    stored = ledger_bytes(ledger)
    monkeypatch.setattr(pool_ledger_store, "_WRITTEN", OrderedDict())
    assert stored_ledger(stored) == ledger
    with pytest.raises(ValueError):
        stored_ledger(b'{"credits": 3}')


def test_given_many_ledgers_written_when_read_then_the_caches_stay_bounded():
    for i in range(100):
        ledger = PoolLedger(recent=(("r", Pick(f"{i}@x.example", False, "why")),))
        assert stored_ledger(ledger_bytes(ledger)) == ledger
    assert len(pool_ledger_store._WRITTEN) <= pool_ledger_store._WRITTEN_SIZE
    assert len(pool_ledger_store._PICK_JSON) <= pool_ledger_store._PICK_JSON_SIZE
