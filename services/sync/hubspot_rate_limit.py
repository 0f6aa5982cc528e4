"""Client-side HubSpot rate limiting for one account (private app): pure, thread-safe.

HubSpot limits a private app to ``X-HubSpot-RateLimit-Max`` calls per rolling window of
``X-HubSpot-RateLimit-Interval-Milliseconds`` (10 s), and the account to
``X-HubSpot-RateLimit-Daily`` calls a day; every answer carries those headers and what is left
(``-Remaining``, ``-Daily-Remaining``). The limiter learns them from every answer and makes
``acquire()`` wait until a call fits ``share`` of the window, so the worker never earns a 429.

Each call counts in the window from the moment it is admitted until ``interval`` after its
answer arrived: HubSpot counts a call when it *arrives*, which is some time between the two,
so counting from the answer can only over-count, never under-count.
"""

from __future__ import annotations

import heapq
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from itertools import chain

from services.sync.crm_errors import CrmLimitReached

DEFAULT_INTERVAL_SECONDS = 10.0
SECONDLY_INTERVAL_SECONDS = 1.0


def _header(headers: Mapping[str, str], name: str) -> int | None:
    """An integer header, looked up without regard to case; None if absent or garbled."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            try:
                return int(str(value).strip())
            except ValueError:
                return None
    return None


def seconds_until_utc_midnight(now: float) -> float:
    """Seconds from ``now`` (epoch) to the next UTC midnight.

    HubSpot resets the daily limit at midnight in the account's own time zone, which the API
    does not tell us: UTC is an approximation that can be off by the zone's offset.
    """
    moment = datetime.fromtimestamp(now, tz=UTC)
    midnight = datetime(moment.year, moment.month, moment.day, tzinfo=UTC) + timedelta(days=1)
    return max(1.0, (midnight - moment).total_seconds())


class HubSpotRateLimiter:
    """Admits calls within ``share`` of HubSpot's rolling window and below the daily cap.

    Call ``acquire()`` before each API call and ``completed(headers)`` exactly once after it
    (with the answer's headers, or None when no answer came). After a 429 also call
    ``pause()`` (rolling or secondly limit) or ``daily_limit_reached()`` (daily limit).
    """

    def __init__(self, share: float = 0.9, *, clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if not 0.0 < share <= 1.0:
            raise ValueError(f"hubspot_rate_share must be in (0, 1], not {share}")
        self._share = share
        self._clock, self._wall_clock, self._sleep = clock, wall_clock, sleep
        self._cond = threading.Condition()
        self._max: int | None = None  # unknown until the first answer: probe one call at a time
        self._interval = DEFAULT_INTERVAL_SECONDS
        self._in_flight = 0
        self._done: deque[float] = deque()  # answer times of our calls, oldest first
        self._foreign: deque[float] = deque()  # calls of other clients the headers revealed
        self._paused_until = 0.0
        self._daily_limit: int | None = None
        self._daily_remaining: int | None = None
        self._daily_day = ""
        self._daily_pending = 0  # admitted since Daily-Remaining was read
        self.calls = 0  # admitted calls, for tests and metrics
        self.throttled = 0  # 429 answers reported through pause() or daily_limit_reached()

    @property
    def allowed(self) -> int:
        """How many calls we may have in one window (1 while the limits are unknown)."""
        with self._cond:
            return self._allowed()

    def _allowed(self) -> int:
        if self._max is None:
            return 1
        return max(1, math.floor(self._share * self._max + 1e-9))

    def _utc_day(self) -> str:
        return datetime.fromtimestamp(self._wall_clock(), tz=UTC).date().isoformat()

    def _prune(self, now: float) -> None:
        # An entry counts while it is younger than the interval, as HubSpot's window does.
        for entries in (self._done, self._foreign):
            while entries and entries[0] <= now - self._interval:
                entries.popleft()

    def _delay(self, now: float) -> float:
        """0 when a call may start now, else how long to wait (inf: until a call ends)."""
        if self._paused_until > now:
            return self._paused_until - now
        self._prune(now)
        excess = self._in_flight + len(self._done) + len(self._foreign) - self._allowed() + 1
        if excess <= 0:
            return 0.0
        expiring = heapq.nsmallest(excess, chain(self._done, self._foreign))
        if len(expiring) < excess:
            return math.inf  # calls in flight fill the window: wait for their answers
        # A microsecond more, so float rounding cannot wake us just before the slot frees.
        return expiring[-1] + self._interval - now + 1e-6

    def _check_daily(self) -> None:
        if self._daily_remaining is None:
            return
        if self._daily_day != self._utc_day():  # a new day: the cap is reset, forget it
            self._daily_remaining, self._daily_pending = None, 0
            return
        if self._daily_remaining - self._daily_pending <= 0:
            raise self._daily_error()

    def _daily_error(self) -> CrmLimitReached:
        limit = f" of {self._daily_limit} calls" if self._daily_limit else ""
        return CrmLimitReached("HubSpot", f"daily API limit{limit} reached",
                               seconds_until_utc_midnight(self._wall_clock()))

    def acquire(self) -> None:
        """Wait for a slot in the window; raise CrmLimitReached at the daily cap."""
        with self._cond:
            while True:
                self._check_daily()
                delay = self._delay(self._clock())
                if delay <= 0:
                    self._in_flight += 1
                    self._daily_pending += 1
                    self.calls += 1
                    return
                if math.isinf(delay):
                    self._cond.wait(timeout=self._interval)
                    continue
                # Sleep without the lock, so answers and other threads are not held up.
                self._cond.release()
                try:
                    self._sleep(delay)
                finally:
                    self._cond.acquire()

    def completed(self, headers: Mapping[str, str] | None) -> None:
        """A call admitted by ``acquire()`` is over; learn the limits from its answer."""
        with self._cond:
            now = self._clock()
            self._in_flight = max(0, self._in_flight - 1)
            self._done.append(now)
            if headers:
                self._learn(headers, now)
            self._cond.notify_all()

    def _learn(self, headers: Mapping[str, str], now: float) -> None:
        interval_ms = _header(headers, "X-HubSpot-RateLimit-Interval-Milliseconds")
        if interval_ms and interval_ms > 0:
            self._interval = interval_ms / 1000
        most = _header(headers, "X-HubSpot-RateLimit-Max")
        if most and most > 0:
            self._max = most
            remaining = _header(headers, "X-HubSpot-RateLimit-Remaining")
            self._prune(now)
            if remaining is not None:
                # HubSpot counted more calls than ours: another client of the same app uses
                # the window. Count them as made now (they were made earlier: over-counting).
                unexplained = (most - remaining) - (len(self._done) + self._in_flight)
                for _ in range(unexplained - len(self._foreign)):
                    self._foreign.append(now)
        daily = _header(headers, "X-HubSpot-RateLimit-Daily")
        daily_remaining = _header(headers, "X-HubSpot-RateLimit-Daily-Remaining")
        if daily_remaining is not None:
            self._daily_limit = daily
            self._daily_remaining = daily_remaining
            self._daily_day = self._utc_day()
            # Calls still in flight may not be counted in this answer yet: assume they are not.
            self._daily_pending = self._in_flight

    def pause(self, seconds: float | None = None) -> None:
        """HubSpot answered 429 for its rolling (or secondly) window: admit nothing for
        ``seconds`` (default: one whole window, the longest the window can stay full)."""
        with self._cond:
            self.throttled += 1
            wait = self._interval if seconds is None else seconds
            self._paused_until = max(self._paused_until, self._clock() + wait)

    def daily_limit_reached(self) -> CrmLimitReached:
        """HubSpot answered 429 DAILY: refuse every call until midnight; the error to raise."""
        with self._cond:
            self.throttled += 1
            self._daily_remaining, self._daily_pending = 0, 0
            self._daily_day = self._utc_day()
            return self._daily_error()
