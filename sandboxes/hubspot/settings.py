"""The HubSpot sandbox's one settings object, from ``HUBSPOT_SANDBOX_*`` variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class HubSpotSandboxSettings(BaseSettings):
    """Where the sandbox listens, keeps its state, and which private app and portal it emulates."""

    model_config = SettingsConfigDict(env_prefix="HUBSPOT_SANDBOX_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8001
    data_dir: Path = Path(".local/sandboxes/hubspot")
    access_token: SecretStr = SecretStr("pat-local-hubspot-token")
    portal_id: int = 62515
    owners_file: Path = Path("sandboxes/owners.yaml")
    # The private-app limits of a Free/Starter portal; the sandbox counts, it does not refuse.
    daily_limit: int = 250_000
    ten_second_limit: int = 190

    @property
    def base_url(self) -> str:
        """The URL clients reach the sandbox at (the ``host`` of ``hubspot.Client.create``)."""
        return f"http://{self.host}:{self.port}"

    @property
    def database_path(self) -> Path:
        """The sqlite file that holds every contact and usage counter."""
        return self.data_dir / "hubspot.sqlite3"
