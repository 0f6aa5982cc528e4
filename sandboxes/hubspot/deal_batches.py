"""Deal batch endpoints: ``/crm/v3/objects/deals/batch/{read,create,update,upsert}``.

Every input is checked before any is written, so a refused batch changes nothing. Ids that
name no deal are reported HubSpot's way: a 207 answer with the found records in
``results`` and one ``OBJECT_NOT_FOUND`` element in ``errors``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sandboxes.hubspot.changes import Change
from sandboxes.hubspot.contacts import iso
from sandboxes.hubspot.deal_properties import DEAL_KEY, DEAL_OBJECT_TYPE_ID
from sandboxes.hubspot.deal_store import Deal
from sandboxes.hubspot.deals import DealService, render, render_all
from sandboxes.hubspot.errors import (
    ApiError,
    PropertyProblem,
    invalid_properties,
    missing_objects,
    non_unique_id_property,
    too_many_inputs,
)
from sandboxes.hubspot.payloads import (
    BatchReadInput,
    ObjectInput,
    UpsertInput,
    texts,
)

MAX_BATCH_INPUTS = 100
Answer = tuple[int, dict[str, Any]]


def _refuse_oversized(inputs: Sequence[object]) -> None:
    if len(inputs) > MAX_BATCH_INPUTS:
        raise too_many_inputs(MAX_BATCH_INPUTS)


def _refuse_duplicates(ids: Sequence[str]) -> None:
    seen: set[str] = set()
    duplicates: list[str] = []
    for item_id in ids:
        if item_id in seen and item_id not in duplicates:
            duplicates.append(item_id)
        seen.add(item_id)
    if duplicates:
        raise ApiError(400, "VALIDATION_ERROR",
                       f"Duplicate IDs found in batch input: [{', '.join(duplicates)}]. "
                       "IDs must be unique", context={"ids": duplicates})


def _with_trace(answer: dict[str, Any], trace_id: str | None) -> dict[str, Any]:
    if trace_id is not None:
        answer["objectWriteTraceId"] = trace_id
    return answer


class DealBatches:
    """The batch endpoints, over the single-deal service's checks and writes."""

    def __init__(self, service: DealService) -> None:
        self._service = service

    def _envelope(self, started: int, results: list[dict[str, Any]],
                  missing: list[str]) -> Answer:
        answer: dict[str, Any] = {"status": "COMPLETE", "results": results}
        if missing:
            answer["numErrors"] = 1
            answer["errors"] = [missing_objects("DEAL", missing)]
        answer["startedAt"] = iso(started)
        answer["completedAt"] = iso(self._service.now_ms())
        return (207 if missing else 200), answer

    def _checked_all(self, raws: Sequence[dict[str, str]]) -> list[dict[str, str]]:
        problems: list[PropertyProblem] = []
        for raw in raws:
            problems += self._service.problems_of(raw)
        if problems:
            raise invalid_properties(problems, self._service.portal_id)
        return [self._service.checked(raw) for raw in raws]

    def read(self, request: BatchReadInput) -> Answer:
        """``batch/read``: the deals found, and a 207 naming the ids that were not."""
        started = self._service.now_ms()
        _refuse_oversized(request.inputs)
        found: list[Deal] = []
        missing: list[str] = []
        for item in request.inputs:
            deal = self._service.find_or_none(item.text, request.id_property)
            if deal is None:
                missing.append(item.text)
            else:
                found.append(deal)
        return self._envelope(started, [render(d, request.properties) for d in found], missing)

    def create(self, inputs: Sequence[ObjectInput]) -> Answer:
        """``batch/create``: 201 with every new deal, or nothing written."""
        started = self._service.now_ms()
        _refuse_oversized(inputs)
        planned = self._checked_all([texts(item.properties) for item in inputs])
        _refuse_duplicates([v[DEAL_KEY] for v in planned if v.get(DEAL_KEY)])
        changes: list[Change] = []
        results = []
        with self._service.records.transaction():
            for item, values in zip(inputs, planned, strict=True):
                contact_ids = self._service.contact_ids(item.associations)
                self._service.refuse_taken_key(values, None)
                deal = self._service.write_new(values, contact_ids, None, changes)
                results.append(_with_trace(render_all(deal), item.object_write_trace_id))
        self._service.publish(changes)
        _, answer = self._envelope(started, results, [])
        return 201, answer

    def update(self, inputs: Sequence[UpsertInput]) -> Answer:
        """``batch/update``: the deals found are changed; a 207 names the others."""
        started = self._service.now_ms()
        _refuse_oversized(inputs)
        _refuse_duplicates([item.id for item in inputs])
        planned = self._checked_all([texts(item.properties) for item in inputs])
        changes: list[Change] = []
        results: list[dict[str, Any]] = []
        missing: list[str] = []
        with self._service.records.transaction():
            for item, values in zip(inputs, planned, strict=True):
                deal = self._service.find_or_none(item.id, item.id_property)
                if deal is None:
                    missing.append(item.id)
                    continue
                self._service.refuse_taken_key(values, deal.id)
                deal = self._service.write_update(deal, values, None, changes)
                results.append(_with_trace(render_all(deal), item.object_write_trace_id))
        self._service.publish(changes)
        return self._envelope(started, results, missing)

    def upsert(self, inputs: Sequence[UpsertInput]) -> Answer:
        """``batch/upsert`` by the unique ``accord_deal_key``: create or update each deal."""
        started = self._service.now_ms()
        _refuse_oversized(inputs)
        for item in inputs:
            if item.id_property != DEAL_KEY:
                raise non_unique_id_property(DEAL_OBJECT_TYPE_ID,
                                             item.id_property or "hs_object_id",
                                             self._service.portal_id)
        _refuse_duplicates([item.id for item in inputs])
        planned = self._checked_all(
            [{**texts(item.properties), DEAL_KEY: item.id} for item in inputs])
        changes: list[Change] = []
        results = []
        with self._service.records.transaction():
            for item, values in zip(inputs, planned, strict=True):
                existing = self._service.deals.find_by_key(values[DEAL_KEY])
                if existing is None:
                    deal = self._service.write_new(values, (), None, changes)
                else:
                    deal = self._service.write_update(existing, values, None, changes)
                answer = {**render_all(deal), "new": existing is None}
                results.append(_with_trace(answer, item.object_write_trace_id))
        self._service.publish(changes)
        return self._envelope(started, results, [])
