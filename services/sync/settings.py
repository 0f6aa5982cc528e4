"""sync's one settings object, from ``ACCORD_SYNC_*`` and ``ACCORD_KAFKA_*`` variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.messaging.settings import KafkaSettings


class SyncSettings(BaseSettings):
    """Where the CRMs are, how to authenticate, and how sync reaches Kafka."""

    model_config = SettingsConfigDict(env_prefix="ACCORD_SYNC_", extra="ignore")

    mapping_file: Path = Path("mappings/crm.yaml")
    # Won deals and rep statuses to HubSpot (until crm.yaml's shared model holds them).
    outcome_mapping_file: Path = Path("mappings/crm_outcomes.yaml")
    # Prometheus metrics at http://<metrics_host>:<metrics_port>/metrics; 0 serves none.
    metrics_port: int = Field(default=0, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"
    salesforce_token_url: str = "https://login.salesforce.com/services/oauth2/token"  # noqa: S105
    salesforce_client_id: str = ""
    salesforce_client_secret: SecretStr = SecretStr("")
    # A CA bundle for a sandbox's own certificate; empty means the system's CAs.
    salesforce_ca_bundle: Path | None = None
    salesforce_api_version: str = "62.0"
    # Sent as ``Sforce-Call-Options: client=<name>``: the org's API usage shows Accord's calls.
    salesforce_client_name: str = "accord"
    # The share of the org's daily API allowance Accord may use; the rest is other tools'.
    salesforce_allowance_share: float = Field(0.5, gt=0.0, le=1.0)
    # Salesforce counts calls over a rolling 24 hours and an admin can raise the limit at any
    # time: a worker parked at the limit lets one call through after this long, and that
    # call's Sforce-Limit-Info decides whether it goes on; a count older than this is stale.
    salesforce_limit_probe_seconds: float = Field(default=300.0, gt=0.0, le=86_400.0)
    hubspot_base_url: str = "https://api.hubapi.com"
    hubspot_access_token: SecretStr = SecretStr("")
    # The share of HubSpot's 10-second window sync may use; the rest is headroom for
    # other clients of the same private app.
    hubspot_rate_share: float = Field(default=0.9, gt=0.0, le=1.0)
    # Every CRM call is bounded: neither SDK sets a timeout of its own.
    crm_timeout_seconds: float = 10.0
    # Records taken in one poll, from all partitions together, and written as one batch per
    # CRM (the writers chunk it: 200 Leads per Salesforce call, 100 contacts per HubSpot
    # call); a multiple of 200 fills every call of a full poll.
    batch_size: int = Field(default=600, ge=1, le=10_000)
    # Polls (rounds) that may wait for a CRM that is busy with earlier ones; they are written
    # together when it is free. Bounds the records in memory and uncommitted.
    rounds_queued: int = Field(default=4, ge=1, le=100)
    # CRM calls in flight at once (threads running the synchronous SDKs), both CRMs together.
    max_concurrency: int = Field(default=4, ge=1, le=64)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)

    @field_validator("salesforce_ca_bundle", mode="before")
    @classmethod
    def _empty_means_system_cas(cls, value: object) -> object:
        return None if value in ("", None) else value
