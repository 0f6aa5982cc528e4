"""What sync sends to Salesforce's OAuth token endpoint: the client credentials of the
connected app, or a JWT bearer assertion (RFC 7523) signed with the private key whose
certificate the connected app holds ("Use digital signatures").

JWT bearer is the flow Salesforce recommends for a server with no person at hand: no secret
travels, only a signed assertion that expires in three minutes, naming the integration user.
"""

from __future__ import annotations

import jwt

from services.sync.settings import SyncSettings

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# Salesforce wants an assertion's expiry within three minutes of its issue.
ASSERTION_SECONDS = 180


def jwt_assertion(client_id: str, username: str, audience: str, private_key_pem: str,
                  now: float) -> str:
    """A JWT signed (RS256) with ``private_key_pem``: ``iss`` the connected app's consumer
    key, ``sub`` the integration user's username, ``aud`` the login host."""
    claims = {"iss": client_id, "sub": username, "aud": audience,
              "exp": int(now) + ASSERTION_SECONDS}
    return jwt.encode(claims, private_key_pem, algorithm="RS256")


def token_request(settings: SyncSettings, now: float) -> dict[str, str]:
    """The form to post to ``salesforce_token_url`` for a new access token."""
    if settings.salesforce_auth_flow == "jwt_bearer":
        assertion = jwt_assertion(settings.salesforce_client_id, settings.salesforce_username,
                                  settings.salesforce_jwt_audience,
                                  settings.salesforce_private_key_pem(), now)
        return {"grant_type": JWT_BEARER, "assertion": assertion}
    return {"grant_type": "client_credentials",
            "client_id": settings.salesforce_client_id,
            "client_secret": settings.salesforce_client_secret.get_secret_value()}
