"""The Salesforce sandbox's one settings object, from ``SALESFORCE_SANDBOX_*`` variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ErrorKind = Literal["unavailable", "unable_to_lock_row"]
OutageMode = Literal["refuse", "unavailable"]


def _every_error_kind() -> list[ErrorKind]:
    return ["unavailable", "unable_to_lock_row"]


class SalesforceSandboxSettings(BaseSettings):
    """Where the sandbox listens, keeps its state, and which client and org it emulates."""

    model_config = SettingsConfigDict(env_prefix="SALESFORCE_SANDBOX_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8443
    data_dir: Path = Path(".local/sandboxes/salesforce")
    client_id: str = "accord-local-client"
    client_secret: SecretStr = SecretStr("local-salesforce-secret")
    # The certificate uploaded to the connected app ("Use digital signatures"): JWT bearer
    # assertions signed with its private key are accepted for the pre-authorized users.
    # None: the app takes no JWT.
    jwt_certificate_file: Path | None = None
    jwt_preauthorized_usernames: list[str] = Field(
        default_factory=lambda: ["integration@accord.example"])
    org_id: str = "00D000000000001AAA"
    owners_file: Path = Path("sandboxes/owners.yaml")
    # Lifetime of an access token, counted from its issue.
    session_seconds: int = 7200
    api_daily_limit: int = Field(15000, ge=0)
    # Bearer token of the test/demo admin API under /__sandbox/ (health excepted).
    admin_token: SecretStr = SecretStr("local-salesforce-admin-token")

    # Faults, for tests and demos; each is also a knob (POST /__sandbox/knobs).
    latency_ms: int = Field(0, ge=0)
    # Share of REST calls answered with one of error_kinds (UNABLE_TO_LOCK_ROW on writes only).
    error_rate: float = Field(0.0, ge=0.0, le=1.0)
    error_kinds: list[ErrorKind] = Field(default_factory=_every_error_kind)
    # An outage for this many seconds from start: "refuse" closes the port, "unavailable"
    # answers every call 503.
    outage_seconds: float = Field(0.0, ge=0.0)
    outage_mode: OutageMode = "unavailable"
    # Seed of the fault draws, for reproducible runs; None draws from the system.
    fault_seed: int | None = None

    # Outbound Messages: when a URL is set, every saved record of outbound_sobjects is posted
    # to it as a SOAP notifications call, retried with doubling delays until acknowledged.
    outbound_message_url: str | None = None
    outbound_sobjects: list[str] = Field(default_factory=lambda: ["Lead", "Opportunity"])
    # Send a live session id of the integration user (Salesforce's "Send Session ID").
    outbound_send_session_id: bool = False
    outbound_retry_initial_seconds: float = Field(30.0, gt=0)
    outbound_retry_max_seconds: float = Field(7200.0, gt=0)
    # Salesforce drops a message it could not deliver within 24 hours.
    outbound_expiry_seconds: float = Field(86400.0, gt=0)
    outbound_timeout_seconds: float = Field(10.0, gt=0)
    # CA bundle for an HTTPS receiver with a private CA; None: the system CAs.
    outbound_ca_bundle: Path | None = None

    @property
    def instance_url(self) -> str:
        """The base URL clients reach the sandbox at, as the token endpoint reports it."""
        return f"https://{self.host}:{self.port}"

    @property
    def database_path(self) -> Path:
        """The sqlite file that holds every record, token and usage counter."""
        return self.data_dir / "salesforce.sqlite3"
