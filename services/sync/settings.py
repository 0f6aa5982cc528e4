"""sync's one settings object, from ``ACCORD_SYNC_*`` and ``ACCORD_KAFKA_*`` variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from pydantic import Field, SecretStr, field_validator, model_validator
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
    # How sync gets its token: the connected app's id and secret ("client_credentials"), or
    # a JWT signed with the private key whose certificate the app holds ("jwt_bearer": also
    # needs the integration user's username and the key, inline or as a file).
    salesforce_auth_flow: Literal["client_credentials", "jwt_bearer"] = "client_credentials"
    salesforce_client_secret: SecretStr = SecretStr("")
    salesforce_username: str = ""
    salesforce_private_key: SecretStr = SecretStr("")
    salesforce_private_key_file: Path | None = None
    # The JWT's audience: https://test.salesforce.com for a Salesforce sandbox org.
    salesforce_jwt_audience: str = "https://login.salesforce.com"
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

    @field_validator("salesforce_ca_bundle", "salesforce_private_key_file", mode="before")
    @classmethod
    def _empty_means_none(cls, value: object) -> object:
        return None if value in ("", None) else value

    @model_validator(mode="after")
    def _jwt_bearer_has_what_it_signs_with(self) -> SyncSettings:
        if self.salesforce_auth_flow != "jwt_bearer":
            return self
        missing = [f"ACCORD_SYNC_SALESFORCE_{name.upper()}" for name, value in (
            ("client_id", self.salesforce_client_id), ("username", self.salesforce_username))
            if not value]
        has_key = bool(self.salesforce_private_key.get_secret_value())
        if has_key == (self.salesforce_private_key_file is not None):
            missing.append("exactly one of ACCORD_SYNC_SALESFORCE_PRIVATE_KEY and "
                           "ACCORD_SYNC_SALESFORCE_PRIVATE_KEY_FILE")
        if missing:
            raise ValueError(f"the jwt_bearer flow needs {', '.join(missing)}")
        try:
            pem = self.salesforce_private_key_pem()
        except OSError as exc:
            raise ValueError("ACCORD_SYNC_SALESFORCE_PRIVATE_KEY_FILE cannot be read: "
                             f"{exc}") from None
        try:
            load_pem_private_key(pem.encode(), password=None)
        except (ValueError, TypeError) as exc:
            raise ValueError("the Salesforce private key is not an unencrypted PEM private "
                             f"key: {exc}") from None
        return self

    def salesforce_private_key_pem(self) -> str:
        """The PEM private key the JWT bearer flow signs with (inline, or read from file)."""
        if self.salesforce_private_key_file is not None:
            return self.salesforce_private_key_file.read_text()
        return self.salesforce_private_key.get_secret_value()
