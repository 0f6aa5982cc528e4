"""Writes Leads to Salesforce in batches: sObject Collections upsert by External ID.

A synchronous adapter (simple-salesforce is synchronous; the worker runs it off the event
loop). Per record it answers written (with the Salesforce id) or rejected (with Salesforce's
own error code); for the whole batch it raises :class:`TransientCrmError` (retry later) or
:class:`CrmLimitReached` (Accord's share of the daily API allowance is used; park the work).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from simple_salesforce.format import format_soql
from tenacity import RetryError, Retrying, retry_if_result, stop_after_attempt
from tenacity import wait_exponential_jitter as backoff

from services.mapping.crm_mapping import SalesforceLeadMapping
from services.sync.api_allowance import ApiAllowance
from services.sync.crm_errors import RejectedByCrmError, TransientCrmError
from services.sync.crm_writes import BatchOutcome, RecordRejected, RecordToWrite
from services.sync.mapping_check import MappingMismatchError, check_salesforce_lead_mapping
from services.sync.salesforce_session import SalesforceError, SalesforceRefused, SalesforceSession
from services.sync.settings import SyncSettings

log = structlog.get_logger(__name__)

CHUNK_SIZE = 200  # the most records one sObject Collections call takes
# UNABLE_TO_LOCK_ROW usually clears within a second or two (another transaction holds the
# record, or its parent Account): retry just those records a few times before giving the
# whole batch back to the worker's slower backoff.
LOCK_ATTEMPTS = 4
_LOCK_WAIT = backoff(initial=0.2, max=2.0, jitter=0.3)
_KEYS_PER_QUERY = 50  # external ids per SOQL IN (...): keeps the query URL well below 16 kB
_LOCKED = "UNABLE_TO_LOCK_ROW"
_CONVERTED = "CANNOT_UPDATE_CONVERTED_LEAD"


@dataclasses.dataclass
class _Results:
    """What one batch has come to so far, by the key sent to Salesforce."""

    written: dict[str, str] = dataclasses.field(default_factory=dict)
    rejected: dict[str, RecordRejected] = dataclasses.field(default_factory=dict)
    converted: list[RecordToWrite] = dataclasses.field(default_factory=list)

    def reject(self, key: str, errors: Sequence[SalesforceError]) -> None:
        # Salesforce may list several errors for one record: keep the first's code, all text.
        self.rejected[key] = RecordRejected(
            key=key, crm="salesforce", code=errors[0].code,
            message="; ".join(e.message for e in errors),
            fields=tuple(dict.fromkeys(f for e in errors for f in e.fields)))


class SalesforceWriter:
    """Upserts Leads by External ID, 200 per call, and resolves owners; thread-safe.

    ``allowance`` may be shared by several writers of one org; by default each writer keeps
    its own, at ``settings.salesforce_allowance_share``.
    """

    def __init__(self, settings: SyncSettings, allowance: ApiAllowance | None = None) -> None:
        self._settings = settings
        self._allowance = allowance or ApiAllowance(
            settings.salesforce_allowance_share,
            probe_seconds=settings.salesforce_limit_probe_seconds)
        self._api = SalesforceSession(settings, self._allowance)
        self._lock = threading.Lock()  # guards the caches below; calls are the session's
        self._owner_ids: dict[str, str] = {}
        self._contact_fields: dict[str, str] | None = None  # lower-case -> updateable name

    def check_mapping(self, mapping: SalesforceLeadMapping) -> None:
        """Check at start-up that ``mapping`` fits the org's Lead (fields, External ID,
        active status values); raise :class:`MappingMismatchError` listing every misfit."""
        lead = self._api.call("GET", "sobjects/Lead/describe/")
        problems = check_salesforce_lead_mapping(mapping, lead,
                                                 source=str(self._settings.mapping_file))
        self._updateable_contact_fields()  # describe Contact now, not at the first conversion
        if problems:
            raise MappingMismatchError(problems)

    def picklist_values(self, sobject: str, field: str) -> list[str]:
        """The active values of a picklist field (from a describe), e.g. Lead Status."""
        describe = self._api.call("GET", f"sobjects/{sobject}/describe/")
        return [str(v["value"]) for f in describe["fields"] if f["name"].lower() == field.lower()
                for v in f.get("picklistValues") or () if v.get("active")]

    def owner_id(self, email: str) -> str:
        """The id of the active User with this email (cached)."""
        with self._lock:
            cached = self._owner_ids.get(email)
        if cached is not None:
            return cached
        soql = format_soql("SELECT Id FROM User WHERE Email = {} AND IsActive = true", email)
        users = self._query(soql)
        if not users:
            raise RejectedByCrmError("Salesforce", "UNKNOWN_OWNER",
                                     f"no active Salesforce user has the email {email}")
        with self._lock:
            self._owner_ids[email] = str(users[0]["Id"])
            return self._owner_ids[email]

    def upsert_leads(self, external_id_field: str,
                     records: Sequence[RecordToWrite]) -> BatchOutcome:
        """Create or update the Leads whose ``external_id_field`` holds each record's key.

        Keys are External ID values, which Salesforce compares case-insensitively; of records
        with the same key only the last is sent (it carries the latest state) and all of
        them answer as it did. A converted Lead's fields go to its converted Contact.
        """
        if not records:
            return BatchOutcome()
        latest = {r.key.casefold(): r for r in records}
        unique = list(latest.values())
        chunks = [unique[i:i + CHUNK_SIZE] for i in range(0, len(unique), CHUNK_SIZE)]
        # Refuse up front what the share left cannot finish, rather than write part of the
        # batch now and all of it again when the worker retries later.
        self._allowance.check(len(chunks))
        results = _Results()
        for chunk in chunks:
            self._upsert_chunk(external_id_field, chunk, results)
        written: dict[str, str] = {}
        rejected: dict[str, RecordRejected] = {}
        for record in records:
            sent = latest[record.key.casefold()].key
            if sent in results.written:
                written[record.key] = results.written[sent]
            else:
                rejected[record.key] = dataclasses.replace(results.rejected[sent],
                                                           key=record.key)
        return BatchOutcome(written=written, rejected=tuple(rejected.values()))

    def upsert_lead(self, external_id_field: str, external_id: str,
                    fields: Mapping[str, Any]) -> str:
        """One Lead, as a batch of one; its Salesforce id. Raises :class:`RejectedByCrmError`
        if Salesforce refuses it (for callers that write one record at a time)."""
        outcome = self.upsert_leads(external_id_field, [RecordToWrite(external_id, fields)])
        for refused in outcome.rejected:
            raise RejectedByCrmError("Salesforce", refused.code, refused.message)
        return outcome.written[external_id]

    def _upsert_chunk(self, field: str, chunk: list[RecordToWrite], results: _Results) -> None:
        pending = chunk

        def attempt() -> list[RecordToWrite]:
            nonlocal pending
            pending = self._send_chunk(field, pending, results)
            return pending  # the records still locked: retried while any are left

        retrying = Retrying(
            stop=stop_after_attempt(LOCK_ATTEMPTS), wait=_LOCK_WAIT, retry=retry_if_result(bool),
            before_sleep=lambda state: log.info("salesforce.rows_locked", locked=len(pending),
                                                attempt=state.attempt_number))
        try:
            retrying(attempt)
        except RetryError:
            raise TransientCrmError(f"Salesforce kept {len(pending)} Lead(s) locked "
                                    f"({_LOCKED}) through {LOCK_ATTEMPTS} attempts") from None
        if results.converted:
            converted, results.converted = results.converted, []
            self._write_converted(field, converted, results)

    def _send_chunk(self, field: str, records: list[RecordToWrite],
                    results: _Results) -> list[RecordToWrite]:
        body = {"allOrNone": False, "records": [
            {"attributes": {"type": "Lead"}, **r.fields, field: r.key} for r in records]}
        try:
            answer = self._api.call("PATCH", f"composite/sobjects/Lead/{field}", json=body)
        except SalesforceRefused as exc:
            # The request as a whole was refused (an unknown field or External ID, no access):
            # that is the mapping's or the org's fault, not any record's. check_mapping catches
            # it at start; retrying keeps every record until an operator fixes it.
            raise TransientCrmError(f"Salesforce refused the Lead upsert: {exc}") from exc
        if not isinstance(answer, list) or len(answer) != len(records):
            raise TransientCrmError("Salesforce answered the Lead upsert with no result per "
                                    "record")
        locked: list[RecordToWrite] = []
        for record, result in zip(records, answer, strict=True):
            if result.get("success"):
                results.written[record.key] = str(result["id"])
                continue
            errors = [SalesforceError.parse(e) for e in result.get("errors") or [{}]]
            codes = {e.code for e in errors}
            if _LOCKED in codes:
                locked.append(record)
            elif _CONVERTED in codes:
                results.converted.append(record)
            else:
                results.reject(record.key, errors)
        return locked

    def _write_converted(self, field: str, records: list[RecordToWrite],
                         results: _Results) -> None:
        """Write converted Leads' fields to their converted Contacts, once: the Lead is not
        tried again, so a Contact's refusal is final and nothing can loop."""
        contact_fields = self._updateable_contact_fields()
        contact_ids = self._converted_contact_ids(field, [r.key for r in records])
        log.info("salesforce.converted_leads", count=len(records), found=len(contact_ids))
        for record in records:
            contact_id = contact_ids.get(record.key.casefold())
            if contact_id is None:
                results.reject(record.key, [SalesforceError(
                    _CONVERTED, "the Lead is converted and has no converted Contact")])
                continue
            # Only what the Contact has too (Email, names, owner, Accord's fields...): Lead-only
            # fields such as Company or Status stay behind, as in a conversion.
            values = {contact_fields[name.lower()]: value
                      for name, value in record.fields.items() if name.lower() in contact_fields}
            try:
                if values:
                    self._api.call("PATCH", f"sobjects/Contact/{contact_id}", json=values)
            except SalesforceRefused as exc:
                results.reject(record.key, [exc.error])
                continue
            results.written[record.key] = contact_id

    def _converted_contact_ids(self, field: str, keys: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for i in range(0, len(keys), _KEYS_PER_QUERY):
            soql = format_soql(
                "SELECT {:literal}, ConvertedContactId FROM Lead "
                "WHERE IsConverted = true AND {:literal} IN {}",
                field, field, keys[i:i + _KEYS_PER_QUERY])
            for lead in self._query(soql):
                # Answers name fields as the org spells them, maybe not as the mapping does.
                key = next(v for k, v in lead.items() if k.lower() == field.lower())
                if lead.get("ConvertedContactId") and key:
                    found[str(key).casefold()] = str(lead["ConvertedContactId"])
        return found

    def _updateable_contact_fields(self) -> dict[str, str]:
        with self._lock:
            if self._contact_fields is not None:
                return self._contact_fields
        describe = self._api.call("GET", "sobjects/Contact/describe/")
        fields = {str(f["name"]).lower(): str(f["name"])
                  for f in describe["fields"] if f.get("updateable")}
        with self._lock:
            self._contact_fields = fields
        return fields

    def _query(self, soql: str) -> list[dict[str, Any]]:
        try:
            answer = self._api.call("GET", "query/", params={"q": soql})
        except SalesforceRefused as exc:
            # Accord's own queries: a refusal is a bug or a missing permission, not the data's.
            raise TransientCrmError(f"Salesforce refused a query: {exc}") from exc
        records: list[dict[str, Any]] = answer["records"]
        return records
