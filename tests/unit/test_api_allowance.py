"""Accord's share of Salesforce's daily API allowance, learnt from Sforce-Limit-Info."""

from __future__ import annotations

import math
import threading
from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.sync.api_allowance import ApiAllowance
from services.sync.crm_errors import CrmLimitReached, TransientCrmError

NOON = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)
PROBE = 300.0  # the default probe interval


class Clock:
    def __init__(self, now: datetime = NOON) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def an_allowance(share: float = 0.5, now: datetime = NOON,
                 probe: float = PROBE) -> tuple[ApiAllowance, Clock]:
    clock = Clock(now)
    return ApiAllowance(share, clock, probe_seconds=probe), clock


def test_given_nothing_observed_when_calls_are_taken_then_none_is_refused():
    allowance, _ = an_allowance()
    for _ in range(1000):
        allowance.take()
    assert allowance.budget() is None and allowance.remaining() is None


def test_given_usage_below_the_share_when_a_call_is_taken_then_it_is_counted():
    allowance, _ = an_allowance(share=0.5)
    allowance.observe("api-usage=40/100")
    allowance.take()
    assert allowance.budget() == 50
    assert allowance.remaining() == 9


def test_given_usage_at_the_share_when_a_call_is_taken_then_limit_reached_until_the_probe():
    allowance, _ = an_allowance(share=0.5)
    allowance.observe("api-usage=50/100")
    with pytest.raises(CrmLimitReached) as raised:
        allowance.take()
    assert raised.value.crm == "salesforce"
    # Not until UTC midnight (12 hours away): Salesforce counts over a rolling 24 hours and
    # an admin may raise the limit, so the count is read again after the probe interval.
    assert raised.value.resume_after_seconds == PROBE
    assert isinstance(raised.value, TransientCrmError)  # parked and retried, never dead-lettered
    assert "50 of 100" in str(raised.value)


def test_given_the_share_used_when_the_probe_interval_passes_then_one_call_goes_and_its_count_decides():  # noqa: E501
    allowance, clock = an_allowance(share=0.5)
    allowance.observe("api-usage=50/100")
    clock.now = NOON + timedelta(seconds=PROBE - 10)
    with pytest.raises(CrmLimitReached) as raised:
        allowance.take()
    assert raised.value.resume_after_seconds == 10  # the park ends when the count is stale
    clock.now = NOON + timedelta(seconds=PROBE)
    assert allowance.budget() is None  # stale: as good as no count
    allowance.take()  # the probe
    allowance.observe("api-usage=50/100")  # its answer: still used
    with pytest.raises(CrmLimitReached) as again:
        allowance.take()
    assert again.value.resume_after_seconds == PROBE


def test_given_the_share_used_when_an_admin_raises_the_limit_then_the_probe_finds_it_and_calls_go_on():  # noqa: E501
    allowance, clock = an_allowance(share=0.5)
    allowance.observe("api-usage=50/100")
    clock.now = NOON + timedelta(seconds=PROBE)
    allowance.take()  # the probe
    allowance.observe("api-usage=51/1000")
    for _ in range(10):
        allowance.take()
    assert allowance.remaining() == 500 - 51 - 10


def test_given_usage_below_the_share_when_the_count_goes_stale_then_no_call_is_refused():
    allowance, clock = an_allowance(share=0.5)
    allowance.observe("api-usage=10/100")
    clock.now = NOON + timedelta(seconds=PROBE)
    assert allowance.remaining() is None
    for _ in range(3):
        allowance.take()


def test_given_a_short_probe_interval_when_the_share_is_used_then_the_park_is_that_short():
    allowance, _ = an_allowance(share=1.0, probe=2.0)
    allowance.observe("api-usage=100/100")
    with pytest.raises(CrmLimitReached) as raised:
        allowance.check()
    assert raised.value.resume_after_seconds == 2.0


def test_given_one_call_left_when_two_are_taken_then_the_second_is_refused_before_the_answer():
    allowance, _ = an_allowance(share=0.5)
    allowance.observe("api-usage=49/100")
    allowance.take()
    with pytest.raises(CrmLimitReached):
        allowance.take()


def test_given_a_fractional_share_when_checked_then_the_budget_is_rounded_down():
    allowance, _ = an_allowance(share=0.5)
    allowance.observe("api-usage=7/15")  # 7.5 calls: the 8th would exceed the share
    with pytest.raises(CrmLimitReached):
        allowance.check()


def test_given_per_app_usage_in_the_header_when_observed_then_the_org_count_is_read():
    allowance, _ = an_allowance(share=1.0)
    allowance.observe("api-usage=18/15000; per-app-api-usage=17/250(appName=sample-app)")
    assert allowance.remaining() == 15000 - 18


