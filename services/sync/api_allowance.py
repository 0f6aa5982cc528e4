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
from datetime import UTC, date, datetime, time, timedelta

from services.sync.crm_errors import CrmLimitReached

# "api-usage=18/15000", possibly followed by "; per-app-api-usage=17/250(appName=x)": anchor
# on a separator so the per-app figure is never read as the org's.
_API_USAGE = re.compile(r"(?:^|[;,\s])api-usage=(\d+)/(\d+)")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ApiAllowance:
    """How many calls Accord may still make today, from the latest ``api-usage=N/M`` seen.

    ``share`` (0 < share <= 1) of the org's daily limit ``M`` is Accord's; once ``N`` reaches
    it, every call is refused with :class:`CrmLimitReached` until the next UTC midnight.

    Salesforce counts over a rolling 24 hours; that is approximated here by the UTC day (as
    the sandbox counts). An observation from an earlier UTC day is stale: the next call is let
    through, and its answer tells the real count. With a rolling window that one call may find
    the share still used, and the wait starts again.
    """

    def __init__(self, share: float, clock: Callable[[], datetime] = _utc_now) -> None:
        if not 0.0 < share <= 1.0:
            raise ValueError(f"the allowance share must be in (0, 1], not {share}")
        self._share = share
        self._clock = clock
        self._lock = threading.Lock()
        self._used = 0
        self._limit: int | None = None  # None: nothing observed yet (or only on another day)
        self._day: date | None = None

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
            self._day = self._clock().astimezone(UTC).date()

    def budget(self) -> int | None:
        """The calls Accord may make today in all (None while no limit is known)."""
        with self._lock:
            return self._budget_locked()

    def remaining(self) -> int | None:
        """The calls Accord may still make today (None while no count is known)."""
        with self._lock:
            budget = self._budget_locked()
            return None if budget is None else max(0, budget - self._used)

    def check(self, calls: int = 1) -> None:
        """Raise :class:`CrmLimitReached` unless ``calls`` more calls fit in today's share.

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

    def seconds_until_reset(self) -> float:
        """Seconds until the next UTC midnight, when the day's count starts again."""
        now = self._clock().astimezone(UTC)
        midnight = datetime.combine(now.date() + timedelta(days=1), time(0), tzinfo=UTC)
        return max(1.0, (midnight - now).total_seconds())

    def _budget_locked(self) -> int | None:
        if self._limit is None or self._day != self._clock().astimezone(UTC).date():
            return None
        # Floor: a fractional call cannot be made, and rounding up would exceed the share.
        return math.floor(self._share * self._limit)

    def _check_locked(self, calls: int) -> None:
        budget = self._budget_locked()
        if budget is None:
            return  # nothing known for today: the next answer tells
        if self._used >= budget or self._used + min(calls, budget) > budget:
            raise CrmLimitReached(
                "salesforce",
                f"Accord's share of the daily API allowance is used ({self._used} of "
                f"{self._limit} calls used, Accord may use {self._share:.0%} = {budget}; "
                f"{calls} more needed)",
                self.seconds_until_reset())
