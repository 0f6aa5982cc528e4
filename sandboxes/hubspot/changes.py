"""Record changes as the CRM sees them: what changed, on which record, and who changed it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

ObjectKind = Literal["contact", "deal"]


@dataclass(frozen=True)
class ChangeSource:
    """Who made a change: ``INTEGRATION`` (an app, by its id) or ``CRM_UI`` (a user)."""

    change_source: str
    source_id: str

    @classmethod
    def integration(cls, app_id: int) -> ChangeSource:
        """A change made through the API with the private app's token."""
        return cls("INTEGRATION", str(app_id))

    @classmethod
    def crm_ui(cls, user_id: int) -> ChangeSource:
        """A change a user made in HubSpot's own screens."""
        return cls("CRM_UI", f"userId:{user_id}")


@dataclass(frozen=True)
class Change:
    """One write to one record: created or not, and each property whose value changed."""

    object_kind: ObjectKind
    object_id: int
    occurred_at: int  # epoch milliseconds
    source: ChangeSource
    created: bool = False
    # Changed properties and their new values; an empty string means the value was cleared.
    properties: dict[str, str] = field(default_factory=dict)


ChangeListener = Callable[[list[Change]], None]


def ignore_changes(_: list[Change]) -> None:
    """The listener of a service nobody subscribed to."""


def changed_values(before: Mapping[str, str], after: Mapping[str, str]) -> dict[str, str]:
    """Properties whose value differs between two snapshots, with the value after."""
    names = [*after, *(name for name in before if name not in after)]
    return {name: after.get(name, "") for name in names
            if before.get(name, "") != after.get(name, "")}
