"""The sandbox's state in one sqlite file: records, unique values, tokens and API usage."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandboxes.salesforce import ids

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    id TEXT PRIMARY KEY,
    sobject TEXT NOT NULL,
    data TEXT NOT NULL,
    is_deleted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS records_by_sobject ON records (sobject, is_deleted);
-- One row per value of a unique field, keyed case-insensitively, so the database itself
-- refuses a second record with the same external id.
CREATE TABLE IF NOT EXISTS unique_values (
    sobject TEXT NOT NULL,
    field TEXT NOT NULL,
    value_key TEXT NOT NULL,
    record_id TEXT NOT NULL,
    PRIMARY KEY (sobject, field, value_key)
);
CREATE TABLE IF NOT EXISTS sequences (key_prefix TEXT PRIMARY KEY, last INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    issued_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS api_usage (day TEXT PRIMARY KEY, calls INTEGER NOT NULL);
-- Calls per client named in the Sforce-Call-Options header.
CREATE TABLE IF NOT EXISTS api_usage_by_client (
    day TEXT NOT NULL,
    client TEXT NOT NULL,
    calls INTEGER NOT NULL,
    PRIMARY KEY (day, client)
);
"""


@dataclass(frozen=True)
class StoredRecord:
    """A record as stored: its sObject type, field values and whether it is deleted."""

    sobject: str
    data: dict[str, Any]
    is_deleted: bool


def unique_key(value: Any) -> str:
    """The case-insensitive key a unique field's value is indexed under."""
    return str(value).casefold()


class Store:
    """Persistence for the sandbox; every method is safe to call from any thread."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database file."""
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Run the block atomically and alone: checks and writes inside see no interleaving."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Inside a transaction: undo only this block's writes if it raises."""
        with self._lock:
            self._db.execute("SAVEPOINT record")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK TO record")
                self._db.execute("RELEASE record")
                raise
            self._db.execute("RELEASE record")

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """The database, held alone: for modules that keep tables of their own in it."""
        with self._lock:
            yield self._db

    def next_id(self, key_prefix: str) -> str:
        """A new 18-character id for an object with ``key_prefix``."""
        with self._lock:
            row = self._db.execute(
                "INSERT INTO sequences (key_prefix, last) VALUES (?, 1) "
                "ON CONFLICT (key_prefix) DO UPDATE SET last = last + 1 RETURNING last",
                (key_prefix,),
            ).fetchone()
            return ids.new_id(key_prefix, int(row[0]))

    def get(self, record_id: str) -> StoredRecord | None:
        """The record with ``record_id`` (15 or 18 characters), deleted or not."""
        with self._lock:
            row = self._db.execute(
                "SELECT sobject, data, is_deleted FROM records WHERE id = ?",
                (ids.to_18(record_id),),
            ).fetchone()
        if row is None:
            return None
        return StoredRecord(row[0], json.loads(row[1]), bool(row[2]))

    def records(self, sobject: str, include_deleted: bool = False) -> list[dict[str, Any]]:
        """Every record of ``sobject``, in creation order."""
        sql = "SELECT data FROM records WHERE sobject = ?"
        if not include_deleted:
            sql += " AND is_deleted = 0"
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY rowid", (sobject,)).fetchall()
        return [json.loads(row[0]) for row in rows]

    def save(self, sobject: str, record: dict[str, Any]) -> None:
        """Insert or overwrite ``record`` (keyed by its Id), keeping its IsDeleted flag."""
        with self._lock:
            self._db.execute(
                "INSERT INTO records (id, sobject, data, is_deleted) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET data = excluded.data, "
                "is_deleted = excluded.is_deleted",
                (record["Id"], sobject, json.dumps(record), int(bool(record.get("IsDeleted")))),
            )

    def find_unique(self, sobject: str, field: str, value: Any) -> str | None:
        """The id of the live record whose unique ``field`` equals ``value`` (any case)."""
        with self._lock:
            row = self._db.execute(
                "SELECT record_id FROM unique_values "
                "WHERE sobject = ? AND field = ? AND value_key = ?",
                (sobject, field, unique_key(value)),
            ).fetchone()
        return None if row is None else str(row[0])

    def index_unique(self, sobject: str, record_id: str, values: dict[str, Any]) -> None:
        """Make ``values`` (field name to value, None to clear) the record's unique values."""
        with self._lock:
            for field, value in values.items():
                self._db.execute(
                    "DELETE FROM unique_values WHERE sobject = ? AND field = ? AND record_id = ?",
                    (sobject, field, record_id),
                )
                if value is not None:
                    self._db.execute(
                        "INSERT INTO unique_values (sobject, field, value_key, record_id) "
                        "VALUES (?, ?, ?, ?)",
                        (sobject, field, unique_key(value), record_id),
                    )

    def add_token(self, token_hash: str, user_id: str, issued_at: float) -> None:
        """Remember an issued access token by its hash."""
        with self._lock:
            self._db.execute("INSERT INTO tokens VALUES (?, ?, ?)",
                             (token_hash, user_id, issued_at))

    def token(self, token_hash: str) -> tuple[str, float] | None:
        """The user id and issue time (epoch seconds) of a token, or None if never issued."""
        with self._lock:
            row = self._db.execute("SELECT user_id, issued_at FROM tokens WHERE token_hash = ?",
                                   (token_hash,)).fetchone()
        return None if row is None else (str(row[0]), float(row[1]))

    def delete_tokens(self, token_hash: str | None = None) -> int:
        """Forget one issued token (by hash), or every one; how many were forgotten."""
        with self._lock:
            if token_hash is None:
                return self._db.execute("DELETE FROM tokens").rowcount
            return self._db.execute("DELETE FROM tokens WHERE token_hash = ?",
                                    (token_hash,)).rowcount

    def api_calls(self, day: str) -> int:
        """How many API calls were counted on ``day`` (YYYY-MM-DD, UTC)."""
        with self._lock:
            row = self._db.execute("SELECT calls FROM api_usage WHERE day = ?",
                                   (day,)).fetchone()
        return 0 if row is None else int(row[0])

    def count_api_call(self, day: str) -> int:
        """Count one more API call on ``day``; the new total."""
        with self._lock:
            row = self._db.execute(
                "INSERT INTO api_usage (day, calls) VALUES (?, 1) "
                "ON CONFLICT (day) DO UPDATE SET calls = calls + 1 RETURNING calls",
                (day,),
            ).fetchone()
            return int(row[0])

    def count_client_call(self, day: str, client: str) -> None:
        """Count one API call on ``day`` for the client named in Sforce-Call-Options."""
        with self._lock:
            self._db.execute(
                "INSERT INTO api_usage_by_client (day, client, calls) VALUES (?, ?, 1) "
                "ON CONFLICT (day, client) DO UPDATE SET calls = calls + 1", (day, client))

    def client_calls(self, day: str) -> dict[str, int]:
        """Calls on ``day`` by client name."""
        with self._lock:
            rows = self._db.execute(
                "SELECT client, calls FROM api_usage_by_client WHERE day = ? ORDER BY client",
                (day,)).fetchall()
        return {str(row[0]): int(row[1]) for row in rows}
