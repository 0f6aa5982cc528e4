"""HubSpot request signatures, as HubSpot's "Validating requests" guide defines them.

* v3 (``X-HubSpot-Signature-v3``): base64 of HMAC-SHA256, keyed with the app's client
  secret, over method + URI + raw body + ``X-HubSpot-Request-Timestamp`` (milliseconds).
  Before hashing, the URI has a fixed set of percent-escapes decoded (``DECODED_ESCAPES``).
* v2 (``X-HubSpot-Signature``, version header ``v2``): SHA-256 hex of secret + method + URI
  + body, the URI exactly as requested.
* v1 (``X-HubSpot-Signature``, version header ``v1``): SHA-256 hex of secret + body.

v1 and v2 carry no timestamp, so a captured request can be replayed forever: they are
checked only when a deployment lists them. Pure functions: no web framework here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum

SIGNATURE_V3_HEADER = "X-HubSpot-Signature-v3"
TIMESTAMP_HEADER = "X-HubSpot-Request-Timestamp"
SIGNATURE_HEADER = "X-HubSpot-Signature"
SIGNATURE_VERSION_HEADER = "X-HubSpot-Signature-Version"
# HubSpot rejects nothing younger than five minutes; a timestamp as far in the future is
# refused too, or a forged clock would stretch the replay window.
MAX_SKEW_MS = 5 * 60 * 1000

DECODED_ESCAPES = {
    "%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$",
    "%27": "'", "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";",
}
_ESCAPE = re.compile("|".join(DECODED_ESCAPES), re.IGNORECASE)
_TIMESTAMP = re.compile(r"[0-9]{1,16}")


class Failure(StrEnum):
    """Why a request did not verify."""

    NOT_CONFIGURED = "not_configured"
    MISSING_HEADER = "missing_header"
    MALFORMED_TIMESTAMP = "malformed_timestamp"
    STALE_TIMESTAMP = "stale_timestamp"
    FUTURE_TIMESTAMP = "future_timestamp"
    VERSION_NOT_ACCEPTED = "version_not_accepted"
    BAD_SIGNATURE = "bad_signature"


@dataclass(frozen=True)
class Verification:
    """The outcome: which version was checked and, on failure, why and which header."""

    version: str | None
    failure: Failure | None = None
    header: str | None = None
    detail: str = "signature verified"

    @property
    def ok(self) -> bool:
        """True when the request is authentic and fresh."""
        return self.failure is None


@dataclass(frozen=True)
class SignedRequest:
    """What a signature covers: ``uri`` as HubSpot requested it, ``body`` as received."""

    method: str
    uri: str
    body: bytes
    headers: Mapping[str, str]

    def header(self, name: str) -> str | None:
        """A header's value, whatever the case of its name."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)


def decode_uri(uri: str) -> str:
    """The URI as v3 signs it: only the escapes HubSpot lists are decoded, in one pass."""
    return _ESCAPE.sub(lambda m: DECODED_ESCAPES[m.group(0).upper()], uri)


def request_uri(public_base_url: str, raw_path: str, query: str) -> str:
    """The URI HubSpot called: the configured public base URL, never a rewritten Host."""
    uri = public_base_url.rstrip("/") + raw_path
    return f"{uri}?{query}" if query else uri


def sign_v1(secret: str, body: bytes) -> str:
    """v1: SHA-256 hex of client secret + body."""
    return hashlib.sha256(secret.encode() + body).hexdigest()


def sign_v2(secret: str, method: str, uri: str, body: bytes) -> str:
    """v2: SHA-256 hex of client secret + method + URI + body."""
    return hashlib.sha256(f"{secret}{method.upper()}{uri}".encode() + body).hexdigest()


def sign_v3(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """v3: base64 HMAC-SHA256 of method + decoded URI + body + timestamp (as sent)."""
    message = f"{method.upper()}{decode_uri(uri)}".encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def _same(expected: str, presented: str) -> bool:
    return hmac.compare_digest(expected.encode(), presented.strip().encode("utf-8", "replace"))


def _verify_v3(request: SignedRequest, signature: str, secret: str, now_ms: int) -> Verification:
    timestamp = request.header(TIMESTAMP_HEADER)
    if timestamp is None:
        return Verification("v3", Failure.MISSING_HEADER, TIMESTAMP_HEADER,
                            f"{TIMESTAMP_HEADER} is required with {SIGNATURE_V3_HEADER}")
    if not _TIMESTAMP.fullmatch(timestamp):
        return Verification("v3", Failure.MALFORMED_TIMESTAMP, TIMESTAMP_HEADER,
                            f"{TIMESTAMP_HEADER} must be milliseconds since the epoch")
    age = now_ms - int(timestamp)
    if age > MAX_SKEW_MS:
        return Verification("v3", Failure.STALE_TIMESTAMP, TIMESTAMP_HEADER,
                            f"the request is {age // 1000} s old; at most "
                            f"{MAX_SKEW_MS // 1000} s are accepted")
    if -age > MAX_SKEW_MS:
        return Verification("v3", Failure.FUTURE_TIMESTAMP, TIMESTAMP_HEADER,
                            f"the request is dated {-age // 1000} s in the future; at most "
                            f"{MAX_SKEW_MS // 1000} s of clock skew are accepted")
    expected = sign_v3(secret, request.method, request.uri, request.body, timestamp)
    if not _same(expected, signature):
        return Verification("v3", Failure.BAD_SIGNATURE, SIGNATURE_V3_HEADER,
                            f"{SIGNATURE_V3_HEADER} does not match this request")
    return Verification("v3")


def _verify_legacy(request: SignedRequest, version: str, signature: str,
                   secret: str) -> Verification:
    expected = (sign_v1(secret, request.body) if version == "v1"
                else sign_v2(secret, request.method, request.uri, request.body))
    if not _same(expected, signature.lower()):
        return Verification(version, Failure.BAD_SIGNATURE, SIGNATURE_HEADER,
                            f"{SIGNATURE_HEADER} ({version}) does not match this request")
    return Verification(version)


def verify(request: SignedRequest, secret: str, versions: Collection[str],
           now_ms: int) -> Verification:
    """Check the request's signature with the versions accepted (e.g. ``["v3"]``).

    v3 is used whenever it is accepted and sent; otherwise ``X-HubSpot-Signature`` in the
    version its version header names (v1 when absent, as HubSpot documents).
    """
    accepted = {v.strip().lower() for v in versions}
    primary = SIGNATURE_V3_HEADER if "v3" in accepted else SIGNATURE_HEADER
    if not secret:
        return Verification(None, Failure.NOT_CONFIGURED, primary,
                            "this ingest has no HubSpot client secret configured")
    v3_signature = request.header(SIGNATURE_V3_HEADER)
    if "v3" in accepted and v3_signature is not None:
        return _verify_v3(request, v3_signature, secret, now_ms)
    legacy = request.header(SIGNATURE_HEADER)
    if legacy is not None:
        version = (request.header(SIGNATURE_VERSION_HEADER) or "v1").strip().lower()
        if version in accepted & {"v1", "v2"}:
            return _verify_legacy(request, version, legacy, secret)
        return Verification(version, Failure.VERSION_NOT_ACCEPTED, primary,
                            f"signature version {version[:8]} is not accepted; send "
                            f"{primary}")
    return Verification(None, Failure.MISSING_HEADER, primary, f"{primary} is required")
