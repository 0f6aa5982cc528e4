"""The HubSpot sandbox's one settings object, from ``HUBSPOT_SANDBOX_*`` variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from sandboxes.hubspot.webhook_events import DEFAULT_SUBSCRIPTIONS


class HubSpotSandboxSettings(BaseSettings):
    """Where the sandbox listens, keeps its state, and which private app and portal it emulates."""

    model_config = SettingsConfigDict(env_prefix="HUBSPOT_SANDBOX_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8001
    data_dir: Path = Path(".local/sandboxes/hubspot")
    access_token: SecretStr = SecretStr("pat-local-hubspot-token")
    portal_id: int = 62515
    owners_file: Path = Path("sandboxes/owners.yaml")
    # Bearer token of the test/demo admin API under /__sandbox/ (health excepted).
    admin_token: SecretStr = SecretStr("local-hubspot-admin-token")
    # The private app behind the access token: the sourceId of its changes in webhooks, and
    # the secret that signs them (the defaults are those of the local ingest settings).
    app_id: int = 4400001
    client_secret: SecretStr = SecretStr("local-hubspot-app-secret")
    # The limits of a Professional portal's private app: 190 calls per 10 s, 625,000 a day.
    # Calls beyond them are answered 429 (tighten them at run time with /__sandbox/knobs).
    ten_second_limit: int = Field(default=190, ge=1)
    daily_limit: int = Field(default=625_000, ge=1)
    # Fault injection at start; /__sandbox/knobs changes them while running.
    latency_ms: int = Field(default=0, ge=0)
    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    # Webhooks: off unless a target URL is set. HubSpot retries a failed batch up to 10
    # times over 24 hours; here the wait doubles from the base up to the cap.
    webhook_target_url: str | None = None
    webhook_subscriptions: list[str] = Field(
        default_factory=lambda: list(DEFAULT_SUBSCRIPTIONS))
    webhook_max_attempts: int = Field(default=10, ge=1)
    webhook_retry_base_seconds: float = Field(default=1.0, ge=0.0)
    webhook_retry_cap_seconds: float = Field(default=300.0, ge=0.0)
    webhook_timeout_seconds: float = Field(default=5.0, gt=0.0)
    webhook_max_concurrent_requests: int = Field(default=10, ge=1)

    @property
    def base_url(self) -> str:
        """The URL clients reach the sandbox at (the ``host`` of ``hubspot.Client.create``)."""
        return f"http://{self.host}:{self.port}"

    @property
    def database_path(self) -> Path:
        """The sqlite file that holds every record and usage counter."""
        return self.data_dir / "hubspot.sqlite3"
