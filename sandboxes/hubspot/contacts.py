"""Contact operations of the CRM v3 objects API: read, create, update, upsert, list, search."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sandboxes.hubspot import search
from sandboxes.hubspot.changes import (
    Change,
    ChangeListener,
    ChangeSource,
    changed_values,
    ignore_changes,
)
from sandboxes.hubspot.errors import (
    ApiError,
    PropertyProblem,
    contact_conflict,
    invalid_properties,
    non_unique_id_property,
    object_not_found,
    too_many_inputs,
    validation_error,
)
from sandboxes.hubspot.owners import Owner
from sandboxes.hubspot.payloads import SearchInput, UpsertInput, as_text, texts
from sandboxes.hubspot.properties import (
    CONTACT_PROPERTY_MAP,
    DEFAULT_PROPERTIES,
    SYSTEM_PROPERTIES,
    normalise_values,
    property_types,
    validate_values,
)
from sandboxes.hubspot.store import Contact, ContactStore

MAX_BATCH_INPUTS = 100
MAX_LIST_LIMIT = 100
MAX_SEARCH_LIMIT = 200
MAX_SEARCH_RESULTS = 10_000


def iso(epoch_ms: int) -> str:
    """A timestamp as HubSpot writes it: ISO 8601, milliseconds, UTC ``Z``."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def requested_names(raw: Iterable[str] | None) -> list[str]:
    """Property names from repeated and comma-separated ``properties`` parameters."""
    return [name.strip() for item in raw or () for name in item.split(",") if name.strip()]


def values_of(contact: Contact) -> dict[str, str]:
    """Every property value of a contact, the computed system properties included."""
    return {
        **contact.properties,
        "createdate": iso(contact.created_at),
        "lastmodifieddate": iso(contact.updated_at),
        "hs_object_id": str(contact.id),
    }


def render(contact: Contact, names: Sequence[str] | None) -> dict[str, Any]:
    """A contact as the API returns it, with the named properties (null when unset)."""
    values = values_of(contact)
    # Like HubSpot, names of properties that do not exist are left out rather than refused.
    wanted = [n for n in names if n in CONTACT_PROPERTY_MAP] if names else list(DEFAULT_PROPERTIES)
    wanted += [name for name in SYSTEM_PROPERTIES if name not in wanted]
    return {
        "id": str(contact.id),
        "properties": {name: values.get(name) for name in wanted},
        "createdAt": iso(contact.created_at),
        "updatedAt": iso(contact.updated_at),
        "archived": contact.archived,
    }


