"""The HubSpot rate limiter, driven by a fake clock (and one test with real threads)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.sync.crm_errors import CrmLimitReached
from services.sync.hubspot_rate_limit import HubSpotRateLimiter, seconds_until_utc_midnight

NOON = datetime(2026, 3, 1, 12, 0, tzinfo=UTC).timestamp()


class FakeClock:
    """Monotonic and wall time that only move when the limiter sleeps or a test says so."""

    def __init__(self, wall_start: float = NOON) -> None:
        self.now = 0.0
        self.wall_start = wall_start
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.wall_start + self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


def limiter_on(clock: FakeClock, share: float = 0.9) -> HubSpotRateLimiter:
    return HubSpotRateLimiter(share, clock=clock.monotonic, wall_clock=clock.wall,
                              sleep=clock.sleep)


def headers(most: int = 10, remaining: int | None = None, daily: int = 1000,
            daily_remaining: int = 900, interval_ms: int = 10_000) -> dict[str, str]:
    answer = {"X-HubSpot-RateLimit-Max": str(most),
              "X-HubSpot-RateLimit-Interval-Milliseconds": str(interval_ms),
              "X-HubSpot-RateLimit-Daily": str(daily),
              "X-HubSpot-RateLimit-Daily-Remaining": str(daily_remaining)}
    if remaining is not None:
        answer["X-HubSpot-RateLimit-Remaining"] = str(remaining)
    return answer


def most_in_any_window(times: list[float], interval: float = 10.0) -> int:
    """The most calls at these times that any window (t - interval, t] holds."""
    ordered = sorted(times)
    return max((sum(1 for x in ordered[:j + 1] if x > t - interval)
                for j, t in enumerate(ordered)), default=0)


def call(limiter: HubSpotRateLimiter, clock: FakeClock, answer: dict[str, str] | None,
         duration: float = 0.0) -> float:
    limiter.acquire()
    started = clock.now
    clock.advance(duration)
    limiter.completed(answer)
    return started


def test_given_no_answer_yet_when_asked_then_one_call_at_a_time_is_allowed() -> None:
    limiter = limiter_on(FakeClock())

    assert limiter.allowed == 1


def test_given_max_ten_and_share_point_nine_when_answered_then_nine_calls_per_window() -> None:
    clock = FakeClock()
    limiter = limiter_on(clock)

    call(limiter, clock, headers(most=10))

    assert limiter.allowed == 9


def test_given_a_full_window_when_acquiring_then_waits_until_the_oldest_answer_is_ten_s_old(
        ) -> None:
    clock = FakeClock()
    limiter = limiter_on(clock)

    starts = [call(limiter, clock, headers(most=10), duration=0.1) for _ in range(10)]

    assert starts[:9] == pytest.approx([0.1 * i for i in range(9)])
    # The first call was answered at 0.1 s: its slot frees 10 s later.
    assert starts[9] == pytest.approx(10.1)
    assert most_in_any_window(starts) == 9


def test_given_headers_lower_the_limit_when_acquiring_then_the_new_limit_applies() -> None:
    clock = FakeClock()
    limiter = limiter_on(clock, share=1.0)
    call(limiter, clock, headers(most=100))

    call(limiter, clock, headers(most=3))
    call(limiter, clock, headers(most=3))
    fourth = call(limiter, clock, headers(most=3))

    assert fourth == pytest.approx(10.0)


def test_given_other_clients_used_the_window_when_acquiring_then_their_calls_count() -> None:
    clock = FakeClock()
    limiter = limiter_on(clock, share=1.0)

    # After our first call HubSpot has 2 left of 10: 7 calls were someone else's.
    call(limiter, clock, headers(most=10, remaining=2))
    second = call(limiter, clock, headers(most=10, remaining=1))
    third = call(limiter, clock, headers(most=10, remaining=0))
    fourth = call(limiter, clock, headers(most=10, remaining=9))

    assert (second, third) == (0.0, 0.0)
    assert fourth == pytest.approx(10.0)


def test_given_lower_case_or_garbled_headers_when_answered_then_read_or_ignored() -> None:
    clock = FakeClock()
    limiter = limiter_on(clock)

    call(limiter, clock, {"x-hubspot-ratelimit-max": "20"})
    call(limiter, clock, {"X-HubSpot-RateLimit-Max": "lots"})

    assert limiter.allowed == 18


def test_given_a_429_for_the_window_when_paused_then_nothing_is_admitted_for_ten_s() -> None:
    clock = FakeClock()
    limiter = limiter_on(clock)
    call(limiter, clock, headers(most=100))

    limiter.pause()
    resumed = call(limiter, clock, headers(most=100))

    assert resumed == pytest.approx(10.0)
    assert limiter.throttled == 1


def test_given_a_secondly_429_when_paused_for_one_s_then_admitted_after_one_s() -> None:
    clock = FakeClock()
    limiter = limiter_on(clock)
    call(limiter, clock, headers(most=100))

    limiter.pause(1.0)

    assert call(limiter, clock, headers(most=100)) == pytest.approx(1.0)


def test_given_two_calls_left_today_when_a_third_is_asked_then_limit_reached_until_midnight(
        ) -> None:
    clock = FakeClock(wall_start=datetime(2026, 3, 1, 23, 0, tzinfo=UTC).timestamp())
    limiter = limiter_on(clock)
    call(limiter, clock, headers(most=100, daily=500, daily_remaining=2))
    call(limiter, clock, headers(most=100, daily=500, daily_remaining=1))
    call(limiter, clock, headers(most=100, daily=500, daily_remaining=0))

    with pytest.raises(CrmLimitReached) as reached:
        limiter.acquire()

    assert reached.value.resume_after_seconds == pytest.approx(3600)
    assert "daily API limit of 500 calls reached" in str(reached.value)
    assert clock.slept == []


def test_given_daily_cap_reached_when_the_utc_day_changes_then_calls_are_admitted() -> None:
    clock = FakeClock(wall_start=datetime(2026, 3, 1, 23, 59, 50, tzinfo=UTC).timestamp())
    limiter = limiter_on(clock)
    call(limiter, clock, headers(most=100, daily_remaining=0))
    with pytest.raises(CrmLimitReached):
        limiter.acquire()

    clock.advance(11)

    limiter.acquire()


def test_given_a_daily_429_when_reported_then_every_later_call_is_refused_until_midnight(
        ) -> None:
    clock = FakeClock(wall_start=datetime(2026, 3, 1, 18, 0, tzinfo=UTC).timestamp())
    limiter = limiter_on(clock)
    call(limiter, clock, headers(most=100, daily_remaining=5000))

    error = limiter.daily_limit_reached()

    assert error.resume_after_seconds == pytest.approx(6 * 3600)
    with pytest.raises(CrmLimitReached):
        limiter.acquire()


def test_given_calls_in_flight_when_daily_remaining_is_read_then_they_are_not_assumed_counted(
        ) -> None:
    clock = FakeClock()
    limiter = limiter_on(clock)
    call(limiter, clock, headers(most=100, daily_remaining=5))
    limiter.acquire()
    limiter.acquire()

    limiter.completed(headers(most=100, daily_remaining=2))  # one of two answered
    limiter.acquire()

    with pytest.raises(CrmLimitReached):
        limiter.acquire()


@pytest.mark.parametrize("share", [0.0, -0.1, 1.01])
def test_given_a_share_outside_zero_to_one_when_built_then_refused(share: float) -> None:
    with pytest.raises(ValueError, match="hubspot_rate_share"):
        HubSpotRateLimiter(share)


def test_given_times_of_day_when_asked_then_seconds_until_utc_midnight() -> None:
    assert seconds_until_utc_midnight(
        datetime(2026, 3, 1, 23, 59, 30, tzinfo=UTC).timestamp()) == pytest.approx(30)
    assert seconds_until_utc_midnight(
        datetime(2026, 3, 1, 0, 0, tzinfo=UTC).timestamp()) == pytest.approx(86_400)


calls_strategy = st.lists(
    st.tuples(st.floats(0, 3), st.floats(0, 2), st.floats(0, 1), st.booleans()),
    min_size=1, max_size=80)


@settings(max_examples=200, deadline=None)
@given(most=st.integers(1, 30), share=st.floats(0.05, 1.0), calls=calls_strategy)
def test_property_given_any_calls_when_limited_then_no_window_holds_more_than_share_of_max(
        most: int, share: float, calls: list[tuple[float, float, float, bool]]) -> None:
    clock = FakeClock()
    limiter = limiter_on(clock, share=share)
    arrivals: list[float] = []
    for gap, duration, arrives_at, answered in calls:
        clock.advance(gap)
        limiter.acquire()
        # HubSpot counts the call when it arrives: somewhere between sending and answer.
        arrivals.append(clock.now + duration * arrives_at)
        clock.advance(duration)
        limiter.completed(headers(most=most, daily_remaining=10**6) if answered else None)

    assert most_in_any_window(arrivals) <= max(1, int(share * most + 1e-9))


def test_given_threads_sharing_a_limiter_when_calling_then_no_window_exceeds_the_share(
        ) -> None:
    limiter = HubSpotRateLimiter(0.9)
    limiter.acquire()
    limiter.completed(headers(most=10, interval_ms=500))  # 9 calls per 0.5 s
    started: list[float] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(6):
            limiter.acquire()
            with lock:
                started.append(time.monotonic())
            time.sleep(0.005)
            limiter.completed(headers(most=10, interval_ms=500))

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(started) == 36
    assert most_in_any_window(started, interval=0.5) <= 9
    assert max(started) - min(started) >= 3 * 0.5  # 36 calls need at least 4 windows
