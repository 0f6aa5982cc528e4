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
    # Records per partition batch; one Kafka transaction commits each batch.
    max_batch: int = 500
    # A batch that cannot commit within this (broker away) is abandoned and read again.
    transaction_timeout_seconds: float = 30.0
    # A worker silent for longer than this is dropped from the group by Kafka.
    max_poll_interval_seconds: float = 300.0
    # How soon the group notices a dead worker and hands its partitions to the others.
    session_timeout_seconds: float = 10.0
    # Salesforce users Accord writes as: their changes are echoes and trigger no decision.
    salesforce_integration_user_ids: list[str] = Field(default_factory=list)
    # HubSpot apps Accord writes as (webhooks name them in sourceId): echoes, likewise.
    hubspot_app_ids: list[int] = Field(default_factory=list)
    # CRM field names and per-field sync rules: a rep's edit in a CRM is merged by them.
    mapping_file: Path = Path("mappings/crm.yaml")
    # How often the worker looks for SLA clocks past their due time.
    sla_tick_seconds: float = 1.0
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
