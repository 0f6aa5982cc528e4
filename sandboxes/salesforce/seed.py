"""The org's Users: the sales team from the owners file plus Accord's integration user."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from sandboxes.salesforce.metadata import INTEGRATION_USER_ID, INTEGRATION_USER_NAME, USER
from sandboxes.salesforce.records import salesforce_datetime
from sandboxes.salesforce.store import Store

INTEGRATION_USER_EMAIL = "integration@accord.example"


def _user(user_id: str, email: str, first_name: str, last_name: str,
          is_active: bool) -> dict[str, Any]:
    return {"Id": user_id, "Username": email, "Email": email, "FirstName": first_name,
            "LastName": last_name, "Name": f"{first_name} {last_name}".strip(),
            "IsActive": is_active, "IsDeleted": False}


def users_from_owners_file(path: Path) -> list[dict[str, Any]]:
    """The User records the owners file describes, then the integration user."""
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    users = [
        _user(owner["salesforce_user_id"], owner["email"], owner.get("first_name", ""),
              owner["last_name"], bool(owner.get("is_active", True)))
        for owner in document.get("owners", [])
    ]
    users.append(_user(INTEGRATION_USER_ID, INTEGRATION_USER_EMAIL, *INTEGRATION_USER_NAME,
                       is_active=True))
    return users


def seed_users(store: Store, users: list[dict[str, Any]], now: datetime) -> None:
    """Write ``users`` into the store, keeping the creation stamps of users seeded before."""
    stamp = salesforce_datetime(now)
    with store.transaction():
        for user in users:
            existing = store.get(user["Id"])
            created = existing.data if existing is not None else {
                "CreatedDate": stamp, "CreatedById": INTEGRATION_USER_ID,
                "LastModifiedDate": stamp, "LastModifiedById": INTEGRATION_USER_ID,
                "SystemModstamp": stamp,
            }
            record = {f.name: created.get(f.name) for f in USER.fields} | user
            if existing is not None and existing.data != record:
                record.update(LastModifiedDate=stamp, SystemModstamp=stamp)
            store.save(USER.name, record)
