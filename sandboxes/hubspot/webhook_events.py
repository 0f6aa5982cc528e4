"""Webhook events in HubSpot's payload shape, one per subscription a change matches."""

from __future__ import annotations

import itertools
import time
import zlib
from collections.abc import Collection, Iterator
from typing import Any

from sandboxes.hubspot.changes import Change

DEFAULT_SUBSCRIPTIONS = ("contact.creation", "contact.propertyChange",
                         "deal.creation", "deal.propertyChange")
# Subscription ids are fixed per subscription (and property), as they are in an app.
_SUBSCRIPTION_ID_BASE = 1_000_000
_SUBSCRIPTION_ID_SPAN = 9_000_000


def subscription_id(subscription_type: str, property_name: str | None = None) -> int:
    """The id of the app's subscription to this event type (and property)."""
    key = f"{subscription_type}:{property_name or ''}".encode()
    return _SUBSCRIPTION_ID_BASE + zlib.crc32(key) % _SUBSCRIPTION_ID_SPAN


class EventFactory:
    """Turns record changes into webhook events for one app, portal and subscription list."""

    def __init__(self, app_id: int, portal_id: int, subscriptions: Collection[str]) -> None:
        self._app_id = app_id
        self._portal_id = portal_id
        self._subscriptions = frozenset(subscriptions)
        # Microseconds at start: ids keep growing across restarts (HubSpot's are opaque).
        self._event_ids: Iterator[int] = itertools.count(time.time_ns() // 1000)

    def events(self, changes: list[Change]) -> list[dict[str, Any]]:
        """The events for these changes, creations before property changes of a record."""
        return [event for change in changes for event in self._for_change(change)]

    def _for_change(self, change: Change) -> Iterator[dict[str, Any]]:
        if change.created:
            kind = f"{change.object_kind}.creation"
            if kind in self._subscriptions:
                yield {**self._base(change, kind), "changeFlag": "CREATED"}
        kind = f"{change.object_kind}.propertyChange"
        if kind not in self._subscriptions:
            return
        for name, value in change.properties.items():
            yield {**self._base(change, kind, name), "propertyName": name,
                   "propertyValue": value}

    def _base(self, change: Change, kind: str, property_name: str | None = None,
              ) -> dict[str, Any]:
        return {
            "eventId": next(self._event_ids),
            "subscriptionId": subscription_id(kind, property_name),
            "portalId": self._portal_id,
            "appId": self._app_id,
            "occurredAt": change.occurred_at,
            "subscriptionType": kind,
            "attemptNumber": 0,
            "objectId": change.object_id,
            "changeSource": change.source.change_source,
            "sourceId": change.source.source_id,
        }
