"""The ``X-HubSpot-RateLimit-*`` headers a private app sees on every CRM API answer."""

from __future__ import annotations

from datetime import UTC, datetime

from sandboxes.hubspot.store import Usage

INTERVAL_MILLISECONDS = 10_000


def utc_day(now: float) -> str:
    """The day a call at ``now`` (epoch seconds) counts towards; the sandbox portal uses UTC."""
    return datetime.fromtimestamp(now, tz=UTC).date().isoformat()


def usage_headers(usage: Usage, daily_limit: int, ten_second_limit: int) -> dict[str, str]:
    """Limits and what is left of them after this call; never below zero."""
    return {
        "X-HubSpot-RateLimit-Daily": str(daily_limit),
        "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, daily_limit - usage.today)),
        "X-HubSpot-RateLimit-Interval-Milliseconds": str(INTERVAL_MILLISECONDS),
        "X-HubSpot-RateLimit-Max": str(ten_second_limit),
        "X-HubSpot-RateLimit-Remaining": str(max(0, ten_second_limit - usage.last_ten_seconds)),
    }
