"""Working-time calendars: hours per weekday in a time zone, holidays, daylight saving."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.router.working_hours import (
    EVERY_DAY,
    MIDNIGHT,
    ROUND_THE_CLOCK,
    WorkingCalendar,
    WorkingHours,
    add_working_time,
    first_instant,
    is_working,
    working_intervals,
    working_time_between,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
NINE_TO_SIX = (WorkingHours(time(9), time(18)),)
BERLIN_OFFICE = WorkingCalendar("Europe/Berlin", NINE_TO_SIX)
HOUR = timedelta(hours=1)


def local(zone: ZoneInfo, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=zone)


# --- adding working time -------------------------------------------------------------------

def test_given_an_ordinary_weekend_when_one_hour_is_added_friday_1730_then_monday_0930():
    due = add_working_time(BERLIN_OFFICE, local(BERLIN, 2026, 11, 20, 17, 30), HOUR)
    assert due == local(BERLIN, 2026, 11, 23, 9, 30) and due.tzinfo == UTC


def test_given_clocks_go_forward_on_the_weekend_when_one_hour_is_added_then_monday_0930_local():
    # Europe: summer time starts Sunday 29 March 2026 (CET +1 -> CEST +2).
    due = add_working_time(BERLIN_OFFICE, local(BERLIN, 2026, 3, 27, 17, 30), HOUR)
    assert due.astimezone(BERLIN) == local(BERLIN, 2026, 3, 30, 9, 30)
    assert due == datetime(2026, 3, 30, 7, 30, tzinfo=UTC)


def test_given_clocks_go_back_on_the_weekend_when_one_hour_is_added_then_monday_0930_local():
    # US: daylight saving ends Sunday 1 November 2026 (EDT -4 -> EST -5).
    office = WorkingCalendar("America/New_York", NINE_TO_SIX)
    due = add_working_time(office, local(NEW_YORK, 2026, 10, 30, 17, 30), HOUR)
    assert due.astimezone(NEW_YORK) == local(NEW_YORK, 2026, 11, 2, 9, 30)
    assert due == datetime(2026, 11, 2, 14, 30, tzinfo=UTC)


def test_given_a_monday_holiday_when_time_is_added_on_friday_then_it_lands_on_tuesday():
    office = WorkingCalendar("Europe/Berlin", NINE_TO_SIX, frozenset({date(2026, 11, 23)}))
    due = add_working_time(office, local(BERLIN, 2026, 11, 20, 17, 30), HOUR)
    assert due.astimezone(BERLIN) == local(BERLIN, 2026, 11, 24, 9, 30)


def test_given_a_start_before_opening_when_time_is_added_then_it_counts_from_opening():
    due = add_working_time(BERLIN_OFFICE, local(BERLIN, 2026, 11, 23, 7, 0), timedelta(hours=2))
    assert due.astimezone(BERLIN) == local(BERLIN, 2026, 11, 23, 11, 0)


def test_given_work_that_ends_at_closing_when_added_then_it_ends_at_closing_not_next_opening():
    due = add_working_time(BERLIN_OFFICE, local(BERLIN, 2026, 11, 23, 17, 0), HOUR)
    assert due.astimezone(BERLIN) == local(BERLIN, 2026, 11, 23, 18, 0)


def test_given_a_zero_duration_when_added_out_of_hours_then_the_start_itself():
    start = local(BERLIN, 2026, 11, 21, 3, 0)
    assert add_working_time(BERLIN_OFFICE, start, timedelta(0)) == start


def test_given_several_days_of_work_when_added_then_whole_working_days_are_skipped_over():
    due = add_working_time(BERLIN_OFFICE, local(BERLIN, 2026, 11, 19, 12, 0), timedelta(hours=20))
    # Thu 12-18 (6h), Fri 9-18 (9h), Mon 9-14 (5h).
    assert due.astimezone(BERLIN) == local(BERLIN, 2026, 11, 23, 14, 0)


def test_given_different_hours_per_weekday_and_a_lunch_break_when_added_then_all_respected():
    office = WorkingCalendar("Europe/Berlin", (
        WorkingHours(time(9), time(12), frozenset({0, 1, 2, 3})),
        WorkingHours(time(13), time(18), frozenset({0, 1, 2, 3})),
        WorkingHours(time(9), time(13), frozenset({4})),
    ))
    assert add_working_time(office, local(BERLIN, 2026, 11, 23, 11, 0), timedelta(hours=2)) \
        == local(BERLIN, 2026, 11, 23, 14, 0)
    assert add_working_time(office, local(BERLIN, 2026, 11, 27, 12, 0), timedelta(hours=2)) \
        == local(BERLIN, 2026, 11, 30, 10, 0)


def test_given_a_round_the_clock_calendar_when_time_is_added_then_it_is_plain_addition():
    start = datetime(2026, 3, 28, 22, 15, tzinfo=UTC)
    assert add_working_time(ROUND_THE_CLOCK, start, timedelta(days=3)) == start + timedelta(days=3)


@pytest.mark.parametrize("start, duration", [
    (datetime(2026, 11, 23, 10, 0), HOUR),                              # naive
    (datetime(2026, 11, 23, 10, 0, tzinfo=UTC), -HOUR),                 # negative
])
def test_given_bad_arguments_when_adding_working_time_then_value_error(start, duration):
    with pytest.raises(ValueError):
        add_working_time(BERLIN_OFFICE, start, duration)


def test_given_a_calendar_without_working_days_when_adding_time_then_value_error():
    never = WorkingCalendar("UTC", (WorkingHours(time(9), time(17), frozenset()),))
    with pytest.raises(ValueError, match="no working days"):
        add_working_time(never, datetime(2026, 11, 23, tzinfo=UTC), HOUR)


# --- daylight saving days ------------------------------------------------------------------

def test_given_office_hours_on_dst_days_then_each_is_a_full_working_day():
    for day in (date(2026, 3, 29), date(2026, 10, 25)):
        sunday = WorkingCalendar("Europe/Berlin", (WorkingHours(time(9), time(17), EVERY_DAY),))
        (begin, end), = working_intervals(sunday, day)
        assert end - begin == timedelta(hours=8)
        assert begin.astimezone(BERLIN).time() == time(9)


def test_given_hours_over_the_skipped_hour_then_the_day_is_an_hour_shorter():
    night = WorkingCalendar("Europe/Berlin", (WorkingHours(MIDNIGHT, time(4), EVERY_DAY),))
    (begin, end), = working_intervals(night, date(2026, 3, 29))
    assert end - begin == timedelta(hours=3)


def test_given_hours_over_the_repeated_hour_then_the_day_is_an_hour_longer():
    night = WorkingCalendar("Europe/Berlin", (WorkingHours(MIDNIGHT, time(4), EVERY_DAY),))
    (begin, end), = working_intervals(night, date(2026, 10, 25))
    assert end - begin == timedelta(hours=5)
    assert is_working(night, datetime(2026, 10, 25, 1, 30, tzinfo=UTC))   # 02:30 CET, again


def test_given_a_start_inside_the_skipped_hour_then_work_starts_when_the_clocks_jump():
    assert first_instant(BERLIN, datetime(2026, 3, 29, 2, 30)) \
        == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)                         # 03:00 CEST
    skipped = WorkingCalendar("Europe/Berlin", (WorkingHours(time(2), time(2, 30), EVERY_DAY),))
    assert working_intervals(skipped, date(2026, 3, 29)) == ()


def test_given_a_repeated_wall_time_then_it_means_its_first_occurrence():
    assert first_instant(BERLIN, datetime(2026, 10, 25, 2, 30)) \
        == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)                       # 02:30 CEST


# --- is_working and working_time_between ---------------------------------------------------

def test_given_times_around_the_office_hours_then_is_working_follows_the_local_clock():
    assert is_working(BERLIN_OFFICE, local(BERLIN, 2026, 11, 23, 9, 0))
    assert not is_working(BERLIN_OFFICE, local(BERLIN, 2026, 11, 23, 18, 0))
    assert not is_working(BERLIN_OFFICE, local(BERLIN, 2026, 11, 22, 12, 0))   # Sunday
    assert is_working(BERLIN_OFFICE, datetime(2026, 11, 23, 16, 59, tzinfo=UTC))
    holiday = WorkingCalendar("Europe/Berlin", NINE_TO_SIX, frozenset({date(2026, 12, 25)}))
    assert not is_working(holiday, local(BERLIN, 2026, 12, 25, 12, 0))


def test_given_a_weekend_in_between_then_only_working_time_is_counted():
    friday, monday = local(BERLIN, 2026, 11, 20, 17, 0), local(BERLIN, 2026, 11, 23, 10, 0)
    assert working_time_between(BERLIN_OFFICE, friday, monday) == timedelta(hours=2)
    assert working_time_between(BERLIN_OFFICE, monday, friday) == -timedelta(hours=2)


def test_given_invalid_hours_or_zone_then_value_error():
    with pytest.raises(ValueError, match="end"):
        WorkingHours(time(18), time(9))
    with pytest.raises(ValueError, match="weekdays"):
        WorkingHours(time(9), time(18), frozenset({7}))
    with pytest.raises(ValueError, match="time zone"):
        WorkingCalendar("Mars/Olympus_Mons", NINE_TO_SIX)


def test_given_midnight_as_end_then_hours_run_to_the_end_of_the_day():
    evening = WorkingHours(time(20), MIDNIGHT, EVERY_DAY)
    assert evening.contains(datetime(2026, 11, 23, 23, 59))
    assert not evening.contains(datetime(2026, 11, 23, 19, 59))


# --- properties ----------------------------------------------------------------------------

# Zones with daylight saving at 02:00, 00:00 (Santiago), a 30-minute shift (Lord Howe),
# and odd offsets.
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "America/Santiago", "Australia/Lord_Howe",
         "Asia/Kolkata", "Asia/Tokyo"]
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
MINUTES_IN_TWO_YEARS = 2 * 366 * 24 * 60


def quarter_hour(q: int) -> time:
    return MIDNIGHT if q == 96 else time(q // 4, q % 4 * 15)


def hours_between(first_quarter: int, last_quarter: int) -> st.SearchStrategy[WorkingHours]:
    def build(bounds: tuple[int, int], days: frozenset[int]) -> WorkingHours:
        start, end = sorted(bounds)
        return WorkingHours(quarter_hour(start), quarter_hour(end), days)
    quarters = st.integers(first_quarter, last_quarter)
    return st.builds(build, st.tuples(quarters, quarters).filter(lambda b: b[0] != b[1]),
                     st.frozensets(st.integers(0, 6), min_size=1))


def calendars(first_quarter: int = 0, last_quarter: int = 96,
              ) -> st.SearchStrategy[WorkingCalendar]:
    holidays = st.frozensets(st.dates(date(2026, 1, 1), date(2027, 12, 31)), max_size=20)
    return st.builds(WorkingCalendar, st.sampled_from(ZONES),
                     st.lists(hours_between(first_quarter, last_quarter), min_size=1,
                              max_size=3).map(tuple), holidays)


instants = st.integers(0, MINUTES_IN_TWO_YEARS).map(lambda m: EPOCH + timedelta(minutes=m))
durations = st.integers(0, 60 * 24 * 10).map(lambda m: timedelta(minutes=m))


@settings(max_examples=300, deadline=None)
@given(calendars(), instants, durations)
def test_property_adding_then_measuring_gives_back_the_duration(calendar, start, duration):
    due = add_working_time(calendar, start, duration)
    assert due >= start
    assert working_time_between(calendar, start, due) == duration
    if duration:
        # Due is the earliest such instant: the moment just before it was working time.
        assert is_working(calendar, due - timedelta(microseconds=1))


@settings(max_examples=200, deadline=None)
@given(calendars(), instants, durations, durations)
def test_property_more_work_never_ends_earlier_and_adds_up(calendar, start, first, second):
    one = add_working_time(calendar, start, first)
    both = add_working_time(calendar, start, first + second)
    assert both >= one
    assert add_working_time(calendar, one, second) == both


@settings(max_examples=200, deadline=None)
@given(calendars(), instants, instants, instants)
def test_property_working_time_is_additive_over_consecutive_spans(calendar, p, q, r):
    a, b, c = sorted((p, q, r))
    whole = working_time_between(calendar, a, c)
    assert whole == working_time_between(calendar, a, b) + working_time_between(calendar, b, c)
    assert timedelta(0) <= whole <= c - a


@settings(max_examples=300, deadline=None)
@given(calendars(), instants)
def test_property_is_working_means_working_time_passes_right_then(calendar, instant):
    minute_later = instant + timedelta(minutes=1)
    passing = working_time_between(calendar, instant, minute_later)
    assert is_working(calendar, instant) == (passing == timedelta(minutes=1))


def wall_clock_says_working(calendar: WorkingCalendar, instant: datetime) -> bool:
    """The naive reading of a calendar: look at the local wall clock."""
    wall = instant.astimezone(ZoneInfo(calendar.timezone))
    return (wall.date() not in calendar.holidays
            and any(hours.contains(wall) for hours in calendar.hours))


@settings(max_examples=100, deadline=None)
@given(calendars(first_quarter=16, last_quarter=88), instants,
       st.integers(0, 3 * 24 * 60))
def test_property_away_from_dst_changes_it_agrees_with_reading_the_wall_clock(
        calendar, start, minutes):
    # Hours between 04:00 and 22:00 never start or end in a skipped or repeated hour.
    moments = [start + timedelta(minutes=m) for m in range(minutes)]
    assert all(is_working(calendar, m) == wall_clock_says_working(calendar, m)
               for m in moments[::7])
    expected = sum(wall_clock_says_working(calendar, m) for m in moments)
    assert working_time_between(calendar, start, start + timedelta(minutes=minutes)) \
        == timedelta(minutes=expected)
