"""router's one settings object, from ``ACCORD_ROUTER_*`` and ``ACCORD_KAFKA_*`` variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.messaging.settings import KafkaSettings


class RouterSettings(BaseSettings):
    """Which rule file the router applies, and how it reaches Kafka."""

    model_config = SettingsConfigDict(env_prefix="ACCORD_ROUTER_", extra="ignore")

    rules_file: Path = Path("rules/leads.yaml")
    # Standby replicas of the golden-record table on other workers speed up fail-over.
    standby_replicas: int = 1
    # How soon the group notices a dead worker and hands its partitions to the others.
    session_timeout_seconds: float = 10.0
    # Salesforce users Accord writes as: their changes are echoes and trigger no decision.
    salesforce_integration_user_ids: list[str] = Field(default_factory=list)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
