"""Run-time knobs for tests and demos: latency, injected errors, an outage, tight limits.

``POST /__sandbox/knobs`` sets any of them (the others keep their values), ``GET`` shows
them and ``DELETE`` puts back the values the settings started with.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from sandboxes.hubspot.settings import HubSpotSandboxSettings

_chance = random.SystemRandom()
FAULT_STATUSES = (502, 503)


class KnobsInput(BaseModel):
    """The body of ``POST /__sandbox/knobs``; every field is optional."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: int | None = Field(default=None, ge=0, le=60_000,
                                   description="Added to every CRM API answer")
    error_rate: float | None = Field(default=None, ge=0.0, le=1.0,
                                     description="Share of CRM calls answered 502 or 503")
    outage_seconds: float | None = Field(default=None, ge=0.0, le=86_400.0,
                                         description="From now on, every CRM call gets 503 "
                                                     "for this long (0 ends an outage)")
    ten_second_limit: int | None = Field(default=None, ge=1,
                                         description="Calls allowed per rolling 10 s")
    daily_limit: int | None = Field(default=None, ge=1, description="Calls allowed per day")


@dataclass
class Knobs:
    """The current knob values; read by the CRM middleware on every call."""

    latency_ms: int
    error_rate: float
    ten_second_limit: int
    daily_limit: int
    outage_until: float = 0.0
    clock: Callable[[], float] = time.time

    @classmethod
    def from_settings(cls, settings: HubSpotSandboxSettings,
                      clock: Callable[[], float] = time.time) -> Knobs:
        """The knobs as the settings start them."""
        return cls(latency_ms=settings.latency_ms, error_rate=settings.error_rate,
                   ten_second_limit=settings.ten_second_limit,
                   daily_limit=settings.daily_limit, clock=clock)

    def apply(self, changes: KnobsInput) -> None:
        """Set the knobs the input names."""
        if changes.latency_ms is not None:
            self.latency_ms = changes.latency_ms
        if changes.error_rate is not None:
            self.error_rate = changes.error_rate
        if changes.outage_seconds is not None:
            self.outage_until = self.clock() + changes.outage_seconds
        if changes.ten_second_limit is not None:
            self.ten_second_limit = changes.ten_second_limit
        if changes.daily_limit is not None:
            self.daily_limit = changes.daily_limit

    def reset_to(self, defaults: Knobs) -> None:
        """Put back the values of ``defaults`` and end any outage."""
        self.latency_ms, self.error_rate = defaults.latency_ms, defaults.error_rate
        self.ten_second_limit, self.daily_limit = defaults.ten_second_limit, defaults.daily_limit
        self.outage_until = 0.0

    def outage_left(self) -> float:
        """Seconds of outage still to come (0 when the API is up)."""
        return max(0.0, self.outage_until - self.clock())

    def injected_failure(self) -> int | None:
        """A 502 or 503 for this call, with probability ``error_rate``; else None."""
        if self.error_rate > 0 and _chance.random() < self.error_rate:
            return _chance.choice(FAULT_STATUSES)
        return None

    def to_wire(self) -> dict[str, float | int]:
        """The knobs as ``GET /__sandbox/knobs`` shows them."""
        return {"latency_ms": self.latency_ms, "error_rate": self.error_rate,
                "outage_seconds_left": round(self.outage_left(), 3),
                "ten_second_limit": self.ten_second_limit, "daily_limit": self.daily_limit}
