"""The values a CRM holds for a record, as far as Accord knows, and the write a new decision
needs given them: pure functions.

Accord knows what a CRM holds from two places: what it last saw the CRM accept (kept per
CRM and record, see :mod:`services.sync.skip_state`), and what the decision says came from
that CRM (``field_sources``, a rep's ``salesforce_status``). A record with neither is new to
Accord: it is written in full, as a create. Otherwise only the fields whose values differ are
sent, and a record with none is skipped. Values are compared as JSON, the form they are kept
in, so that a value read back after a restart compares equal to the one written.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Values = Mapping[str, Any]
_ABSENT = object()


def state_key(crm: str, key: str) -> str:
    """The key of a record's known values: ``<crm>:<lead key>`` (or ``hubspot:deal:<id>``)."""
    return f"{crm}:{key}"


def as_json(values: Values) -> dict[str, Any]:
    """``values`` as they read back from JSON (tuples become lists, dates text...)."""
    loaded: dict[str, Any] = json.loads(json.dumps(dict(values), default=str))
    return loaded


@dataclass(frozen=True)
class Planned:
    """What one record comes to: the fields to ``send`` (empty: skip it), what the CRM holds
    before the write (``held``; None when Accord knows nothing, and the write is a create),
    and whether that differs from what was kept (``learned``: keep it even if nothing is
    sent)."""

    send: Values
    held: Values | None
    learned: bool

    @property
    def creating(self) -> bool:
        """Accord knows nothing of the record in this CRM: it writes every field."""
        return self.held is None

    @property
    def skipped(self) -> bool:
        """The CRM holds every value already: nothing to send."""
        return not self.send

    def after_write(self) -> dict[str, Any]:
        """What the CRM holds once it accepted the write."""
        return {**(self.held or {}), **self.send}


def plan(kept: Values | None, from_crm: Values,
         desired: Callable[[bool], Values]) -> Planned:
    """The write for one record: ``kept`` is what Accord last saw the CRM accept (None: never),
    ``from_crm`` the values the decision says came from the CRM, and ``desired(creating)`` the
    record's fields given whether it is a create."""
    held = None if kept is None and not from_crm else {**(kept or {}), **as_json(from_crm)}
    wanted = as_json(desired(held is None))
    learned = held is not None and held != kept
    if held is None:
        return Planned(wanted, None, learned)
    changed = {name: value for name, value in wanted.items()
               if held.get(name, _ABSENT) != value}
    return Planned(changed, held, learned)


def encode_known(values: Values) -> bytes:
    """A record's known values as kept on the topic (JSON, keys sorted)."""
    return json.dumps({"fields": dict(values)}, sort_keys=True, default=str).encode()


def decode_known(raw: bytes | None) -> dict[str, Any] | None:
    """The known values kept in ``raw``; None for a tombstone or a value not understood (then
    the record is treated as unknown, and written in full: when in doubt, write)."""
    if raw is None:
        return None
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    fields = body.get("fields") if isinstance(body, dict) else None
    return fields if isinstance(fields, dict) else None
