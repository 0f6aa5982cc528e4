"""The Outbound Message queue: one row per notification, written in the same transaction as
the change that caused it, kept until acknowledged or expired."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sandboxes.salesforce import ids
from sandboxes.salesforce.metadata import SOBJECTS, SObjectDef
from sandboxes.salesforce.store import Store

NOTIFICATION_PREFIX = "04l"
ACTION_PREFIX = "04k"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbound_notifications (
    id TEXT PRIMARY KEY,
    action_id TEXT NOT NULL,
    sobject TEXT NOT NULL,
    record_id TEXT NOT NULL,
    -- The record as saved; sent when it no longer exists at delivery time.
    snapshot TEXT NOT NULL,
    created_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    delivered_at REAL,
    dropped_at REAL,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS outbound_pending
    ON outbound_notifications (delivered_at, dropped_at, next_attempt_at);
"""


def action_id(target: SObjectDef) -> str:
    """The id of the outbound message action (workflow action) for ``target``."""
    return ids.new_id(ACTION_PREFIX, SOBJECTS.index(target) + 1)


@dataclass(frozen=True)
class Pending:
    """A notification waiting for its Ack."""

    id: str
    action_id: str
    sobject: str
    record_id: str
    snapshot: dict[str, Any]
    created_at: float
    attempts: int


class Outbox:
    """Queues notifications for the configured sObjects and tracks their delivery."""

    def __init__(self, store: Store, sobjects: Iterable[str],
                 clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._sobjects = {name.lower() for name in sobjects}
        self._clock = clock
        with store.connection() as db:
            db.executescript(_SCHEMA)

    def wants(self, target: SObjectDef) -> bool:
        """Whether changes to ``target`` send Outbound Messages."""
        return target.name.lower() in self._sobjects

    def enqueue(self, target: SObjectDef, record: dict[str, Any]) -> str:
        """Queue a notification of ``record``'s change (call inside its transaction)."""
        notification_id = self._store.next_id(NOTIFICATION_PREFIX)
        now = self._clock()
        with self._store.connection() as db:
            db.execute(
                "INSERT INTO outbound_notifications (id, action_id, sobject, record_id, "
                "snapshot, created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (notification_id, action_id(target), target.name, record["Id"],
                 json.dumps(record), now, now))
        return notification_id

    def due(self, now: float) -> list[Pending]:
        """Notifications whose next attempt is due, oldest first."""
        with self._store.connection() as db:
            rows = db.execute(
                "SELECT id, action_id, sobject, record_id, snapshot, created_at, attempts "
                "FROM outbound_notifications WHERE delivered_at IS NULL AND dropped_at IS NULL "
                "AND next_attempt_at <= ? "
                "ORDER BY rowid", (now,)).fetchall()
        return [Pending(r[0], r[1], r[2], r[3], json.loads(r[4]), float(r[5]), int(r[6]))
                for r in rows]

    def next_attempt_at(self) -> float | None:
        """When the earliest pending notification is due, or None when none is pending."""
        with self._store.connection() as db:
            row = db.execute("SELECT MIN(next_attempt_at) FROM outbound_notifications "
                             "WHERE delivered_at IS NULL AND dropped_at IS NULL").fetchone()
        return None if row[0] is None else float(row[0])

    def delivered(self, notification_ids: Iterable[str], now: float) -> None:
        """Mark notifications acknowledged."""
        with self._store.connection() as db:
            db.executemany("UPDATE outbound_notifications SET delivered_at = ?, "
                           "attempts = attempts + 1, last_error = NULL WHERE id = ?",
                           [(now, i) for i in notification_ids])

    def retry_at(self, notification_id: str, attempts: int, at: float, error: str) -> None:
        """Record a failed attempt and when to try again."""
        with self._store.connection() as db:
            db.execute("UPDATE outbound_notifications SET attempts = ?, next_attempt_at = ?, "
                       "last_error = ? WHERE id = ?", (attempts, at, error[:500], notification_id))

    def drop(self, notification_ids: Iterable[str], now: float) -> None:
        """Give notifications up, as Salesforce does after 24 hours."""
        with self._store.connection() as db:
            db.executemany("UPDATE outbound_notifications SET dropped_at = ? WHERE id = ?",
                           [(now, i) for i in notification_ids])

    def summary(self, limit: int = 100) -> dict[str, Any]:
        """Counts by state and the latest notifications, as ``GET /__sandbox/outbound``."""
        with self._store.connection() as db:
            counts = db.execute(
                "SELECT SUM(delivered_at IS NULL AND dropped_at IS NULL), "
                "SUM(delivered_at IS NOT NULL), "
                "SUM(dropped_at IS NOT NULL) FROM outbound_notifications").fetchone()
            rows = db.execute(
                "SELECT id, action_id, sobject, record_id, attempts, delivered_at, dropped_at, "
                "last_error, snapshot FROM outbound_notifications ORDER BY rowid DESC LIMIT ?",
                (limit,)).fetchall()
        latest = [{
            "id": r[0], "action_id": r[1], "sobject": r[2], "record_id": r[3],
            "attempts": r[4], "state": ("delivered" if r[5] is not None else
                                        "dropped" if r[6] is not None else "pending"),
            "last_error": r[7],
            "last_modified_by_id": json.loads(r[8]).get("LastModifiedById"),
        } for r in rows]
        return {"pending": int(counts[0] or 0), "delivered": int(counts[1] or 0),
                "dropped": int(counts[2] or 0), "latest": latest}
