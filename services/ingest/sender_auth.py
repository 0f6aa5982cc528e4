"""Who is posting: an API key (``X-Api-Key``) or a Standard Webhooks signature.

Standard Webhooks (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``) signs
``id.timestamp.body`` with HMAC-SHA256; the official library checks the signature and a
timestamp window of five minutes on both sides.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import SecretStr
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from services.ingest.api_key import API_KEY_HEADER, check_api_key
from services.ingest.problems import ProblemError
from services.ingest.settings import IngestSettings

SIGNATURE_HEADER = "webhook-signature"


@dataclass(frozen=True)
class Sender:
    """An authenticated sender; ``identity`` namespaces its idempotency keys."""

    identity: str
    webhook_id: str | None = None


def _fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


def verify_standard_webhook(body: bytes, headers: dict[str, str],
                            secrets: list[SecretStr]) -> Sender:
    """Check a Standard Webhooks signature against each configured secret."""
    if not secrets:
        raise ProblemError(401, "Signature not accepted", "this ingest accepts no signed "
                           "webhooks; send an API key in X-Api-Key", header=SIGNATURE_HEADER)
    failure = "no matching signature"
    for secret in secrets:
        try:
            Webhook(secret.get_secret_value()).verify(body, headers, json_parse=False)
        except WebhookVerificationError as exc:
            failure = str(exc)
            continue
        except (ValueError, UnicodeDecodeError):  # malformed headers or a non-UTF-8 body
            failure = "malformed webhook-signature or webhook-timestamp"
            continue
        return Sender(f"webhook:{_fingerprint(secret.get_secret_value())}",
                      webhook_id=headers.get("webhook-id"))
    header = "webhook-timestamp" if "timestamp" in failure.lower() else SIGNATURE_HEADER
    raise ProblemError(401, "Invalid signature", f"Standard Webhooks: {failure}",
                       header=header)


def authenticate(headers: Mapping[str, str], body: bytes,
                 settings: IngestSettings) -> Sender:
    """An API key, or else a Standard Webhooks signature; 401 naming the header otherwise."""
    api_key = headers.get(API_KEY_HEADER)
    signature = headers.get(SIGNATURE_HEADER)
    if signature is not None and api_key is None:
        return verify_standard_webhook(body, {
            "webhook-id": headers.get("webhook-id", ""),
            "webhook-timestamp": headers.get("webhook-timestamp", ""),
            "webhook-signature": signature,
        }, settings.webhook_secrets)
    check_api_key(api_key, settings.api_keys)
    assert api_key is not None
    return Sender(f"key:{_fingerprint(api_key)}")
