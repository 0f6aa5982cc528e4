"""ingest's one settings object, from ``ACCORD_INGEST_*`` and ``ACCORD_KAFKA_*`` variables."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.messaging.settings import KafkaSettings


class IngestSettings(BaseSettings):
    """Where ingest listens, who may post, and how it reaches Kafka."""

    model_config = SettingsConfigDict(env_prefix="ACCORD_INGEST_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    api_keys: list[SecretStr] = Field(default_factory=list)
    # Seconds a sender should wait before retrying after a 503.
    retry_after_seconds: int = 5
    # Bodies above this are refused with 413 before they are read into memory.
    max_body_bytes: int = 1_048_576
    # The URL senders use to reach ingest (scheme, host, port, path prefix). Signatures that
    # cover the URL (HubSpot v3) are checked against it, not what a proxy rewrote.
    public_base_url: str = "http://127.0.0.1:8000"
    # HubSpot app: its client secret signs webhooks; portals (accounts) we accept events from.
    hubspot_client_secret: SecretStr = SecretStr("")
    hubspot_app_id: int = 0
    hubspot_portal_ids: list[int] = Field(default_factory=list)
    # Older signature versions are accepted only when listed here, e.g. ["v3", "v2"].
    hubspot_signature_versions: list[str] = Field(default_factory=lambda: ["v3"])
    # Salesforce orgs (15- or 18-character ids) whose Outbound Messages we accept.
    salesforce_org_ids: list[str] = Field(default_factory=list)
    # Standard Webhooks signing secrets ("whsec_<base64>") for forms and systems.
    webhook_secrets: list[SecretStr] = Field(default_factory=list)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
