"""Who is posting: an API key (``X-Api-Key``) or a Standard Webhooks signature.

Standard Webhooks (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``) signs
``id.timestamp.body`` with HMAC-SHA256; the official library checks the signature and a
timestamp window of five minutes on both sides.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request
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


async def authenticated_sender(
    request: Request,
    x_api_key: Annotated[str | None, Header(alias=API_KEY_HEADER)] = None,
    webhook_signature: Annotated[str | None, Header(alias=SIGNATURE_HEADER)] = None,
    webhook_id: Annotated[str | None, Header(alias="webhook-id")] = None,
    webhook_timestamp: Annotated[str | None, Header(alias="webhook-timestamp")] = None,
) -> Sender:
    """FastAPI dependency: authenticate before the body is validated."""
    settings: IngestSettings = request.app.state.settings
    if webhook_signature is not None and x_api_key is None:
        body = await request.body()
        return verify_standard_webhook(body, {
            "webhook-id": webhook_id or "", "webhook-timestamp": webhook_timestamp or "",
            "webhook-signature": webhook_signature,
        }, settings.webhook_secrets)
    check_api_key(x_api_key, settings.api_keys)
    assert x_api_key is not None
    return Sender(f"key:{_fingerprint(x_api_key)}")


AuthenticatedSender = Annotated[Sender, Depends(authenticated_sender)]
