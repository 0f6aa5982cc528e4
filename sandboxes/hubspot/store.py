"""Sqlite persistence: contacts, their ids, and API call counts, all surviving a restart."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS contacts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email_key TEXT UNIQUE,
    properties TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    archived INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS recent_calls (at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS daily_calls (day TEXT PRIMARY KEY, calls INTEGER NOT NULL);
"""
# Record ids start above the low numbers so they are not mistaken for counts or indexes.
_FIRST_ID = 101
_WINDOW_SECONDS = 10.0


@dataclass(frozen=True)
class Contact:
    """A stored contact: its id, the values set on it, and when it was created and changed."""

    id: int
    properties: dict[str, str]
    created_at: int
    updated_at: int
    archived: bool = False


@dataclass(frozen=True)
class Usage:
    """API calls counted so far today and in the last ten seconds, this call included."""

    today: int
    last_ten_seconds: int


@dataclass(frozen=True)
class Admission:
    """Whether a call is within the limits, and the usage after it.

    ``refused_by`` names the exhausted policy (``DAILY`` or ``TEN_SECONDLY_ROLLING``); a
    refused call is not counted.
    """

    usage: Usage
    refused_by: str | None = None


class ContactStore:
    """Contacts and usage counters in one sqlite file; one instance per process."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # The app serves requests on one event loop thread; autocommit with explicit BEGINs.
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._db.execute(
            "INSERT INTO sqlite_sequence(name, seq) SELECT 'contacts', ? "
            "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'contacts')",
            (_FIRST_ID - 1,),
        )
        # 429s answered since the process started, by policy (not persisted: for the admin
        # API's usage view, which benchmarks read without spending a call).
        self.refused: dict[str, int] = {}

    @property
    def connection(self) -> sqlite3.Connection:
        """The database connection, shared with the other record stores of the process."""
        return self._db

    def close(self) -> None:
        """Close the database file."""
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Make every write inside the block land together, or none of them."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def get(self, contact_id: int) -> Contact | None:
        """The contact with this record id, unless it does not exist or is archived."""
        row = self._db.execute(
            "SELECT * FROM contacts WHERE id = ? AND archived = 0", (contact_id,)).fetchone()
        return _contact(row) if row else None

    def find_by_email(self, email: str) -> Contact | None:
        """The contact whose email matches, ignoring case."""
        row = self._db.execute(
            "SELECT * FROM contacts WHERE email_key = ? AND archived = 0",
            (email.strip().lower(),)).fetchone()
        return _contact(row) if row else None

    def create(self, properties: Mapping[str, str], now_ms: int) -> Contact:
        """Store a new contact with these values and give it the next record id."""
        values = {name: value for name, value in properties.items() if value != ""}
        cursor = self._db.execute(
            "INSERT INTO contacts (email_key, properties, created_at, updated_at) "
            "VALUES (?, ?, ?, ?)",
            (_email_key(values), json.dumps(values), now_ms, now_ms))
        assert cursor.lastrowid is not None
        return Contact(cursor.lastrowid, values, now_ms, now_ms)

    def update(self, contact: Contact, changes: Mapping[str, str], now_ms: int) -> Contact:
        """Apply these values to a contact; an empty string clears a property."""
        values = dict(contact.properties)
        for name, value in changes.items():
            if value == "":
                values.pop(name, None)
            else:
                values[name] = value
        self._db.execute(
            "UPDATE contacts SET email_key = ?, properties = ?, updated_at = ? WHERE id = ?",
            (_email_key(values), json.dumps(values), now_ms, contact.id))
        return Contact(contact.id, values, contact.created_at, now_ms)

    def page(self, after_id: int, limit: int) -> list[Contact]:
        """Up to ``limit`` contacts with ids above ``after_id``, in id order."""
        rows = self._db.execute(
            "SELECT * FROM contacts WHERE id > ? AND archived = 0 ORDER BY id LIMIT ?",
            (after_id, limit)).fetchall()
        return [_contact(row) for row in rows]

    def all_active(self) -> list[Contact]:
        """Every contact that is not archived, in id order."""
        rows = self._db.execute(
            "SELECT * FROM contacts WHERE archived = 0 ORDER BY id").fetchall()
        return [_contact(row) for row in rows]

    def record_call(self, now: float, day: str) -> Usage:
        """Count one API call made at ``now`` (epoch seconds) on ``day`` (a UTC date)."""
        return self.admit_call(now, day).usage

    def usage(self, now: float, day: str) -> Usage:
        """Calls counted on ``day`` and in the ten seconds before ``now``; counts nothing."""
        window = int(self._db.execute("SELECT COUNT(*) FROM recent_calls WHERE at > ?",
                                      (now - _WINDOW_SECONDS,)).fetchone()[0])
        row = self._db.execute("SELECT calls FROM daily_calls WHERE day = ?", (day,)).fetchone()
        return Usage(today=int(row[0]) if row else 0, last_ten_seconds=window)

    def admit_call(self, now: float, day: str, ten_second_limit: int | None = None,
                   daily_limit: int | None = None) -> Admission:
        """Count a call at ``now`` on ``day`` unless it would exceed a limit (then refuse it)."""
        with self.transaction():
            self._db.execute("DELETE FROM recent_calls WHERE at <= ?", (now - _WINDOW_SECONDS,))
            window = int(self._db.execute("SELECT COUNT(*) FROM recent_calls").fetchone()[0])
            row = self._db.execute("SELECT calls FROM daily_calls WHERE day = ?",
                                   (day,)).fetchone()
            today = int(row[0]) if row else 0
            refused_by = ("DAILY" if daily_limit is not None and today >= daily_limit
                          else "TEN_SECONDLY_ROLLING"
                          if ten_second_limit is not None and window >= ten_second_limit
                          else None)
            if refused_by is not None:
                self.refused[refused_by] = self.refused.get(refused_by, 0) + 1
                return Admission(Usage(today, window), refused_by)
            self._db.execute("INSERT INTO recent_calls (at) VALUES (?)", (now,))
            self._db.execute(
                "INSERT INTO daily_calls (day, calls) VALUES (?, 1) "
                "ON CONFLICT(day) DO UPDATE SET calls = calls + 1", (day,))
        return Admission(Usage(today=today + 1, last_ten_seconds=window + 1))


def _email_key(values: Mapping[str, str]) -> str | None:
    email = values.get("email", "").strip().lower()
    return email or None


def _contact(row: sqlite3.Row) -> Contact:
    properties: dict[str, str] = json.loads(row["properties"])
    return Contact(row["id"], properties, row["created_at"], row["updated_at"],
                   bool(row["archived"]))
