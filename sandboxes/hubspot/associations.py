"""Associations v4 between deals and contacts: default (unlabelled) ones, made and read."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

from sandboxes.hubspot.contacts import iso
from sandboxes.hubspot.deal_properties import DEAL_OBJECT_TYPES
from sandboxes.hubspot.deal_store import DealStore
from sandboxes.hubspot.deals import CONTACT_TO_DEAL, DEAL_TO_CONTACT
from sandboxes.hubspot.errors import invalid_associations, too_many_inputs, validation_error
from sandboxes.hubspot.payloads import AssociationInput, AssociationPair
from sandboxes.hubspot.properties import CONTACT_OBJECT_TYPES
from sandboxes.hubspot.store import ContactStore

Kind = Literal["contact", "deal"]
MAX_BATCH_INPUTS = 100
MAX_PAGE = 500
_TYPE_IDS: dict[tuple[Kind, Kind], int] = {
    ("deal", "contact"): DEAL_TO_CONTACT, ("contact", "deal"): CONTACT_TO_DEAL}


def kind_of(object_type: str) -> Kind:
    """``contact`` or ``deal`` for a path's object type (plural, singular or type id)."""
    name = object_type.lower()
    if name in CONTACT_OBJECT_TYPES:
        return "contact"
    if name in DEAL_OBJECT_TYPES:
        return "deal"
    raise validation_error(f"Unable to infer object type from: {object_type}")


def _spec(from_kind: Kind, to_kind: Kind) -> dict[str, Any]:
    return {"associationCategory": "HUBSPOT_DEFINED",
            "associationTypeId": _TYPE_IDS[(from_kind, to_kind)]}


class AssociationService:
    """Default deal-contact associations, stored once and readable from either side."""

    def __init__(self, records: ContactStore, deals: DealStore,
                 clock: Callable[[], float] = time.time) -> None:
        self._records = records
        self._deals = deals
        self._clock = clock

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def _pair(self, from_type: str, to_type: str) -> tuple[Kind, Kind]:
        pair = (kind_of(from_type), kind_of(to_type))
        if pair not in _TYPE_IDS:
            raise validation_error(
                f"There is no default association type from {pair[0]} to {pair[1]}")
        return pair

    def _exists(self, kind: Kind, object_id: str) -> bool:
        if not object_id.isdigit():
            return False
        found = (self._records.get(int(object_id)) if kind == "contact"
                 else self._deals.get(int(object_id)))
        return found is not None

    def _store(self, kinds: tuple[Kind, Kind], from_id: str, to_id: str,
               ) -> list[dict[str, Any]]:
        deal_id, contact_id = (from_id, to_id) if kinds[0] == "deal" else (to_id, from_id)
        self._deals.associate(int(deal_id), int(contact_id), self._now_ms())
        return [
            {"from": {"id": from_id}, "to": {"id": to_id}, "associationSpec": _spec(*kinds)},
            {"from": {"id": to_id}, "to": {"id": from_id},
             "associationSpec": _spec(kinds[1], kinds[0])},
        ]

    def _answer(self, started: int, results: list[dict[str, Any]]) -> dict[str, Any]:
        return {"status": "COMPLETE", "results": results, "startedAt": iso(started),
                "completedAt": iso(self._now_ms())}

    def associate_default(self, from_type: str, from_id: str, to_type: str,
                          to_id: str) -> dict[str, Any]:
        """``PUT /crm/v4/objects/{from}/{id}/associations/default/{to}/{toId}``."""
        started = self._now_ms()
        kinds = self._pair(from_type, to_type)
        with self._records.transaction():
            for kind, object_id in zip(kinds, (from_id, to_id), strict=True):
                if not self._exists(kind, object_id):
                    raise invalid_associations(kind.upper(), [object_id])
            results = self._store(kinds, from_id, to_id)
        return self._answer(started, results)

    def associate_default_batch(self, from_type: str, to_type: str,
                                inputs: Sequence[AssociationPair]) -> tuple[int, dict[str, Any]]:
        """``POST /crm/v4/associations/{from}/{to}/batch/associate/default``.

        Valid pairs are associated; each invalid one becomes an ``errors`` element of a 207.
        """
        started = self._now_ms()
        kinds = self._pair(from_type, to_type)
        if len(inputs) > MAX_BATCH_INPUTS:
            raise too_many_inputs(MAX_BATCH_INPUTS)
        results: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        with self._records.transaction():
            for pair in inputs:
                ids = (pair.from_.text, pair.to.text)
                bad = [(k, i) for k, i in zip(kinds, ids, strict=True) if not self._exists(k, i)]
                if bad:
                    error = invalid_associations(bad[0][0].upper(), [i for _, i in bad])
                    errors.append({"status": "error", "category": error.category,
                                   "message": error.message, "context": error.context})
                    continue
                results += self._store(kinds, *ids)
        answer = self._answer(started, results)
        if errors:
            answer.update(numErrors=len(errors), errors=errors)
        return (207 if errors else 200), answer

    def deals_for_new_contact(self, associations: Sequence[AssociationInput]) -> list[int]:
        """The deals a contact create body associates the contact with; 400 if any is invalid."""
        for association in associations:
            for kind in association.types:
                if (kind.association_category, kind.association_type_id) != (
                        "HUBSPOT_DEFINED", CONTACT_TO_DEAL):
                    raise validation_error(
                        f"{kind.association_category} association type "
                        f"{kind.association_type_id} is not valid from CONTACT to DEAL")
        ids = [a.to.text for a in associations]
        missing = [i for i in ids if not self._exists("deal", i)]
        if missing:
            raise invalid_associations("DEAL", missing)
        return [int(i) for i in ids]

    def link_contact(self, contact_id: int, deal_ids: Sequence[int]) -> None:
        """Associate a contact with deals (checked by ``deals_for_new_contact``)."""
        if deal_ids:
            with self._records.transaction():
                for deal_id in deal_ids:
                    self._deals.associate(deal_id, contact_id, self._now_ms())

    def deals_of_contact(self, contact_id: str) -> dict[str, Any]:
        """The ``associations`` member of a contact read with ``associations=deals``."""
        ids = self._deals.deals_of(int(contact_id)) if contact_id.isdigit() else []
        return {"deals": {"results": [{"id": str(i), "type": "contact_to_deal"} for i in ids]}}

    def list_associated(self, object_type: str, object_id: str, to_type: str, limit: int,
                        after: str | None) -> dict[str, Any]:
        """``GET /crm/v4/objects/{type}/{id}/associations/{toType}``: pages of ``toObjectId``."""
        kinds = self._pair(object_type, to_type)
        ids: list[int] = []
        if object_id.isdigit():
            ids = (self._deals.contacts_of(int(object_id)) if kinds[0] == "deal"
                   else self._deals.deals_of(int(object_id)))
        start = int(after) if after and after.isdigit() else 0
        limit = max(1, min(limit, MAX_PAGE))
        type_id = _TYPE_IDS[kinds]
        answer: dict[str, Any] = {"results": [
            {"toObjectId": to_id, "associationTypes": [
                {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}]}
            for to_id in ids[start:start + limit]]}
        if start + limit < len(ids):
            answer["paging"] = {"next": {"after": str(start + limit)}}
        return answer
