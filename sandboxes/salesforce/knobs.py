"""Test and demo knobs: added latency, injected errors, outages, the daily API allowance and
the Outbound Message endpoint. Start from the settings; change at run time through
``POST /__sandbox/knobs``; ``DELETE /__sandbox/knobs`` puts the settings back."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sandboxes.salesforce.auth import ApiUsage
from sandboxes.salesforce.settings import ErrorKind, OutageMode, SalesforceSandboxSettings


class KnobsUpdate(BaseModel):
    """The body of ``POST /__sandbox/knobs``: only the knobs given change."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: int | None = Field(None, ge=0, le=120_000)
    error_rate: float | None = Field(None, ge=0.0, le=1.0)
    error_kinds: list[ErrorKind] | None = Field(None, min_length=1)
    # Starts an outage now for this many seconds (0 ends one).
    outage_seconds: float | None = Field(None, ge=0.0, le=86_400.0)
    outage_mode: OutageMode | None = None
    api_daily_limit: int | None = Field(None, ge=0)
    # null or "" stops Outbound Messages.
    outbound_message_url: str | None = Field(None, max_length=2048)

    @field_validator("outbound_message_url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url and not url.startswith(("http://", "https://")):
            raise ValueError("an http:// or https:// URL")
        return url


class Knobs:
    """The knobs' current values; safe to read and change from any thread."""

    def __init__(self, settings: SalesforceSandboxSettings, usage: ApiUsage,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._settings = settings
        self._usage = usage
        self._clock = clock
        self._lock = threading.Lock()
        # Fault draws need no cryptographic strength, only an optional seed.
        self._random = random.Random(settings.fault_seed)  # noqa: S311
        self.reset()

    def reset(self) -> None:
        """Every knob back to its setting (an outage from the settings starts again now)."""
        settings = self._settings
        with self._lock:
            self._latency_ms = settings.latency_ms
            self._error_rate = settings.error_rate
            self._error_kinds: list[ErrorKind] = list(settings.error_kinds)
            self._outage_mode: OutageMode = settings.outage_mode
            self._outage_until = self._clock() + settings.outage_seconds
            self._outbound_url = settings.outbound_message_url or None
            self._usage.limit = settings.api_daily_limit

    def update(self, change: KnobsUpdate) -> None:
        """Apply the knobs set in ``change``."""
        given = change.model_fields_set
        with self._lock:
            if change.latency_ms is not None:
                self._latency_ms = change.latency_ms
            if change.error_rate is not None:
                self._error_rate = change.error_rate
            if change.error_kinds is not None:
                self._error_kinds = list(change.error_kinds)
            if change.outage_mode is not None:
                self._outage_mode = change.outage_mode
            if change.outage_seconds is not None:
                self._outage_until = self._clock() + change.outage_seconds
            if change.api_daily_limit is not None:
                self._usage.limit = change.api_daily_limit
            if "outbound_message_url" in given:
                self._outbound_url = change.outbound_message_url or None

    def snapshot(self) -> dict[str, Any]:
        """The knobs as ``GET /__sandbox/knobs`` shows them."""
        with self._lock:
            remaining = max(0.0, self._outage_until - self._clock())
            return {
                "latency_ms": self._latency_ms, "error_rate": self._error_rate,
                "error_kinds": list(self._error_kinds), "outage_mode": self._outage_mode,
                "outage_remaining_seconds": round(remaining, 3),
                "api_daily_limit": self._usage.limit,
                "outbound_message_url": self._outbound_url,
            }

    @property
    def latency_seconds(self) -> float:
        """Delay added before every call under /services/."""
        return self._latency_ms / 1000

    @property
    def outbound_message_url(self) -> str | None:
        """Where Outbound Messages go; None sends none."""
        return self._outbound_url

    def outage(self) -> OutageMode | None:
        """The mode of the outage under way, or None."""
        with self._lock:
            return self._outage_mode if self._clock() < self._outage_until else None

    def refusing(self) -> bool:
        """Whether the port should refuse connections right now."""
        return self.outage() == "refuse"

    def draw_fault(self, write: bool) -> ErrorKind | None:
        """The error to answer this call with, drawn at the error rate; None for none.

        UNABLE_TO_LOCK_ROW needs a record to lock, so only writes draw it.
        """
        with self._lock:
            if self._error_rate <= 0 or self._random.random() >= self._error_rate:
                return None
            kinds = [k for k in self._error_kinds if write or k != "unable_to_lock_row"]
            return self._random.choice(kinds) if kinds else None
