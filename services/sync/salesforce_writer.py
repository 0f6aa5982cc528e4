"""Writes Leads to Salesforce with simple-salesforce: a thin adapter (synchronous SDK)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceRefusedRequest,
)
from simple_salesforce.format import format_soql

from services.sync.crm_errors import RejectedByCrmError, TransientCrmError
from services.sync.settings import SyncSettings


class _TimeoutAdapter(HTTPAdapter):
    """simple-salesforce passes no timeout to requests; give every call one."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    def send(self, request: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._timeout
        return super().send(request, **kwargs)


def salesforce_session(settings: SyncSettings) -> requests.Session:
    """A requests session that trusts the configured CA and ignores the environment's.

    ``trust_env=False``: REQUESTS_CA_BUNDLE in the environment would otherwise override
    ``verify`` for every request (see shared pitfalls).
    """
    session = requests.Session()
    session.trust_env = False
    if settings.salesforce_ca_bundle is not None:
        session.verify = str(settings.salesforce_ca_bundle)
    adapter = _TimeoutAdapter(settings.crm_timeout_seconds)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _error_code(exc: SalesforceError) -> tuple[str, str]:
    content = exc.content
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return str(content[0].get("errorCode", "UNKNOWN")), str(content[0].get("message", ""))
    return "UNKNOWN", json.dumps(content)[:500]


class SalesforceWriter:
    """Upserts Leads by external id and resolves owners; re-authenticates when needed."""

    def __init__(self, settings: SyncSettings) -> None:
        self._settings = settings
        self._session = salesforce_session(settings)
        self._client: Salesforce | None = None
        self._owner_ids: dict[str, str] = {}
        self._lock = threading.Lock()

    def _login(self) -> Salesforce:
        # The OAuth 2.0 client-credentials flow; simple-salesforce's own login helpers only
        # know *.salesforce.com hosts, so the token is fetched here from the configured URL.
        try:
            answer = self._session.post(self._settings.salesforce_token_url, data={
                "grant_type": "client_credentials",
                "client_id": self._settings.salesforce_client_id,
                "client_secret": self._settings.salesforce_client_secret.get_secret_value(),
            })
        except requests.RequestException as exc:
            raise TransientCrmError(f"Salesforce token endpoint unreachable: {exc}") from exc
        if answer.status_code >= 500:
            raise TransientCrmError(f"Salesforce token endpoint answered {answer.status_code}")
        if answer.status_code != 200:
            raise TransientCrmError(  # credentials are config: do not dead-letter data for it
                f"Salesforce refused the client credentials: {answer.text[:300]}")
        token = answer.json()
        return Salesforce(instance_url=token["instance_url"], session_id=token["access_token"],
                          session=self._session, version=self._settings.salesforce_api_version)

    def _call(self, operation: Callable[[Salesforce], Any]) -> Any:
        with self._lock:
            for attempt in range(2):
                if self._client is None:
                    self._client = self._login()
                try:
                    return operation(self._client)
                except SalesforceExpiredSession:
                    self._client = None  # log in again, then retry once
                    if attempt == 1:
                        raise TransientCrmError("Salesforce session expired twice") from None
                except (SalesforceRefusedRequest, SalesforceGeneralError) as exc:
                    code, message = _error_code(exc)
                    raise TransientCrmError(f"Salesforce {code}: {message}") from exc
                except SalesforceError as exc:
                    code, message = _error_code(exc)
                    if code == "UNABLE_TO_LOCK_ROW":
                        raise TransientCrmError(f"Salesforce {code}: {message}") from exc
                    raise RejectedByCrmError("Salesforce", code, message) from exc
                except requests.RequestException as exc:
                    raise TransientCrmError(f"Salesforce unreachable: {exc}") from exc
        raise AssertionError("unreachable")

    def owner_id(self, email: str) -> str:
        """The id of the active User with this email (cached)."""
        if email not in self._owner_ids:
            soql = format_soql("SELECT Id FROM User WHERE Email = {} AND IsActive = true", email)
            result = self._call(lambda sf: sf.query(soql))
            if not result["records"]:
                raise RejectedByCrmError("Salesforce", "UNKNOWN_OWNER",
                                         f"no active Salesforce user has the email {email}")
            self._owner_ids[email] = result["records"][0]["Id"]
        return self._owner_ids[email]

    def upsert_lead(self, external_id_field: str, external_id: str,
                    fields: dict[str, Any]) -> int:
        """Create or update the Lead whose external id is ``external_id``; returns the status."""
        path = f"{external_id_field}/{external_id}"
        return int(self._call(lambda sf: sf.Lead.upsert(path, fields)))  # type: ignore[operator]
