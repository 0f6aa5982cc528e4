"""Record operations of the REST API: get, create, update, upsert, delete and query."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sandboxes.salesforce import ids
from sandboxes.salesforce.errors import (
    ApiError,
    bad_external_id_field,
    entity_deleted,
    not_found,
)
from sandboxes.salesforce.field_values import checked_values
from sandboxes.salesforce.metadata import (
    INTEGRATION_USER_ID,
    OPPORTUNITY_STAGES,
    SObjectDef,
    sobject,
)
from sandboxes.salesforce.soql import parse
from sandboxes.salesforce.soql_eval import BoundQuery, Record, bind, run
from sandboxes.salesforce.store import Store

Clock = Callable[[], datetime]
# Told about every record saved (created or updated), inside the saving transaction.
SaveListener = Callable[[SObjectDef, dict[str, Any]], None]
_STAGES = {stage: (probability, closed, won) for stage, probability, closed, won
           in OPPORTUNITY_STAGES}


def salesforce_datetime(moment: datetime) -> str:
    """``moment`` in Salesforce's JSON form, e.g. ``2026-11-23T09:30:00.000+0000``."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


class Records:
    """The records of the org, checked and written as Salesforce would, on behalf of one user."""

    def __init__(self, store: Store, clock: Clock = lambda: datetime.now(UTC),
                 user_id: str = INTEGRATION_USER_ID,
                 on_save: SaveListener | None = None) -> None:
        self._store = store
        self._clock = clock
        self._user_id = user_id
        self._on_save = on_save

    def as_user(self, user_id: str) -> Records:
        """The same records, written on behalf of ``user_id`` (stamped LastModifiedById)."""
        return Records(self._store, self._clock, user_id, self._on_save)

    @property
    def store(self) -> Store:
        """Where the records are kept."""
        return self._store

    def get(self, target: SObjectDef, record_id: str) -> dict[str, Any]:
        """The record of type ``target`` with ``record_id``, every field present."""
        return self._full(target, self._live(target, record_id))

    def get_by_external_id(self, target: SObjectDef, field_name: str,
                           value: str) -> dict[str, Any]:
        """The record whose External ID ``field_name`` equals ``value`` (any case)."""
        field = self.external_id_field(target, field_name)
        record_id = self._store.find_unique(target.name, field, value)
        if record_id is None:
            raise not_found()
        return self.get(target, record_id)

    def create(self, target: SObjectDef, body: Mapping[str, Any]) -> str:
        """Insert a record from ``body``; its new id."""
        with self._store.transaction():
            return self._insert(target, body)

    def update(self, target: SObjectDef, record_id: str, body: Mapping[str, Any]) -> None:
        """Apply ``body`` to the record with ``record_id``."""
        with self._store.transaction():
            self._update(target, self._live(target, record_id), body)

    def insert_in_transaction(self, target: SObjectDef, body: Mapping[str, Any]) -> str:
        """``create`` inside an open transaction."""
        return self._insert(target, body)

    def update_in_transaction(self, target: SObjectDef, record_id: str,
                              body: Mapping[str, Any]) -> None:
        """``update`` inside an open transaction."""
        self._update(target, self._live(target, record_id), body)

    def set_system_fields(self, target: SObjectDef, record_id: str,
                          values: Mapping[str, Any]) -> None:
        """Inside a transaction: set fields only the platform writes (as lead conversion)."""
        record = self._live(target, record_id)
        record.update(values, **self._stamp(created=False))
        self._derive(target, record, values)
        self._save(target, record)

    def upsert(self, target: SObjectDef, field_name: str, value: str,
               body: Mapping[str, Any]) -> tuple[str, bool]:
        """Update the record whose External ID matches ``value``, else create it.

        Returns the record id and whether it was created.
        """
        field = self.external_id_field(target, field_name)
        given = next((v for k, v in body.items() if k.lower() == field.lower()), None)
        if given is not None and str(given).casefold() != value.casefold():
            raise ApiError(400, "INVALID_FIELD",
                           f"The value of {field} in the request body ({given}) does not match "
                           f"the external ID in the URL ({value})", [field])
        with self._store.transaction():
            return self.upsert_in_transaction(target, field, value, body)

    def upsert_in_transaction(self, target: SObjectDef, field: str, value: str,
                              body: Mapping[str, Any]) -> tuple[str, bool]:
        """``upsert`` by the External ID ``field`` (its API name) inside an open transaction."""
        fields = {k: v for k, v in body.items() if k.lower() != field.lower()}
        record_id = self._store.find_unique(target.name, field, value)
        if record_id is None:
            return self._insert(target, {**fields, field: value}), True
        self._update(target, self._live(target, record_id), fields)
        return record_id, False

    def delete(self, target: SObjectDef, record_id: str) -> None:
        """Move the record with ``record_id`` to the recycle bin."""
        self._writable(target)
        with self._store.transaction():
            record = self._live(target, record_id)
            record.update(self._stamp(created=False), IsDeleted=True)
            self._store.save(target.name, record)
            self._store.index_unique(target.name, record["Id"],
                                     {f.name: None for f in target.fields if f.unique})

    def delete_by_external_id(self, target: SObjectDef, field_name: str, value: str) -> None:
        """Delete the record whose External ID ``field_name`` equals ``value``."""
        record_id = self._store.find_unique(target.name,
                                            self.external_id_field(target, field_name), value)
        if record_id is None:
            raise not_found()
        self.delete(target, record_id)

    def query(self, soql: str,
              include_deleted: bool = False) -> tuple[BoundQuery, int, list[Record]]:
        """Run a SOQL query: the bound query, its totalSize and the matching records."""
        bound = bind(parse(soql))
        total, matching = run(bound, self._store.records(bound.sobject.name, include_deleted))
        return bound, total, matching

    def _live(self, target: SObjectDef, record_id: str) -> dict[str, Any]:
        if not ids.is_well_formed(record_id) or record_id[:3] != target.key_prefix:
            # Salesforce reads a segment that is no id of this type as an external id field.
            raise bad_external_id_field(record_id)
        stored = self._store.get(record_id)
        if stored is None or stored.sobject != target.name:
            raise not_found()
        if stored.is_deleted:
            raise entity_deleted()
        return stored.data

    def _insert(self, target: SObjectDef, body: Mapping[str, Any]) -> str:
        self._writable(target)
        values = checked_values(target, body, creating=True)
        self._check_references(target, values)
        self._check_unique(target, values, None)
        record_id = self._store.next_id(target.key_prefix)
        record = {"Id": record_id, "IsDeleted": False, **values, **self._stamp(created=True)}
        self._derive(target, record, values)
        self._save(target, record)
        self._store.index_unique(target.name, record_id,
                                 {f.name: record.get(f.name) for f in target.fields if f.unique})
        return record_id

    def _update(self, target: SObjectDef, record: dict[str, Any],
                body: Mapping[str, Any]) -> None:
        self._writable(target)
        if record.get("IsConverted"):
            raise ApiError(400, "CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead",
                           [])
        values = checked_values(target, body, creating=False)
        self._check_references(target, values)
        self._check_unique(target, values, record["Id"])
        record.update(values, **self._stamp(created=False))
        self._derive(target, record, values)
        self._save(target, record)
        self._store.index_unique(target.name, record["Id"],
                                 {f.name: record.get(f.name) for f in target.fields
                                  if f.unique and f.name in values})

    def _save(self, target: SObjectDef, record: dict[str, Any]) -> None:
        self._store.save(target.name, record)
        if self._on_save is not None:
            self._on_save(target, record)

    def external_id_field(self, target: SObjectDef, field_name: str) -> str:
        """The API name of ``target``'s External ID field ``field_name``; else NOT_FOUND."""
        field = target.field(field_name)
        if field is None or not field.external_id:
            raise bad_external_id_field(field_name)
        return field.name

    def _writable(self, target: SObjectDef) -> None:
        if not target.writable:
            raise ApiError(400, "INSUFFICIENT_ACCESS_OR_READONLY",
                           "insufficient access rights on object id", [])

    def _check_references(self, target: SObjectDef, values: Mapping[str, Any]) -> None:
        for name, value in values.items():
            field = target.field(name)
            if field is None or field.type != "reference" or value is None:
                continue
            stored = self._store.get(value)
            if stored is None or stored.is_deleted:
                raise ApiError(400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id",
                               [field.name])
            if stored.sobject == "User" and not stored.data.get("IsActive", True):
                raise ApiError(400, "INACTIVE_OWNER_OR_USER",
                               f"operation performed with inactive user [{value}] as owner "
                               f"of {target.name.lower()}", [])

    def _check_unique(self, target: SObjectDef, values: Mapping[str, Any],
                      own_id: str | None) -> None:
        for field in target.fields:
            value = values.get(field.name)
            if not field.unique or value is None:
                continue
            holder = self._store.find_unique(target.name, field.name, value)
            if holder is not None and holder != own_id:
                raise ApiError(400, "DUPLICATE_VALUE",
                               f"duplicate value found: {field.name} duplicates value on "
                               f"record with id: {holder}", [field.name])

    def _stamp(self, created: bool) -> dict[str, Any]:
        now = salesforce_datetime(self._clock())
        stamp = {"LastModifiedDate": now, "LastModifiedById": self._user_id,
                 "SystemModstamp": now}
        if created:
            stamp.update(CreatedDate=now, CreatedById=self._user_id)
        return stamp

    @staticmethod
    def _derive(target: SObjectDef, record: dict[str, Any], values: Mapping[str, Any]) -> None:
        for field in target.fields:
            if field.default is not None and not field.createable:
                record.setdefault(field.name, field.default)
        if target.has_compound_name:
            parts = (record.get("FirstName"), record.get("LastName"))
            record["Name"] = " ".join(p for p in parts if p)
        stage = _STAGES.get(record.get("StageName") or "")
        if target.name == "Opportunity" and stage is not None:
            probability, record["IsClosed"], record["IsWon"] = stage
            # A new stage brings its default probability unless the same save sets one.
            if "StageName" in values and "Probability" not in values:
                record["Probability"] = probability

    @staticmethod
    def _full(target: SObjectDef, record: Mapping[str, Any]) -> dict[str, Any]:
        return {f.name: record.get(f.name) for f in target.fields}


def sobject_or_404(name: str) -> SObjectDef:
    """The sObject called ``name``, or the NOT_FOUND error of an unknown resource."""
    target = sobject(name)
    if target is None:
        raise not_found()
    return target
