"""HubSpot owners by email: listed once (paged), cached, looked up alone only when unknown."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from services.sync.crm_errors import RejectedByCrmError
from services.sync.hubspot_owners import OwnerDirectory

OWNERS = [{"id": str(100 + i), "email": f"rep{i}@accord.example"} for i in range(5)]


class Portal:
    """Answers owner pages of ``size`` and single lookups; counts the calls."""

    def __init__(self, owners: list[dict[str, str]], size: int = 2) -> None:
        self.owners = owners
        self.size = size
        self.pages: list[str | None] = []
        self.lookups: list[str] = []

    def page(self, after: str | None) -> Mapping[str, Any]:
        self.pages.append(after)
        start = int(after or 0)
        body: dict[str, Any] = {"results": self.owners[start:start + self.size]}
        if start + self.size < len(self.owners):
            body["paging"] = {"next": {"after": str(start + self.size)}}
        return body

    def lookup(self, email: str) -> Mapping[str, Any]:
        self.lookups.append(email)
        return {"results": [o for o in self.owners if o["email"] == email.lower()]}


def test_given_owners_on_three_pages_when_resolved_then_listed_once_and_no_call_per_owner():
    portal = Portal(OWNERS, size=2)
    directory = OwnerDirectory(portal.page, portal.lookup)

    ids = [directory.owner_id(o["email"]) for o in OWNERS for _ in range(3)]

    assert ids == [o["id"] for o in OWNERS for _ in range(3)]
    assert portal.pages == [None, "2", "4"]
    assert portal.lookups == []


def test_given_owners_listed_when_an_email_differs_in_case_then_it_is_the_same_owner():
    portal = Portal(OWNERS)
    directory = OwnerDirectory(portal.page, portal.lookup)
    assert directory.load() == len(OWNERS)

    assert directory.owner_id("  REP3@Accord.Example") == "103"
    assert portal.lookups == []


def test_given_an_owner_added_after_the_listing_when_resolved_then_looked_up_alone_and_kept():
    portal = Portal(OWNERS[:2])
    directory = OwnerDirectory(portal.page, portal.lookup)
    directory.load()
    portal.owners = OWNERS  # a new rep joined

    assert directory.owner_id("rep4@accord.example") == "104"
    assert directory.owner_id("rep4@accord.example") == "104"
    assert portal.lookups == ["rep4@accord.example"]
    assert portal.pages == [None]


def test_given_an_email_no_owner_has_when_resolved_then_rejected_as_unknown_owner():
    portal = Portal(OWNERS)
    directory = OwnerDirectory(portal.page, portal.lookup)

    with pytest.raises(RejectedByCrmError) as raised:
        directory.owner_id("ghost@accord.example")

    assert raised.value.code == "UNKNOWN_OWNER"
    assert portal.lookups == ["ghost@accord.example"]