class ContactService:
    """The contact endpoints' behaviour over one store and one portal's owners."""

    def __init__(self, store: ContactStore, owners: Sequence[Owner], portal_id: int,
                 clock: Callable[[], float] = time.time, *,
                 api_source: ChangeSource | None = None,
                 notify: ChangeListener = ignore_changes) -> None:
        self._store = store
        self._owners = owners
        self._portal_id = portal_id
        self._clock = clock
        # Changes made through the API are the private app's; others name their source.
        self._api_source = api_source or ChangeSource.integration(0)
        self._notify = notify

    def _created(self, contact: Contact, source: ChangeSource | None) -> Change:
        return Change("contact", contact.id, contact.created_at, source or self._api_source,
                      created=True, properties=dict(contact.properties))

    def _updated(self, before: Contact, after: Contact,
                 source: ChangeSource | None) -> list[Change]:
        changed = changed_values(before.properties, after.properties)
        return [Change("contact", after.id, after.updated_at, source or self._api_source,
                       properties=changed)] if changed else []

    def _publish(self, changes: list[Change]) -> None:
        if changes:
            self._notify(changes)

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def _checked(self, values: dict[str, str]) -> dict[str, str]:
        problems = validate_values(values, self._owners)
        if problems:
            raise invalid_properties(problems, self._portal_id)
        return normalise_values(values)

    def find(self, contact_id: str, id_property: str | None) -> Contact:
        """The contact a path id names, by record id or by email; 404 if there is none."""
        if id_property in (None, "", "hs_object_id"):
            contact = self._store.get(int(contact_id)) if contact_id.isdigit() else None
        elif id_property == "email":
            contact = self._store.find_by_email(contact_id)
        else:
            raise non_unique_id_property("0-1", id_property, self._portal_id)
        if contact is None:
            raise object_not_found(contact_id if id_property in (None, "") else None)
        return contact

    def _refuse_taken_email(self, values: dict[str, str], contact: Contact) -> None:
        holder = self._store.find_by_email(values["email"]) if values.get("email") else None
        if holder is not None and holder.id != contact.id:
            raise contact_conflict(holder.id)

    def get(self, contact_id: str, id_property: str | None,
            names: Sequence[str]) -> dict[str, Any]:
        """``GET /crm/v3/objects/contacts/{id}``."""
        return render(self.find(contact_id, id_property), names)

    def create(self, raw: dict[str, str], source: ChangeSource | None = None) -> dict[str, Any]:
        """``POST /crm/v3/objects/contacts``: 409 when the email is taken."""
        values = self._checked(raw)
        with self._store.transaction():
            existing = self._store.find_by_email(values["email"]) if values.get("email") else None
            if existing is not None:
                raise contact_conflict(existing.id)
            contact = self._store.create(values, self._now_ms())
        self._publish([self._created(contact, source)])
        return render(contact, list(values_of(contact)))

    def update(self, contact_id: str, id_property: str | None, raw: dict[str, str],
               source: ChangeSource | None = None) -> dict[str, Any]:
        """``PATCH /crm/v3/objects/contacts/{id}``: 409 when the new email is another's."""
        values = self._checked(raw)
        with self._store.transaction():
            before = self.find(contact_id, id_property)
            self._refuse_taken_email(values, before)
            contact = self._store.update(before, values, self._now_ms())
        self._publish(self._updated(before, contact, source))
        return render(contact, list(values_of(contact)))

    def list_page(self, limit: int, after: str | None, names: Sequence[str],
                  base_url: str) -> dict[str, Any]:
        """``GET /crm/v3/objects/contacts``: a page in id order with an ``after`` cursor."""
        limit = max(1, min(limit, MAX_LIST_LIMIT))
        after_id = int(after) if after and after.isdigit() else 0
        page = self._store.page(after_id, limit + 1)
        answer: dict[str, Any] = {"results": [render(c, names) for c in page[:limit]]}
        if len(page) > limit:
            cursor = str(page[limit - 1].id)
            answer["paging"] = {"next": {
                "after": cursor, "link": f"{base_url}/crm/v3/objects/contacts?after={cursor}"}}
        return answer

    def upsert_batch(self, inputs: Sequence[UpsertInput]) -> dict[str, Any]:
        """``POST .../batch/upsert``: every input is checked before any of them is written."""
        started = self._now_ms()
        if len(inputs) > MAX_BATCH_INPUTS:
            raise too_many_inputs(MAX_BATCH_INPUTS)
        _refuse_duplicates(inputs)
        problems: list[PropertyProblem] = []
        planned: list[tuple[UpsertInput, dict[str, str]]] = []
        for item in inputs:
            values = texts(item.properties)
            if item.id_property == "email":
                # The id is the email; property validation then checks its format.
                values["email"] = item.id.strip()
            elif item.id_property not in (None, "", "hs_object_id"):
                raise non_unique_id_property("0-1", item.id_property, self._portal_id)
            problems += validate_values(values, self._owners)
            planned.append((item, values))
        if problems:
            raise invalid_properties(problems, self._portal_id)
        results = []
        changes: list[Change] = []
        with self._store.transaction():
            for item, values in planned:
                results.append(self._upsert_one(item, normalise_values(values), changes))
        self._publish(changes)
        return {"status": "COMPLETE", "results": results,
                "startedAt": iso(started), "completedAt": iso(self._now_ms())}

    def _upsert_one(self, item: UpsertInput, values: dict[str, str],
                    changes: list[Change]) -> dict[str, Any]:
        now = self._now_ms()
        if item.id_property == "email":
            existing = self._store.find_by_email(item.id)
        else:
            existing = self.find(item.id, item.id_property)
        if existing is None:
            contact, new = self._store.create(values, now), True
            changes.append(self._created(contact, None))
        else:
            self._refuse_taken_email(values, existing)
            contact, new = self._store.update(existing, values, now), False
            changes += self._updated(existing, contact, None)
        answer = render(contact, list(values_of(contact)))
        answer["new"] = new
        if item.object_write_trace_id is not None:
            answer["objectWriteTraceId"] = item.object_write_trace_id
        return answer

    def search(self, request: SearchInput) -> dict[str, Any]:
        """``POST /crm/v3/objects/contacts/search``."""
        criteria = _criteria(request)
        types = property_types()
        if request.after and not request.after.isdigit():
            raise validation_error(f"Invalid after value {request.after}")
        offset = int(request.after or 0)
        if not 0 < request.limit <= MAX_SEARCH_LIMIT:
            raise validation_error(f"limit must be between 1 and {MAX_SEARCH_LIMIT}")
        if offset + request.limit > MAX_SEARCH_RESULTS:
            raise validation_error(
                f"Search can page through at most {MAX_SEARCH_RESULTS} results")
        try:
            search.check(criteria, types)
        except search.SearchError as error:
            raise validation_error(str(error)) from error
        selected = [(values_of(c), c) for c in self._store.all_active()]
        selected = [pair for pair in selected if search.matches(pair[0], criteria, types)]
        order = search.ordered(selected, criteria.sorts, types, lambda pair: pair[0])
        page = order[offset:offset + request.limit]
        answer: dict[str, Any] = {
            "total": len(selected),
            "results": [render(contact, request.properties) for _, contact in page],
        }
        if offset + request.limit < len(selected):
            answer["paging"] = {"next": {"after": str(offset + request.limit)}}
        return answer


def _criteria(request: SearchInput) -> search.Criteria:
    try:
        sorts = tuple(search.parse_sort(raw) for raw in request.sorts)
    except search.SearchError as error:
        raise validation_error(str(error)) from error
    groups = tuple(
        tuple(
            search.Filter(
                property_name=f.property_name,
                operator=f.operator,
                value=None if f.value is None else as_text(f.value),
                values=tuple(as_text(v) for v in f.values),
                high_value=None if f.high_value is None else as_text(f.high_value),
            )
            for f in group.filters
        )
        for group in request.filter_groups
    )
    return search.Criteria(groups=groups, query=request.query, sorts=sorts)


def _refuse_duplicates(inputs: Sequence[UpsertInput]) -> None:
    seen: set[str] = set()
    duplicates: list[str] = []
    for item in inputs:
        key = item.id.strip().lower() if item.id_property == "email" else item.id
        if key in seen and key not in duplicates:
            duplicates.append(key)
        seen.add(key)
    if duplicates:
        raise ApiError(400, "VALIDATION_ERROR",
                       f"Duplicate IDs found in batch input: [{', '.join(duplicates)}]. "
                       "IDs must be unique", context={"ids": duplicates})