def test_given_only_per_app_usage_when_observed_then_it_is_not_taken_for_the_org_count():
    allowance, _ = an_allowance(share=1.0)
    allowance.observe("per-app-api-usage=250/250(appName=sample-app)")
    assert allowance.budget() is None


@pytest.mark.parametrize("header", [None, "", "api-usage=", "api-usage=a/b", "garbage"])
def test_given_no_readable_header_when_observed_then_the_last_count_stays(header):
    allowance, _ = an_allowance(share=1.0)
    allowance.observe("api-usage=10/100")
    allowance.observe(header)
    assert allowance.remaining() == 90


def test_given_a_count_read_just_before_utc_midnight_when_refused_then_it_is_stale_at_midnight():
    late = NOON.replace(hour=23, minute=59)
    allowance, clock = an_allowance(share=0.5, now=late)
    allowance.observe("api-usage=100/100")
    with pytest.raises(CrmLimitReached) as raised:
        allowance.take()
    assert raised.value.resume_after_seconds == 60  # midnight comes before the probe
    clock.now = late + timedelta(seconds=61)  # past UTC midnight, well within the probe
    allowance.take()
    assert allowance.budget() is None
    allowance.observe("api-usage=3/100")
    assert allowance.remaining() == 47


def test_given_a_batch_that_does_not_fit_when_checked_then_refused_without_counting():
    allowance, _ = an_allowance(share=0.5)
    allowance.observe("api-usage=48/100")
    with pytest.raises(CrmLimitReached):
        allowance.check(3)
    allowance.check(2)
    assert allowance.remaining() == 2


def test_given_a_batch_bigger_than_a_days_share_when_checked_then_it_goes_while_share_is_left():
    allowance, _ = an_allowance(share=0.5)
    allowance.observe("api-usage=0/10")
    allowance.check(8)  # could never fit in 5: write as far as the share goes
    for _ in range(5):
        allowance.take()
    with pytest.raises(CrmLimitReached):
        allowance.take()


def test_given_a_zero_limit_when_a_call_is_taken_then_refused():
    allowance, _ = an_allowance(share=1.0)
    allowance.observe("api-usage=0/0")
    with pytest.raises(CrmLimitReached):
        allowance.check(1)


@pytest.mark.parametrize("share", [0.0, -0.1, 1.01])
def test_given_a_share_outside_zero_to_one_when_built_then_refused(share):
    with pytest.raises(ValueError, match="share"):
        ApiAllowance(share)


@pytest.mark.parametrize("probe", [0.0, -5.0])
def test_given_a_probe_interval_not_positive_when_built_then_refused(probe):
    with pytest.raises(ValueError, match="probe"):
        ApiAllowance(0.5, probe_seconds=probe)


@given(share=st.floats(0.01, 1.0), limit=st.integers(0, 1_000_000),
       used=st.integers(0, 1_000_000), calls=st.integers(1, 10))
def test_given_any_count_when_calls_taken_then_usage_never_passes_the_share(
        share, limit, used, calls):
    allowance, _ = an_allowance(share=share)
    allowance.observe(f"api-usage={used}/{limit}")
    budget = math.floor(share * limit)
    made = 0
    for _ in range(calls):
        try:
            allowance.take()
        except CrmLimitReached as refused:
            assert 0 < refused.resume_after_seconds <= PROBE
            break
        made += 1
    assert made == min(calls, max(0, budget - used))


@given(now=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                        timezones=st.just(UTC)),
       probe=st.integers(1, 86_400))
def test_given_a_count_read_at_any_moment_when_asked_then_the_probe_is_due_at_the_interval_or_midnight(  # noqa: E501
        now, probe):
    allowance, _ = an_allowance(now=now, probe=probe)
    allowance.observe("api-usage=100/100")
    midnight = datetime.combine(now.date() + timedelta(days=1), time(0), tzinfo=UTC)
    # At least a second, so a caller never spins on a zero wait just before midnight.
    expected = max(1.0, min(probe, (midnight - now).total_seconds()))
    assert allowance.seconds_until_probe() == pytest.approx(expected)
    assert 0 < allowance.seconds_until_probe() <= max(1.0, probe)


def test_given_many_threads_when_they_take_the_last_calls_then_exactly_the_share_is_used():
    allowance, _ = an_allowance(share=0.5)
    allowance.observe("api-usage=0/200")
    granted: list[int] = []
    start = threading.Barrier(16)

    def spend() -> None:
        start.wait()
        for _ in range(20):
            try:
                allowance.take()
            except CrmLimitReached:
                return
            granted.append(1)

    threads = [threading.Thread(target=spend) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(granted) == 100
