"""Accord's share of a Salesforce org's daily API allowance, learnt from ``Sforce-Limit-Info``.

Pure and thread-safe: the writer feeds it every answer's header and asks it before every call.
The org's allowance is shared with every other integration and with the sales team's own
tools, so Accord stops at a configured share of it rather than at the org's hard limit.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta

from services.sync.crm_errors import CrmLimitReached

# "api-usage=18/15000", possibly followed by "; per-app-api-usage=17/250(appName=x)": anchor
# on a separator so the per-app figure is never read as the org's.
_API_USAGE = re.compile(r"(?:^|[;,\s])api-usage=(\d+)/(\d+)")
DEFAULT_PROBE_SECONDS = 300.0


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ApiAllowance:
    """How many calls Accord may still make, from the latest ``api-usage=N/M`` seen.

    ``share`` (0 < share <= 1) of the org's daily limit ``M`` is Accord's; once ``N`` reaches
    it, every call is refused with :class:`CrmLimitReached` until the count is stale.

    Salesforce counts over a rolling 24 hours, and an admin can raise the limit at any time,
    so a count says little after a while: a count older than ``probe_seconds``, or from an
    earlier UTC day (the sandbox counts by UTC day), is stale. A stale count is as good as
    none: the next call goes through, and its answer tells the real count (the session makes
    one call at a time, so one call probes). A refusal says to try again when the count goes
    stale — at most ``probe_seconds`` later — never at a far-off reset.
    """

    def __init__(self, share: float, clock: Callable[[], datetime] = _utc_now,
                 probe_seconds: float = DEFAULT_PROBE_SECONDS) -> None:
        if not 0.0 < share <= 1.0:
            raise ValueError(f"the allowance share must be in (0, 1], not {share}")
        if probe_seconds <= 0:
            raise ValueError(f"the probe interval must be positive, not {probe_seconds}")
        self._share = share
        self._clock = clock
        self._probe = timedelta(seconds=probe_seconds)
        self._lock = threading.Lock()
        self._used = 0
        self._limit: int | None = None  # None: nothing observed yet
        self._seen_at: datetime | None = None  # when the count was read

    @property
    def share(self) -> float:
        """The share of the daily limit Accord may use."""
        return self._share

    def observe(self, limit_info: str | None) -> None:
        """Take the org's count from a ``Sforce-Limit-Info`` header (ignored if absent)."""
        found = _API_USAGE.search(limit_info or "")
        if found is None:
            return
        with self._lock:
            # The server's count replaces ours, also counts made by other clients of the org.
            self._used, self._limit = int(found.group(1)), int(found.group(2))
            self._seen_at = self._now()

    def budget(self) -> int | None:
        """The calls Accord may make in all (None while no fresh count is known)."""
        with self._lock:
            return self._budget_locked()

    def remaining(self) -> int | None:
        """The calls Accord may still make (None while no fresh count is known)."""
        with self._lock:
            budget = self._budget_locked()
            return None if budget is None else max(0, budget - self._used)

    def check(self, calls: int = 1) -> None:
        """Raise :class:`CrmLimitReached` unless ``calls`` more calls fit in the share.

        A request bigger than a whole day's share could never fit: it is let through while
        some share is left, and :meth:`take` stops it at the share.
        """
        with self._lock:
            self._check_locked(calls)

    def take(self) -> None:
        """Check for one call and count it (until the call's answer brings the real count).

        Counting before the answer keeps concurrent callers from all passing the check on
        the last call left.
        """
        with self._lock:
            self._check_locked(1)
            self._used += 1

    def seconds_until_probe(self) -> float:
        """Seconds until the count goes stale and a call may go through to read it again:
        at most the probe interval, sooner at UTC midnight; at least a second, so a parked
        caller never spins."""
        with self._lock:
            return self._until_stale_locked()

    def _now(self) -> datetime:
        return self._clock().astimezone(UTC)

    def _until_stale_locked(self) -> float:
        now = self._now()
        seen = self._seen_at or now
        midnight = datetime.combine(seen.date() + timedelta(days=1), time(0), tzinfo=UTC)
        stale_at = min(seen + self._probe, midnight)
        return max(1.0, (stale_at - now).total_seconds())

    def _budget_locked(self) -> int | None:
        if self._limit is None or self._seen_at is None:
            return None
        now = self._now()
        if now - self._seen_at >= self._probe or now.date() != self._seen_at.date():
            return None  # stale: the next answer tells
        # Floor: a fractional call cannot be made, and rounding up would exceed the share.
        return math.floor(self._share * self._limit)

    def _check_locked(self, calls: int) -> None:
        budget = self._budget_locked()
        if budget is None:
            return  # no fresh count: the next answer tells
        if self._used >= budget or self._used + min(calls, budget) > budget:
            raise CrmLimitReached(
                "salesforce",
                f"Accord's share of the daily API allowance is used ({self._used} of "
                f"{self._limit} calls used, Accord may use {self._share:.0%} = {budget}; "
                f"{calls} more needed)",
                self._until_stale_locked())
