"""One authenticated, metered connection to a Salesforce org's REST API.

Owns what every call shares: the OAuth token (client credentials or JWT bearer), the
simple-salesforce client built on it, the ``Sforce-Call-Options`` header, the timeout, the
API allowance, and the translation of HTTP failures into sync's error kinds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
import structlog
from simple_salesforce.api import Salesforce

from services.sync.api_allowance import ApiAllowance
from services.sync.crm_errors import CrmLimitReached, TransientCrmError
from services.sync.salesforce_token_request import token_request
from services.sync.settings import SyncSettings

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class SalesforceError:
    """One entry of a Salesforce error answer (``errorCode``/``statusCode``, message, fields)."""

    code: str
    message: str
    fields: tuple[str, ...] = ()

    @classmethod
    def parse(cls, entry: Any) -> SalesforceError:
        """An error from a REST error entry or an UpsertResult's ``errors`` entry."""
        if not isinstance(entry, Mapping):
            return cls("UNKNOWN_ERROR", str(entry)[:500])
        code = entry.get("errorCode") or entry.get("statusCode") or "UNKNOWN_ERROR"
        return cls(str(code), str(entry.get("message", "")),
                   tuple(str(f) for f in entry.get("fields") or ()))


class SalesforceRefused(Exception):
    """The org refused the call itself with a 4xx other than session, lock and limit
    errors; whether that is the record's fault or ours is for the caller to decide."""

    def __init__(self, status: int, error: SalesforceError) -> None:
        super().__init__(f"Salesforce answered {status} {error.code}: {error.message}")
        self.status = status
        self.error = error


def http_session(settings: SyncSettings) -> requests.Session:
    """A requests session that trusts the configured CA and ignores the environment's.

    ``trust_env=False``: REQUESTS_CA_BUNDLE in the environment would otherwise override
    ``verify`` for every request (see shared pitfalls).
    """
    session = requests.Session()
    session.trust_env = False
    if settings.salesforce_ca_bundle is not None:
        session.verify = str(settings.salesforce_ca_bundle)
    return session


def _first_error(answer: requests.Response) -> SalesforceError:
    try:
        body = answer.json()
    except ValueError:
        return SalesforceError("UNKNOWN_ERROR", answer.text[:500])
    return SalesforceError.parse(body[0] if isinstance(body, list) and body else body)


class SalesforceSession:
    """Makes REST calls under ``/services/data/vXX.X/``; safe to share between threads.

    One call at a time: requests does not promise a Session is thread-safe, and checking the
    allowance, sending and reading the answer's count together keeps two threads from both
    spending the last call of the share.
    """

    def __init__(self, settings: SyncSettings, allowance: ApiAllowance) -> None:
        self._settings = settings
        self._allowance = allowance
        self._http = http_session(settings)
        self._client: Salesforce | None = None
        self._lock = threading.Lock()
        self._call_options = f"client={settings.salesforce_client_name}"

    def call(self, method: str, path: str, *, json: Any = None,
             params: Mapping[str, str] | None = None) -> Any:
        """The JSON answer of ``method path`` (None for 204), ``path`` being relative to the
        versioned base URL (e.g. ``query/``).

        Raises :class:`CrmLimitReached` before a call past Accord's share (or when Salesforce
        says REQUEST_LIMIT_EXCEEDED), :class:`TransientCrmError` for 5xx, UNABLE_TO_LOCK_ROW,
        timeouts and connection errors, and :class:`SalesforceRefused` for other 4xx. An
        expired session is renewed and the call made again, once.
        """
        with self._lock:
            for attempt in (1, 2):
                answer = self._send(method, path, json, params)
                if answer.status_code == 401 and attempt == 1:
                    if _first_error(answer).code == "INVALID_SESSION_ID":
                        log.info("salesforce.session_renewed")
                        self._client = None  # log in again, then send the call again
                        continue
                return self._result(answer)
        raise AssertionError("unreachable")

    def _send(self, method: str, path: str, json: Any,
              params: Mapping[str, str] | None) -> requests.Response:
        self._allowance.take()
        client = self._client = self._client or self._login()
        headers = {**client.headers, "Sforce-Call-Options": self._call_options}
        headers.pop("X-PrettyPrint", None)  # pretty 200-record answers only cost bytes
        try:
            answer = self._http.request(method, client.base_url + path, headers=headers,
                                        json=json, params=params,
                                        timeout=self._settings.crm_timeout_seconds)
        except requests.RequestException as exc:
            raise TransientCrmError(f"Salesforce unreachable: {type(exc).__name__}") from exc
        # Every answer carries the org's count, also errors: the allowance stays current.
        self._allowance.observe(answer.headers.get("Sforce-Limit-Info"))
        return answer

    def _result(self, answer: requests.Response) -> Any:
        status = answer.status_code
        if status == 204:
            return None
        if status < 300:
            try:
                return answer.json()
            except ValueError as exc:
                raise TransientCrmError(f"Salesforce answered {status} without JSON") from exc
        if status >= 500:
            error = _first_error(answer)
            raise TransientCrmError(f"Salesforce answered {status} {error.code}: "
                                    f"{error.message[:300]}")
        error = _first_error(answer)
        if error.code == "REQUEST_LIMIT_EXCEEDED":
            # Try again once the count is stale: Salesforce counts over a rolling 24 hours,
            # and the limit may be raised meanwhile.
            raise CrmLimitReached("salesforce", f"the org's daily API limit is used ({status} "
                                  f"{error.code}: {error.message[:300]})",
                                  self._allowance.seconds_until_probe())
        if error.code in ("UNABLE_TO_LOCK_ROW", "INVALID_SESSION_ID"):
            # A lock held by another transaction, or a session that expired again at once.
            raise TransientCrmError(f"Salesforce answered {status} {error.code}: "
                                    f"{error.message[:300]}")
        raise SalesforceRefused(status, error)

    def _login(self) -> Salesforce:
        # OAuth 2.0 client credentials or JWT bearer; simple-salesforce's own login helpers
        # only know *.salesforce.com hosts, so the token is fetched here from the configured
        # URL.
        settings = self._settings
        try:
            answer = self._http.post(settings.salesforce_token_url,
                                     data=token_request(settings, time.time()),
                                     timeout=settings.crm_timeout_seconds)
        except requests.RequestException as exc:
            raise TransientCrmError(
                f"Salesforce token endpoint unreachable: {type(exc).__name__}") from exc
        if answer.status_code != 200:
            # Also for refused credentials: that is configuration, never the data's fault,
            # so nothing is dead-lettered for it.
            raise TransientCrmError(f"Salesforce token endpoint answered {answer.status_code}: "
                                    f"{answer.text[:300]}")
        token = answer.json()
        return Salesforce(instance_url=token["instance_url"], session_id=token["access_token"],
                          session=self._http, version=settings.salesforce_api_version)
