"""The OAuth 2.0 JWT bearer flow (RFC 7523) as Salesforce runs it for a connected app that
"uses digital signatures": the client signs a short-lived JWT with its private key, and the
org checks it against the certificate uploaded to the app.

The claims: ``iss`` the app's consumer key, ``sub`` the username of a pre-authorized user,
``aud`` the login host (``https://login.salesforce.com``, ``https://test.salesforce.com``, or
the sandbox's own URL), ``exp`` when the assertion expires. Refusals carry Salesforce's
``error`` and ``error_description``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509

from sandboxes.salesforce.errors import OAuthError

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
LOGIN_AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")


def public_key_of(certificate_file: Path) -> Any:
    """The public key of the connected app's certificate (PEM)."""
    return x509.load_pem_x509_certificate(certificate_file.read_bytes()).public_key()


def user_for_assertion(assertion: str, public_key: Any | None, client_id: str,
                       audiences: Iterable[str], users: Iterable[Mapping[str, Any]],
                       preauthorized: Iterable[str], now: float) -> str:
    """The id of the user a valid ``assertion`` names; OAuthError as Salesforce refuses it.

    ``public_key`` None: the app has no certificate, so no assertion can be verified.
    """
    if public_key is None or not assertion:
        raise OAuthError("invalid_grant", "invalid assertion")
    try:
        # The expiry is checked below against the sandbox's clock, not the machine's.
        claims: dict[str, Any] = jwt.decode(
            assertion, public_key, algorithms=["RS256"], audience=list(audiences),
            options={"require": ["exp", "aud"], "verify_exp": False})
    except jwt.InvalidAudienceError as exc:
        raise OAuthError("invalid_grant", "audience is invalid") from exc
    except jwt.InvalidTokenError as exc:
        raise OAuthError("invalid_grant", "invalid assertion") from exc
    if not isinstance(claims.get("exp"), int | float) or claims["exp"] <= now:
        # Salesforce's words for an assertion that expired before it arrived.
        raise OAuthError("invalid_grant", "expired authorization code")
    if claims.get("iss") != client_id:
        raise OAuthError("invalid_client_id", "client identifier invalid")
    username = str(claims.get("sub") or "").strip().lower()
    allowed = {name.strip().lower() for name in preauthorized}
    for user in users:
        if str(user.get("Username", "")).lower() == username and user.get("IsActive", True) \
                and username in allowed:
            return str(user["Id"])
    raise OAuthError("invalid_grant", "user hasn't approved this consumer")
