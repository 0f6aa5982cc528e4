"""A pool's ledger as the router's state stores it (``pool:<name>``): JSON bytes.

The bytes are ``json.dumps(ledger.to_dict())``, but the pool's partition reads and writes
its ledger for every pick, and the ledger remembers the last ``REMEMBERED_PICKS`` picks:
converting all of them both ways for each pick cost more than the rest of the router's
work for a lead. Here the JSON of each remembered pick is made once and reused, and the
ledger last written is reused when those very bytes are read back. Both are pure functions
of their input, so what is stored and read is the same as before, byte for byte
(``tests/unit/test_pool_ledger_store.py`` holds them to the plain conversion).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import replace
from typing import TypeVar

from pydantic import TypeAdapter

from services.router.pools import Pick, PoolLedger

_K = TypeVar("_K")
_V = TypeVar("_V")
_RECENT_LAST = '"recent": []}'  # ``recent`` is the ledger's last field
_PICK: TypeAdapter[tuple[str, Pick]] = TypeAdapter(tuple[str, Pick])
# The JSON of remembered picks, by pick; somewhat more than a ledger remembers.
_PICK_JSON: OrderedDict[tuple[str, Pick], str] = OrderedDict()
_PICK_JSON_SIZE = 2048
# Ledgers by the bytes they were written as (a few: one per pool the process serves).
_WRITTEN: OrderedDict[bytes, PoolLedger] = OrderedDict()
_WRITTEN_SIZE = 16


def ledger_bytes(ledger: PoolLedger) -> bytes:
    """``json.dumps(ledger.to_dict()).encode()``, reusing the JSON of picks made before."""
    text = json.dumps(replace(ledger, recent=()).to_dict())
    if not text.endswith(_RECENT_LAST):  # not the layout this splices into: the plain way
        stored = json.dumps(ledger.to_dict()).encode()
    else:
        picks = ", ".join(_pick_json(item) for item in ledger.recent)
        stored = (text[:-len(_RECENT_LAST)] + '"recent": [' + picks + "]}").encode()
    _remember(_WRITTEN, stored, ledger, _WRITTEN_SIZE)
    return stored


def stored_ledger(stored: bytes) -> PoolLedger:
    """The ledger ``stored`` holds: the one written as these bytes, or parsed from them
    (raises, as ``PoolLedger.from_dict`` does, on malformed data)."""
    written = _WRITTEN.get(stored)
    return written if written is not None else PoolLedger.from_dict(json.loads(stored))


def _pick_json(item: tuple[str, Pick]) -> str:
    known = _PICK_JSON.get(item)
    if known is None:
        known = json.dumps(_PICK.dump_python(item, mode="json"))
        _remember(_PICK_JSON, item, known, _PICK_JSON_SIZE)
    return known


def _remember(cache: OrderedDict[_K, _V], key: _K, value: _V, size: int) -> None:
    # Bounded, oldest first out (O(1) for an OrderedDict, not for a dict): the caches only
    # save work, any entry may be missing.
    if len(cache) >= size:
        cache.popitem(last=False)
    cache[key] = value
