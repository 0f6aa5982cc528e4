"""OAuth 2.0 tokens (client credentials, JWT bearer), their checking, and the daily API
call count."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sandboxes.salesforce import jwt_bearer
from sandboxes.salesforce.errors import ApiError, OAuthError, invalid_session
from sandboxes.salesforce.metadata import INTEGRATION_USER_ID
from sandboxes.salesforce.settings import SalesforceSandboxSettings
from sandboxes.salesforce.store import Store


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Sessions:
    """Issues access tokens to the configured client and checks the tokens it is shown."""

    def __init__(self, settings: SalesforceSandboxSettings, store: Store,
                 clock: Callable[[], float] = time.time) -> None:
        self._settings = settings
        self._store = store
        self._clock = clock
        certificate = settings.jwt_certificate_file
        self._jwt_key = jwt_bearer.public_key_of(certificate) if certificate else None

    def issue(self, form: Mapping[str, str], basic_auth: tuple[str, str] | None) -> dict[str, Any]:
        """Answer a token request (form fields, or client id and secret from Basic auth)."""
        grant_type = form.get("grant_type")
        if not grant_type:
            raise OAuthError("invalid_request", "grant type is missing")
        if grant_type == jwt_bearer.GRANT_TYPE:
            return self._issue_for_assertion(form.get("assertion", ""))
        if grant_type != "client_credentials":
            raise OAuthError("unsupported_grant_type", "grant type not supported")
        client_id, client_secret = basic_auth or (form.get("client_id", ""),
                                                  form.get("client_secret", ""))
        expected_secret = self._settings.client_secret.get_secret_value()
        if not hmac.compare_digest(client_id.encode(), self._settings.client_id.encode()):
            raise OAuthError("invalid_client_id", "client identifier invalid")
        if not hmac.compare_digest(client_secret.encode(), expected_secret.encode()):
            raise OAuthError("invalid_client", "invalid client credentials")
        issued_at = self._clock()
        token = self.new_token(INTEGRATION_USER_ID, issued_at)
        identity = (f"{self._settings.instance_url}/id/{self._settings.org_id}/"
                    f"{INTEGRATION_USER_ID}")
        issued_ms = str(int(issued_at * 1000))
        # As Salesforce does: HMAC-SHA256 of the identity URL and issue time, keyed by the secret.
        signature = hmac.new(expected_secret.encode(), (identity + issued_ms).encode(),
                             hashlib.sha256).digest()
        return {
            "access_token": token,
            "signature": base64.b64encode(signature).decode(),
            "scope": "api",
            "instance_url": self._settings.instance_url,
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued_ms,
        }

    def _issue_for_assertion(self, assertion: str) -> dict[str, Any]:
        settings = self._settings
        user_id = jwt_bearer.user_for_assertion(
            assertion, self._jwt_key, settings.client_id,
            (*jwt_bearer.LOGIN_AUDIENCES, settings.instance_url), self._store.records("User"),
            settings.jwt_preauthorized_usernames, self._clock())
        # The JWT bearer answer has no refresh token and, unlike client credentials', no
        # signature: the assertion already proved who asks.
        return {"access_token": self.new_token(user_id), "scope": "api",
                "instance_url": settings.instance_url, "token_type": "Bearer",
                "id": f"{settings.instance_url}/id/{settings.org_id}/{user_id}"}

    def new_token(self, user_id: str, issued_at: float | None = None) -> str:
        """A new access token for ``user_id``, remembered by its hash."""
        token = f"{self._settings.org_id[:15]}!{secrets.token_urlsafe(48)}"
        self._store.add_token(_token_hash(token), user_id,
                              self._clock() if issued_at is None else issued_at)
        return token

    def expire(self, token: str | None = None) -> int:
        """End one session (by its token) or every session; how many ended."""
        return self._store.delete_tokens(None if token is None else _token_hash(token))

    def user_for(self, authorization: str | None) -> str:
        """The user id behind an ``Authorization: Bearer`` header; INVALID_SESSION_ID if none."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() not in ("bearer", "oauth") or not token.strip():
            raise invalid_session()
        found = self._store.token(_token_hash(token.strip()))
        if found is None:
            raise invalid_session()
        user_id, issued_at = found
        if self._clock() - issued_at >= self._settings.session_seconds:
            raise invalid_session()
        return user_id


class ApiUsage:
    """Counts API calls per UTC day against the org's daily limit."""

    def __init__(self, store: Store, daily_limit: int,
                 clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._limit = daily_limit
        self._clock = clock

    def _today(self) -> str:
        return datetime.fromtimestamp(self._clock(), UTC).strftime("%Y-%m-%d")

    def count_call(self, client: str | None = None) -> None:
        """Count one call (also for ``client``, from Sforce-Call-Options), or refuse it with
        REQUEST_LIMIT_EXCEEDED once the limit is used."""
        day = self._today()
        if self._store.api_calls(day) >= self._limit:
            raise ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        self._store.count_api_call(day)
        if client:
            self._store.count_client_call(day, client)

    def by_client(self) -> dict[str, int]:
        """Today's calls by the client named in Sforce-Call-Options."""
        return self._store.client_calls(self._today())

    def used(self) -> int:
        """Calls counted today."""
        return self._store.api_calls(self._today())

    @property
    def limit(self) -> int:
        """The daily limit."""
        return self._limit

    @limit.setter
    def limit(self, value: int) -> None:
        self._limit = value

    def header(self) -> str:
        """The ``Sforce-Limit-Info`` value, e.g. ``api-usage=18/15000``."""
        return f"api-usage={self.used()}/{self._limit}"
