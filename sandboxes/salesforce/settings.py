"""The Salesforce sandbox's one settings object, from ``SALESFORCE_SANDBOX_*`` variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class SalesforceSandboxSettings(BaseSettings):
    """Where the sandbox listens, keeps its state, and which client and org it emulates."""

    model_config = SettingsConfigDict(env_prefix="SALESFORCE_SANDBOX_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8443
    data_dir: Path = Path(".local/sandboxes/salesforce")
    client_id: str = "accord-local-client"
    client_secret: SecretStr = SecretStr("local-salesforce-secret")
    org_id: str = "00D000000000001AAA"
    owners_file: Path = Path("sandboxes/owners.yaml")
    # Lifetime of an access token, counted from its issue.
    session_seconds: int = 7200
    api_daily_limit: int = 15000

    @property
    def instance_url(self) -> str:
        """The base URL clients reach the sandbox at, as the token endpoint reports it."""
        return f"https://{self.host}:{self.port}"

    @property
    def database_path(self) -> Path:
        """The sqlite file that holds every record, token and usage counter."""
        return self.data_dir / "salesforce.sqlite3"
