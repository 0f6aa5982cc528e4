"""Dead-letter records: the original record plus headers that say where it came from and why.

The header names follow Kafka Connect's dead-letter queue (``__connect.errors.*``) under
Accord's own prefix, so tooling built for Connect's DLQs reads ours the same way.
"""

from __future__ import annotations

from datetime import UTC, datetime

PREFIX = "accord.errors."


def dead_letter_headers(original: list[tuple[str, bytes]], *, topic: str, partition: int,
                        offset: int, stage: str, reason: str,
                        extra: dict[str, str] | None = None) -> list[tuple[str, bytes]]:
    """The original headers plus the error context, never replacing what was there."""
    context = {
        "topic": topic, "partition": str(partition), "offset": str(offset),
        "stage": stage, "reason": reason[:2000], "at": datetime.now(UTC).isoformat(),
        **(extra or {}),
    }
    kept = [(k, v) for k, v in original if not k.startswith(PREFIX)]
    return kept + [(PREFIX + k, v.encode()) for k, v in context.items()]
