"""Request signatures HubSpot puts on webhook calls: v3 (with a timestamp) and v1.

v3: ``X-HubSpot-Signature-v3`` is the base64 HMAC-SHA256, keyed with the app's client
secret, of method + URI + body + ``X-HubSpot-Request-Timestamp`` (epoch milliseconds), with
a fixed set of percent-escapes in the URI decoded first. v1: ``X-HubSpot-Signature`` is the
SHA-256 hex of client secret + body, with ``X-HubSpot-Signature-Version: v1``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

# The escapes HubSpot decodes in the URI before it computes a v3 signature.
_DECODED = {
    "%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$",
    "%27": "'", "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";",
}
_ESCAPE = re.compile("|".join(_DECODED), re.IGNORECASE)


def v3_uri(uri: str) -> str:
    """The URI as a v3 signature covers it."""
    return _ESCAPE.sub(lambda match: _DECODED[match.group(0).upper()], uri)


def signature_v3(secret: str, method: str, uri: str, body: bytes, timestamp_ms: int) -> str:
    """The ``X-HubSpot-Signature-v3`` value of one request."""
    message = f"{method.upper()}{v3_uri(uri)}".encode() + body + str(timestamp_ms).encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signature_v1(secret: str, body: bytes) -> str:
    """The ``X-HubSpot-Signature`` value (version v1) of one request."""
    return hashlib.sha256(secret.encode() + body).hexdigest()


def signed_headers(secret: str, uri: str, body: bytes, timestamp_ms: int) -> dict[str, str]:
    """Every header of a signed webhook POST of ``body`` to ``uri``."""
    return {
        "Content-Type": "application/json",
        "X-HubSpot-Request-Timestamp": str(timestamp_ms),
        "X-HubSpot-Signature-v3": signature_v3(secret, "POST", uri, body, timestamp_ms),
        "X-HubSpot-Signature": signature_v1(secret, body),
        "X-HubSpot-Signature-Version": "v1",
    }
