"""The portal's owners (sales reps and queues), seeded from the shared owners file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

# Owners are seeded, never edited, so one fixed instant keeps their answers stable across runs.
SEEDED_AT = "2024-01-02T09:00:00.000Z"
# Portal user ids differ from owner ids in a real portal; deriving them keeps that true here.
_USER_ID_OFFSET = 34_000_000


@dataclass(frozen=True)
class Owner:
    """One HubSpot owner: the id records point at, and the user behind it."""

    id: str
    email: str
    first_name: str
    last_name: str
    user_id: int
    type: Literal["PERSON", "QUEUE"] = "PERSON"

    def to_wire(self) -> dict[str, Any]:
        """The owner as ``GET /crm/v3/owners`` returns it."""
        return {
            "id": self.id,
            "email": self.email,
            "type": self.type,
            "firstName": self.first_name,
            "lastName": self.last_name,
            "userId": self.user_id,
            "userIdIncludingInactive": self.user_id,
            "createdAt": SEEDED_AT,
            "updatedAt": SEEDED_AT,
            "archived": False,
            "teams": [],
        }


def load_owners(path: Path) -> tuple[Owner, ...]:
    """Read the owners file; each entry needs ``email`` and ``hubspot_owner_id``."""
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    owners: list[Owner] = []
    for entry in document.get("owners", []):
        owner_id = str(entry["hubspot_owner_id"])
        user_id = int(entry.get("hubspot_user_id", int(owner_id) + _USER_ID_OFFSET))
        owners.append(Owner(
            id=owner_id,
            email=str(entry["email"]),
            first_name=str(entry.get("first_name", "")),
            last_name=str(entry.get("last_name", "")),
            user_id=user_id,
            type="QUEUE" if entry.get("hubspot_owner_type") == "QUEUE" else "PERSON",
        ))
    return tuple(owners)


def find_owner(owners: tuple[Owner, ...], owner_id: str, id_property: str = "id") -> Owner | None:
    """The owner with this owner id (or user id, when ``id_property`` is ``userId``)."""
    for owner in owners:
        key = str(owner.user_id) if id_property == "userId" else owner.id
        if key == owner_id:
            return owner
    return None


def owners_page(owners: tuple[Owner, ...], *, email: str | None, limit: int, after: str | None,
                archived: bool, base_url: str) -> dict[str, Any]:
    """``GET /crm/v3/owners``: owners filtered by email, a page at a time."""
    # Seeded owners are all active, so asking for archived ones finds none.
    matching = [] if archived else [
        o for o in owners if email is None or o.email.lower() == email.strip().lower()]
    start = int(after) if after and after.isdigit() else 0
    limit = max(1, min(limit, 500))
    page = matching[start:start + limit]
    answer: dict[str, Any] = {"results": [o.to_wire() for o in page]}
    if start + limit < len(matching):
        cursor = str(start + limit)
        answer["paging"] = {"next": {"after": cursor,
                                     "link": f"{base_url}/crm/v3/owners/?after={cursor}"}}
    return answer
