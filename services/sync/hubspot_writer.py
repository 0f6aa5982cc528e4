"""Writes contacts to HubSpot with hubspot-api-client: a thin adapter (synchronous SDK)."""

from __future__ import annotations

import json
import threading
from typing import Any

import hubspot
import urllib3
from hubspot.crm.contacts import (
    ApiException,
    BatchInputSimplePublicObjectBatchInputUpsert,
    SimplePublicObjectBatchInputUpsert,
)
from hubspot.crm.owners import ApiException as OwnersApiException

from services.sync.crm_errors import RejectedByCrmError, TransientCrmError
from services.sync.settings import SyncSettings

_RETRYABLE_STATUS = {401, 408, 423, 429}


def _classify(exc: ApiException | OwnersApiException) -> Exception:
    status = int(exc.status or 0)
    try:
        body = json.loads(exc.body or "{}")
    except json.JSONDecodeError:
        body = {}
    category = str(body.get("category", "UNKNOWN"))
    message = str(body.get("message", exc.reason))[:500]
    # 401 is a credentials problem, not the record's: retry instead of dead-lettering data.
    if status >= 500 or status in _RETRYABLE_STATUS or status == 0:
        return TransientCrmError(f"HubSpot {status} {category}: {message}")
    return RejectedByCrmError("HubSpot", category, message)


class HubSpotWriter:
    """Upserts contacts by email and resolves owners by email."""

    def __init__(self, settings: SyncSettings) -> None:
        self._timeout = settings.crm_timeout_seconds
        client = hubspot.Client.create(
            access_token=settings.hubspot_access_token.get_secret_value(),
            host=settings.hubspot_base_url.rstrip("/"),
        )
        # Each access to client.crm.contacts.batch_api builds a new API client and pool.
        self._batch_api = client.crm.contacts.batch_api
        self._owners_api = client.crm.owners.owners_api
        self._owner_ids: dict[str, str] = {}
        self._lock = threading.Lock()

    def _call(self, operation: Any) -> Any:
        with self._lock:
            try:
                return operation()
            except (ApiException, OwnersApiException) as exc:
                raise _classify(exc) from exc
            except urllib3.exceptions.HTTPError as exc:
                raise TransientCrmError(f"HubSpot unreachable: {exc}") from exc

    def owner_id(self, email: str) -> str:
        """The id of the HubSpot owner with this email (cached)."""
        if email not in self._owner_ids:
            page = self._call(lambda: self._owners_api.get_page(
                email=email, _request_timeout=self._timeout))
            if not page.results:
                raise RejectedByCrmError("HubSpot", "UNKNOWN_OWNER",
                                         f"no HubSpot owner has the email {email}")
            self._owner_ids[email] = str(page.results[0].id)
        return self._owner_ids[email]

    def upsert_contacts(self, id_property: str,
                        contacts: list[tuple[str, dict[str, str]]]) -> None:
        """Create or update contacts by ``id_property`` (email): one batch call, <= 100."""
        batch = BatchInputSimplePublicObjectBatchInputUpsert(inputs=[
            SimplePublicObjectBatchInputUpsert(id_property=id_property, id=key, properties=props)
            for key, props in contacts
        ])
        self._call(lambda: self._batch_api.upsert(
            batch_input_simple_public_object_batch_input_upsert=batch,
            _request_timeout=self._timeout))
