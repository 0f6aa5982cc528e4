"""Deal operations of the CRM v3 objects API: read, create (with associations), update, list."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from sandboxes.hubspot.changes import (
    Change,
    ChangeListener,
    ChangeSource,
    changed_values,
    ignore_changes,
)
from sandboxes.hubspot.contacts import iso
from sandboxes.hubspot.deal_properties import (
    DEAL_KEY,
    DEAL_OBJECT_TYPE_ID,
    DEAL_PROPERTY_MAP,
    DEAL_SYSTEM_PROPERTIES,
    DEFAULT_DEAL_PROPERTIES,
    DEFAULT_PIPELINE,
)
from sandboxes.hubspot.deal_store import Deal, DealStore
from sandboxes.hubspot.errors import (
    ApiError,
    PropertyProblem,
    invalid_associations,
    invalid_properties,
    non_unique_id_property,
    object_not_found,
    validation_error,
)
from sandboxes.hubspot.owners import Owner
from sandboxes.hubspot.payloads import AssociationInput
from sandboxes.hubspot.properties import normalise_values, validate_values
from sandboxes.hubspot.store import ContactStore

MAX_LIST_LIMIT = 100
# HubSpot-defined association type ids between deals and contacts, one per direction.
DEAL_TO_CONTACT = 3
CONTACT_TO_DEAL = 4


def values_of(deal: Deal) -> dict[str, str]:
    """Every property value of a deal, the computed system properties included."""
    return {**deal.properties, "createdate": iso(deal.created_at),
            "hs_lastmodifieddate": iso(deal.updated_at), "hs_object_id": str(deal.id)}


def render(deal: Deal, names: Sequence[str] | None) -> dict[str, Any]:
    """A deal as the API returns it, with the named properties (null when unset)."""
    values = values_of(deal)
    wanted = ([n for n in names if n in DEAL_PROPERTY_MAP] if names
              else list(DEFAULT_DEAL_PROPERTIES))
    wanted += [name for name in DEAL_SYSTEM_PROPERTIES if name not in wanted]
    return {"id": str(deal.id), "properties": {name: values.get(name) for name in wanted},
            "createdAt": iso(deal.created_at), "updatedAt": iso(deal.updated_at),
            "archived": deal.archived}


def render_all(deal: Deal) -> dict[str, Any]:
    """A deal with every property it has, as write endpoints answer."""
    return render(deal, list(values_of(deal)))


class DealService:
    """The deal endpoints' behaviour over the shared database and one portal's owners."""

    def __init__(self, records: ContactStore, deals: DealStore, owners: Sequence[Owner],
                 portal_id: int, api_source: ChangeSource,
                 notify: ChangeListener = ignore_changes,
                 clock: Callable[[], float] = time.time) -> None:
        self.records = records
        self.deals = deals
        self._owners = owners
        self.portal_id = portal_id
        self._api_source = api_source
        self._notify = notify
        self._clock = clock

    def now_ms(self) -> int:
        """The current time in epoch milliseconds."""
        return int(self._clock() * 1000)

    def problems_of(self, raw: dict[str, str]) -> list[PropertyProblem]:
        """What is wrong with these deal values (empty when they are valid)."""
        return validate_values(raw, self._owners, DEAL_PROPERTY_MAP)

    def checked(self, raw: dict[str, str]) -> dict[str, str]:
        """Valid, normalised values; 400 naming every problem otherwise."""
        problems = self.problems_of(raw)
        if problems:
            raise invalid_properties(problems, self.portal_id)
        return normalise_values(raw, DEAL_PROPERTY_MAP)

    def find_or_none(self, deal_id: str, id_property: str | None) -> Deal | None:
        """The deal a path id names, by record id or by the unique deal key."""
        if id_property in (None, "", "hs_object_id"):
            return self.deals.get(int(deal_id)) if deal_id.isdigit() else None
        if id_property == DEAL_KEY:
            return self.deals.find_by_key(deal_id)
        raise non_unique_id_property(DEAL_OBJECT_TYPE_ID, id_property, self.portal_id)

    def find(self, deal_id: str, id_property: str | None) -> Deal:
        """The deal a path id names; 404 if there is none."""
        deal = self.find_or_none(deal_id, id_property)
        if deal is None:
            raise object_not_found(deal_id if id_property in (None, "") else None)
        return deal

    def refuse_taken_key(self, values: dict[str, str], deal_id: int | None) -> None:
        """409 when the unique deal key in ``values`` belongs to another deal."""
        key = values.get(DEAL_KEY)
        holder = self.deals.find_by_key(key) if key else None
        if holder is not None and holder.id != deal_id:
            raise ApiError(409, "CONFLICT",
                           f"A deal with {DEAL_KEY} {key} already exists. "
                           f"Existing ID: {holder.id}")

    def contact_ids(self, associations: Sequence[AssociationInput]) -> list[int]:
        """The contacts a create body associates the deal with; 400 if any is not valid."""
        for association in associations:
            for kind in association.types:
                if (kind.association_category, kind.association_type_id) != (
                        "HUBSPOT_DEFINED", DEAL_TO_CONTACT):
                    raise validation_error(
                        f"{kind.association_category} association type "
                        f"{kind.association_type_id} is not valid from DEAL to CONTACT")
        ids = [a.to.text for a in associations]
        missing = [i for i in ids if not (i.isdigit() and self.records.get(int(i)))]
        if missing:
            raise invalid_associations("CONTACT", missing)
        return [int(i) for i in ids]

    def write_new(self, values: dict[str, str], contact_ids: Sequence[int],
                  source: ChangeSource | None, changes: list[Change]) -> Deal:
        """Store a new deal (inside a transaction) and note its creation."""
        values = {"pipeline": DEFAULT_PIPELINE, **values}
        now = self.now_ms()
        deal = self.deals.create(values, now)
        for contact_id in contact_ids:
            self.deals.associate(deal.id, contact_id, now)
        changes.append(Change("deal", deal.id, now, source or self._api_source, created=True,
                              properties=dict(deal.properties)))
        return deal

    def write_update(self, deal: Deal, values: dict[str, str],
                     source: ChangeSource | None, changes: list[Change]) -> Deal:
        """Apply values to a deal (inside a transaction) and note what changed."""
        updated = self.deals.update(deal, values, self.now_ms())
        changed = changed_values(deal.properties, updated.properties)
        if changed:
            changes.append(Change("deal", deal.id, updated.updated_at,
                                  source or self._api_source, properties=changed))
        return updated

    def publish(self, changes: list[Change]) -> None:
        """Tell the listener about committed changes."""
        if changes:
            self._notify(changes)

    def get(self, deal_id: str, id_property: str | None, names: Sequence[str],
            associations: Sequence[str] = ()) -> dict[str, Any]:
        """``GET /crm/v3/objects/deals/{id}``, with associated contacts when asked for."""
        deal = self.find(deal_id, id_property)
        answer = render(deal, names)
        if any(kind in ("contacts", "contact", "0-1") for kind in associations):
            answer["associations"] = {"contacts": {"results": [
                {"id": str(c), "type": "deal_to_contact"}
                for c in self.deals.contacts_of(deal.id)]}}
        return answer

    def create(self, raw: dict[str, str], associations: Sequence[AssociationInput] = (),
               source: ChangeSource | None = None) -> dict[str, Any]:
        """``POST /crm/v3/objects/deals``: 409 when the unique deal key is taken."""
        values = self.checked(raw)
        changes: list[Change] = []
        with self.records.transaction():
            contact_ids = self.contact_ids(associations)
            self.refuse_taken_key(values, None)
            deal = self.write_new(values, contact_ids, source, changes)
        self.publish(changes)
        return render_all(deal)

    def update(self, deal_id: str, id_property: str | None, raw: dict[str, str],
               source: ChangeSource | None = None) -> dict[str, Any]:
        """``PATCH /crm/v3/objects/deals/{id}``."""
        values = self.checked(raw)
        changes: list[Change] = []
        with self.records.transaction():
            deal = self.find(deal_id, id_property)
            self.refuse_taken_key(values, deal.id)
            deal = self.write_update(deal, values, source, changes)
        self.publish(changes)
        return render_all(deal)

    def list_page(self, limit: int, after: str | None, names: Sequence[str],
                  base_url: str) -> dict[str, Any]:
        """``GET /crm/v3/objects/deals``: a page in id order with an ``after`` cursor."""
        limit = max(1, min(limit, MAX_LIST_LIMIT))
        after_id = int(after) if after and after.isdigit() else 0
        page = self.deals.page(after_id, limit + 1)
        answer: dict[str, Any] = {"results": [render(d, names) for d in page[:limit]]}
        if len(page) > limit:
            cursor = str(page[limit - 1].id)
            answer["paging"] = {"next": {
                "after": cursor, "link": f"{base_url}/crm/v3/objects/deals?after={cursor}"}}
        return answer
