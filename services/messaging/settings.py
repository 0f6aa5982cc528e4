"""How every Accord service reaches Kafka: one settings object, read from the environment."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaSettings(BaseSettings):
    """Kafka connection and naming, from ``ACCORD_KAFKA_*`` variables."""

    model_config = SettingsConfigDict(env_prefix="ACCORD_KAFKA_", extra="ignore")

    bootstrap_servers: str = "127.0.0.1:9092"
    # Prepended to every topic and consumer group name; lets runs share one cluster.
    topic_prefix: str = ""
    security_protocol: str = "PLAINTEXT"
    # One copy suits the local single broker; production clusters want 3.
    replication_factor: int = 1
    # How long ingest waits for the broker's acknowledgement before answering 503.
    publish_timeout_seconds: float = 2.5

    def topic(self, name: str) -> str:
        """The full name of one of Accord's topics."""
        return f"{self.topic_prefix}{name}"

    def group(self, name: str) -> str:
        """The full name of one of Accord's consumer groups."""
        return f"{self.topic_prefix}{name}"
