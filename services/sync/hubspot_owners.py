"""HubSpot owners by email: listed once, cached, and looked up one by one only when unknown.

HubSpot answers ``GET /crm/v3/owners`` a page at a time (``paging.next.after``); a portal's
owners fit in a page or a few, so listing them all costs about one call, where asking for
each owner's email costs one call per owner. An email not in the list (an owner added since)
is asked for on its own, and kept once found.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from services.sync.crm_errors import RejectedByCrmError

# One page of owners: the ``after`` cursor (None: the first page) -> the answer's body.
Page = Callable[[str | None], Mapping[str, Any]]
# The owners with one email: the email -> the answer's body (``results`` empty: none).
Lookup = Callable[[str], Mapping[str, Any]]


def _key(email: str) -> str:
    return email.strip().lower()  # HubSpot compares emails without case


def _next_cursor(body: Mapping[str, Any]) -> str | None:
    paging = body.get("paging")
    following = paging.get("next") if isinstance(paging, Mapping) else None
    after = following.get("after") if isinstance(following, Mapping) else None
    return str(after) if after else None


class OwnerDirectory:
    """Owner ids by email for one portal; safe to share between threads."""

    def __init__(self, page: Page, lookup: Lookup) -> None:
        self._page = page
        self._lookup = lookup
        self._ids: dict[str, str] = {}
        self._listed = False
        self._lock = threading.Lock()  # guards the cache
        self._listing = threading.Lock()  # one listing at a time

    def load(self) -> int:
        """List every owner, page by page, and keep their ids; the number listed."""
        with self._listing:
            found: dict[str, str] = {}
            after: str | None = None
            while True:
                body = self._page(after)
                for owner in body.get("results") or ():
                    if isinstance(owner, Mapping) and owner.get("email") and owner.get("id"):
                        found[_key(str(owner["email"]))] = str(owner["id"])
                after = _next_cursor(body)
                if after is None:
                    break
            with self._lock:
                self._ids.update(found)
                self._listed = True
            return len(found)

    def owner_id(self, email: str) -> str:
        """The id of the owner with this email; :class:`RejectedByCrmError` if HubSpot has
        none. Lists the owners on first use; asks for an email not listed on its own."""
        with self._lock:
            listed = self._listed
        if not listed:
            self.load()
        key = _key(email)
        with self._lock:
            if key in self._ids:
                return self._ids[key]
        results = self._lookup(email).get("results") or []
        if not results:
            raise RejectedByCrmError("HubSpot", "UNKNOWN_OWNER",
                                     f"no HubSpot owner has the email {email}")
        with self._lock:
            self._ids[key] = str(results[0]["id"])
            return self._ids[key]
