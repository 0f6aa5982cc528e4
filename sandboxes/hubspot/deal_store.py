"""Sqlite persistence of deals and of deal-contact associations (in the contacts' file)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping

from sandboxes.hubspot.deal_properties import DEAL_KEY
from sandboxes.hubspot.store import Contact

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    deal_key TEXT UNIQUE,
    properties TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    archived INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS deal_contacts (
    deal_id INTEGER NOT NULL,
    contact_id INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (deal_id, contact_id)
);
CREATE INDEX IF NOT EXISTS deal_contacts_by_contact ON deal_contacts (contact_id, deal_id);
"""
# Deal ids live in their own range so they are not mistaken for contact ids in logs.
_FIRST_DEAL_ID = 5_000_001

# A deal has the shape of a contact record: id, values, timestamps, archived.
Deal = Contact


class DealStore:
    """Deals and their contact associations, over a connection the contact store opened."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._db.executescript(_SCHEMA)
        self._db.execute(
            "INSERT INTO sqlite_sequence(name, seq) SELECT 'deals', ? "
            "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'deals')",
            (_FIRST_DEAL_ID - 1,))

    def get(self, deal_id: int) -> Deal | None:
        """The deal with this record id, unless it does not exist or is archived."""
        row = self._db.execute(
            "SELECT * FROM deals WHERE id = ? AND archived = 0", (deal_id,)).fetchone()
        return _deal(row) if row else None

    def find_by_key(self, key: str) -> Deal | None:
        """The deal whose unique ``accord_deal_key`` is this value."""
        row = self._db.execute(
            "SELECT * FROM deals WHERE deal_key = ? AND archived = 0", (key,)).fetchone()
        return _deal(row) if row else None

    def create(self, properties: Mapping[str, str], now_ms: int) -> Deal:
        """Store a new deal with these values and give it the next record id."""
        values = {name: value for name, value in properties.items() if value != ""}
        cursor = self._db.execute(
            "INSERT INTO deals (deal_key, properties, created_at, updated_at) "
            "VALUES (?, ?, ?, ?)", (values.get(DEAL_KEY), json.dumps(values), now_ms, now_ms))
        assert cursor.lastrowid is not None
        return Deal(cursor.lastrowid, values, now_ms, now_ms)

    def update(self, deal: Deal, changes: Mapping[str, str], now_ms: int) -> Deal:
        """Apply these values to a deal; an empty string clears a property."""
        values = dict(deal.properties)
        for name, value in changes.items():
            if value == "":
                values.pop(name, None)
            else:
                values[name] = value
        self._db.execute(
            "UPDATE deals SET deal_key = ?, properties = ?, updated_at = ? WHERE id = ?",
            (values.get(DEAL_KEY), json.dumps(values), now_ms, deal.id))
        return Deal(deal.id, values, deal.created_at, now_ms)

    def page(self, after_id: int, limit: int) -> list[Deal]:
        """Up to ``limit`` deals with ids above ``after_id``, in id order."""
        rows = self._db.execute(
            "SELECT * FROM deals WHERE id > ? AND archived = 0 ORDER BY id LIMIT ?",
            (after_id, limit)).fetchall()
        return [_deal(row) for row in rows]

    def associate(self, deal_id: int, contact_id: int, now_ms: int) -> None:
        """Associate a deal and a contact (once: associating again changes nothing)."""
        self._db.execute(
            "INSERT OR IGNORE INTO deal_contacts (deal_id, contact_id, created_at) "
            "VALUES (?, ?, ?)", (deal_id, contact_id, now_ms))

    def contacts_of(self, deal_id: int) -> list[int]:
        """The ids of the contacts associated with a deal, in id order."""
        rows = self._db.execute(
            "SELECT contact_id FROM deal_contacts WHERE deal_id = ? ORDER BY contact_id",
            (deal_id,)).fetchall()
        return [int(row[0]) for row in rows]

    def deals_of(self, contact_id: int) -> list[int]:
        """The ids of the deals associated with a contact, in id order."""
        rows = self._db.execute(
            "SELECT deal_id FROM deal_contacts WHERE contact_id = ? ORDER BY deal_id",
            (contact_id,)).fetchall()
        return [int(row[0]) for row in rows]


def _deal(row: sqlite3.Row) -> Deal:
    properties: dict[str, str] = json.loads(row["properties"])
    return Deal(row["id"], properties, row["created_at"], row["updated_at"],
                bool(row["archived"]))
