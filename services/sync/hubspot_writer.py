"""Writes contacts and deals to HubSpot in batches, within its rate limits (synchronous SDK).

Every call goes through ``_call``: it waits for the rate limiter, bounds the call with the
configured timeout, reads the raw answer (the SDK's models drop ``correlationId`` and cannot
read a 207 from the v4 association API) and tells the limiter what the headers said.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import hubspot
import structlog
import urllib3
from hubspot.crm.associations.v4 import ApiException as AssociationsApiException
from hubspot.crm.associations.v4 import (
    BatchInputPublicDefaultAssociationMultiPost,
    PublicDefaultAssociationMultiPost,
    PublicObjectId,
)
from hubspot.crm.contacts import ApiException as ContactsApiException
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInputUpsert,
    SimplePublicObjectBatchInputUpsert,
)
from hubspot.crm.deals import ApiException as DealsApiException
from hubspot.crm.owners import ApiException as OwnersApiException
from hubspot.crm.properties import ApiException as PropertiesApiException
from urllib3.util.retry import Retry

from services.mapping.crm_mapping import HubSpotContactMapping
from services.sync.crm_errors import CrmLimitReached, RejectedByCrmError, TransientCrmError
from services.sync.crm_writes import BatchOutcome, RecordRejected, RecordToWrite
from services.sync.hubspot_batches import (
    Answer,
    Round,
    as_text,
    association_reading,
    merged,
    outcome,
    read_answer,
    rejection,
    settle,
    upsert_reading,
)
from services.sync.hubspot_mapping_check import (
    HubSpotMappingMismatchError,
    check_hubspot_contact_mapping,
)
from services.sync.hubspot_owners import OwnerDirectory
from services.sync.hubspot_rate_limit import SECONDLY_INTERVAL_SECONDS, HubSpotRateLimiter
from services.sync.settings import SyncSettings

log = structlog.get_logger(__name__)
BATCH_SIZE = 100  # HubSpot's most inputs per batch call
DEAL_KEY_PROPERTY = "accord_deal_key"
_OWNERS_PAGE = 100  # owners per page listed
# Each SDK package has its own ApiException class.
_API_ERRORS = (ContactsApiException, DealsApiException, AssociationsApiException,
               PropertiesApiException, OwnersApiException)
# Answers that refuse records, not the call: settle them record by record.
_RECORD_LEVEL = frozenset({400, 409, 413, 422})
_NOT_FOUND = frozenset({400, 404})
# A 429 for the rolling window is waited out this many times before giving up for now.
_MAX_THROTTLED_WAITS = 6
# Retry only a failed connect (the request was not sent); never a POST that may have landed,
# nor a Retry-After sleep that would escape the limiter.
_RETRY = Retry(total=1, connect=1, read=0, status=0, other=0, redirect=0,
               respect_retry_after_header=False)


@dataclass(frozen=True)
class DealToWrite:
    """A deal to upsert by ``key`` (its ``accord_deal_key``), associated with one contact
    named by ``contact_id`` or ``contact_email``; ``properties`` such as amount, dealstage,
    dealname, closedate (dates and datetimes are sent as epoch milliseconds)."""

    key: str
    properties: Mapping[str, Any] = field(default_factory=dict)
    contact_email: str | None = None
    contact_id: str | None = None

    def __post_init__(self) -> None:
        if (self.contact_email is None) == (self.contact_id is None):
            raise ValueError(f"deal {self.key}: give exactly one of contact_email, contact_id")


def _json(raw: Any) -> Mapping[str, Any]:
    try:
        body = json.loads(raw or b"{}")
    except (TypeError, ValueError):
        return {}
    return body if isinstance(body, Mapping) else {}


def _email(key: str) -> str:
    return key.strip().lower()


class HubSpotWriter:
    """Upserts contacts and deals in batches, resolves owners, checks the mapping; safe to
    share between threads (the limiter and the SDK's connection pool are)."""

    def __init__(self, settings: SyncSettings, limiter: HubSpotRateLimiter | None = None) -> None:
        self._timeout = settings.crm_timeout_seconds
        self._source = str(settings.mapping_file)
        self.limiter = limiter or HubSpotRateLimiter(settings.hubspot_rate_share)
        client = hubspot.Client.create(
            access_token=settings.hubspot_access_token.get_secret_value(),
            host=settings.hubspot_base_url.rstrip("/"), retry=_RETRY)
        crm = client.crm
        # Each access to an SDK api attribute builds a new API client and pool: keep one each.
        self._contacts = crm.contacts.batch_api
        self._contact_reads = crm.contacts.basic_api
        self._deals = crm.deals.batch_api
        self._associations = crm.associations.v4.batch_api
        self._properties = crm.properties.core_api
        owners = crm.owners.owners_api
        self.owners = OwnerDirectory(
            lambda after: self._call(owners.get_page_with_http_info, frozenset(),
                                     limit=_OWNERS_PAGE, **({"after": after} if after else {})
                                     ).body,
            lambda email: self._call(owners.get_page_with_http_info, frozenset(),
                                     email=email).body)

    def _call(self, operation: Callable[..., Any], answered: frozenset[int],
              **params: Any) -> Answer:
        """One API call within the limits: 2xx or a status in ``answered`` is returned;
        429s are waited out (or raise CrmLimitReached); anything else is TransientCrmError
        (5xx, timeouts, and 401/403: a credentials problem must not dead-letter data)."""
        waits = 0
        while True:
            self.limiter.acquire()
            headers: Mapping[str, str] | None = None
            try:
                response = operation(**params, _request_timeout=self._timeout,
                                     _preload_content=False)
                headers = response.headers
                return Answer(int(response.status), _json(response.data))
            except _API_ERRORS as exc:
                headers = exc.headers
                status, body = int(exc.status or 0), _json(exc.body)
            except urllib3.exceptions.HTTPError as exc:
                raise TransientCrmError(f"HubSpot unreachable: {exc}") from exc
            finally:
                self.limiter.completed(headers)
            if status in answered:
                return Answer(status, body)
            if status != 429:
                raise TransientCrmError(f"HubSpot {status} {body.get('category', '')}: "
                                        f"{str(body.get('message', ''))[:300]}")
            policy = str(body.get("policyName", ""))
            if policy == "DAILY":
                raise self.limiter.daily_limit_reached()
            waits += 1
            if waits > _MAX_THROTTLED_WAITS:
                raise CrmLimitReached("HubSpot", f"still refused ({policy}) after {waits - 1} "
                                      "waits for the window", 10.0)
            log.warning("hubspot.throttled", policy=policy, wait=waits)
            self.limiter.pause(SECONDLY_INTERVAL_SECONDS if policy == "SECONDLY" else None)

    def check_mapping(self, mapping: HubSpotContactMapping) -> None:
        """Raise HubSpotMappingMismatchError if the mapping names contact properties or
        options the portal lacks (``GET /crm/v3/properties/contacts``)."""
        problems = check_hubspot_contact_mapping(mapping, self.properties("contacts"),
                                                 self._source)
        if problems:
            raise HubSpotMappingMismatchError(problems)

    def properties(self, object_type: str) -> list[Mapping[str, Any]]:
        """The property definitions of ``object_type`` (``GET /crm/v3/properties/...``)."""
        answer = self._call(self._properties.get_all_with_http_info, frozenset(),
                            object_type=object_type)
        return [p for p in answer.body.get("results") or () if isinstance(p, Mapping)]

    def owner_id(self, email: str) -> str:
        """The id of the HubSpot owner with this email (owners listed once, then cached)."""
        return self.owners.owner_id(email)

    def _upsert(self, api: Any, id_property: str, normalise: Callable[[str], str],
                values: Mapping[str, Mapping[str, str]],
                ) -> tuple[dict[str, str], list[RecordRejected]]:
        """Batch upsert ``values`` (key -> properties), 100 a call, each record settled."""
        def send(keys: Sequence[str]) -> Round:
            batch = BatchInputSimplePublicObjectBatchInputUpsert(inputs=[
                SimplePublicObjectBatchInputUpsert(id_property=id_property, id=key,
                                                   properties=dict(values[key]),
                                                   object_write_trace_id=str(index))
                for index, key in enumerate(keys)])
            answer = self._call(api.upsert_with_http_info, _RECORD_LEVEL,
                                batch_input_simple_public_object_batch_input_upsert=batch)
            if len(keys) > 1 and answer.status >= 300:
                log.info("hubspot.batch_refused", status=answer.status, size=len(keys))
            return read_answer(answer, upsert_reading(keys, id_property, normalise), keys)

        written: dict[str, str] = {}
        rejected: list[RecordRejected] = []
        keys = list(values)
        for start in range(0, len(keys), BATCH_SIZE):
            more_written, more_rejected = settle(keys[start:start + BATCH_SIZE], send)
            written.update(more_written)
            rejected += more_rejected
        return written, rejected

    def upsert_contacts(self, id_property: str, records: Sequence[RecordToWrite]) -> BatchOutcome:
        """Create or update contacts by ``id_property`` (email); ``written`` maps each key to
        the contact id. A transient failure or CrmLimitReached part-way leaves the batches
        before it written: upserts are idempotent, so retrying the whole call is safe."""
        normalise = _email if id_property == "email" else str.strip
        values, canonical = merged(records, normalise)
        written, rejected = self._upsert(self._contacts, id_property, normalise, values)
        return outcome(canonical, written, rejected)

    def upsert_contact(self, id_property: str, key: str, properties: Mapping[str, Any]) -> str:
        """Upsert one contact and return its id; RejectedByCrmError if HubSpot refuses it."""
        result = self.upsert_contacts(id_property, [RecordToWrite(key, properties)])
        for refusal in result.rejected:
            raise RejectedByCrmError("HubSpot", refusal.code, refusal.message)
        return result.written[key]

    def _contact_ids(self, emails: set[str]) -> tuple[dict[str, str], dict[str, RecordRejected]]:
        """Contact ids by email, one read each (the sandbox has no contact batch read)."""
        found: dict[str, str] = {}
        missing: dict[str, RecordRejected] = {}
        for email in sorted(emails):
            answer = self._call(self._contact_reads.get_by_id_with_http_info, _NOT_FOUND,
                                contact_id=email, id_property="email", properties=["email"])
            if answer.status < 300 and answer.body.get("id"):
                found[email] = str(answer.body["id"])
            else:
                missing[email] = rejection("", {**answer.body, "errors": [{
                    "message": f"no HubSpot contact has the email {email}"}]}, None)
        return found, missing

    def _associate(self, pairs: Mapping[str, tuple[str, str]],
                   ) -> tuple[dict[str, str], list[RecordRejected]]:
        """Associate each deal with its contact (v4 default association; idempotent)."""
        def send(keys: Sequence[str]) -> Round:
            batch = BatchInputPublicDefaultAssociationMultiPost(inputs=[
                PublicDefaultAssociationMultiPost(_from=PublicObjectId(id=pairs[k][0]),
                                                  to=PublicObjectId(id=pairs[k][1]))
                for k in keys])
            answer = self._call(self._associations.create_default_with_http_info,
                                _RECORD_LEVEL, from_object_type="deals",
                                to_object_type="contacts",
                                batch_input_public_default_association_multi_post=batch)
            return read_answer(answer, association_reading({k: pairs[k] for k in keys}), keys)

        associated: dict[str, str] = {}
        rejected: list[RecordRejected] = []
        keys = list(pairs)
        for start in range(0, len(keys), BATCH_SIZE):
            more_written, more_rejected = settle(keys[start:start + BATCH_SIZE], send)
            associated.update(more_written)
            rejected += [replace(r, message=f"deal {pairs[r.key][0]} was written but not "
                                 f"associated with contact {pairs[r.key][1]}: {r.message}")
                         for r in more_rejected]
        return associated, rejected

    def upsert_deals(self, records: Sequence[DealToWrite]) -> BatchOutcome:
        """Create or update deals by ``accord_deal_key`` and associate each with its contact;
        ``written`` maps each key to the deal id once the deal is written and associated."""
        deals = {d.key.strip(): d for d in records}  # later records of a key win
        canonical = {d.key: d.key.strip() for d in records}
        found, missing = self._contact_ids(
            {_email(d.contact_email) for d in deals.values() if d.contact_email})
        contact_of: dict[str, str] = {}
        rejected: list[RecordRejected] = []
        for key, deal in deals.items():
            contact = deal.contact_id or found.get(_email(deal.contact_email or ""))
            if contact is None:
                rejected.append(replace(missing[_email(deal.contact_email or "")], key=key))
            else:
                contact_of[key] = contact
        values = {k: {n: as_text(v) for n, v in deals[k].properties.items()} for k in contact_of}
        written, refused = self._upsert(self._deals, DEAL_KEY_PROPERTY, str.strip, values)
        associated, unlinked = self._associate(
            {k: (deal_id, contact_of[k]) for k, deal_id in written.items()})
        return outcome(canonical, associated, [*rejected, *refused, *unlinked])
