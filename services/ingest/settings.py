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
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
