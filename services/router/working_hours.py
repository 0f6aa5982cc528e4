"""Working-time calendars: hours per weekday in an IANA time zone, minus holidays. Pure.

A calendar turns each local date into UTC intervals of working time. An interval runs from
the first moment the local clock shows its start to the first moment it shows its end, so
daylight saving is handled by the time zone database, not by arithmetic on wall times:

* when clocks go forward, a working day is an hour shorter (09:00-18:00 on the night after
  the change still starts at the first 09:00) and a start or end inside the skipped hour
  moves to the moment of the jump;
* when clocks go back, a day whose hours span the repeated hour is an hour longer, and a
  start or end inside the repeated hour means its first occurrence.

``add_working_time`` and ``working_time_between`` count only time inside those intervals, and
``is_working`` is membership of the same intervals, so the three always agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS: frozenset[int] = frozenset({0, 1, 2, 3, 4})
EVERY_DAY: frozenset[int] = frozenset(range(7))
# As an end time, midnight means the end of the day (``time`` cannot say 24:00).
MIDNIGHT = time(0)

_DAY = timedelta(days=1)


@dataclass(frozen=True)
class WorkingHours:
    """Hours on the listed weekdays (0 = Monday), in local time; ``end`` is exclusive.

    ``end=MIDNIGHT`` means until the end of the day, so ``WorkingHours(MIDNIGHT, MIDNIGHT,
    EVERY_DAY)`` is round the clock. Shifts that cross midnight are two entries.
    """

    start: time
    end: time
    days: frozenset[int] = WEEKDAYS

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("working hours are local times: give them without a time zone")
        if not self.days <= EVERY_DAY:
            raise ValueError(f"weekdays are 0 (Monday) to 6 (Sunday), not {sorted(self.days)}")
        if self.end != MIDNIGHT and self.end <= self.start:
            raise ValueError(f"working hours end ({self.end}) before they start ({self.start})")

    def contains(self, local: datetime) -> bool:
        """True when the wall-clock time ``local`` falls within these hours."""
        clock = local.time()
        return (local.weekday() in self.days and self.start <= clock
                and (self.end == MIDNIGHT or clock < self.end))

    def span(self) -> tuple[timedelta, timedelta]:
        """Start and end as offsets from local midnight (the end may be 24 hours)."""
        end = _DAY if self.end == MIDNIGHT else _since_midnight(self.end)
        return _since_midnight(self.start), end


@dataclass(frozen=True)
class WorkingCalendar:
    """When work happens: ``hours`` in the IANA ``timezone``, except on ``holidays``.

    Several entries may cover the same weekday (a lunch break, a short Friday); their union
    counts. Holidays are local dates with no working time at all.
    """

    timezone: str
    hours: tuple[WorkingHours, ...]
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.timezone!r}") from exc

    @property
    def zone(self) -> ZoneInfo:
        """The calendar's time zone."""
        return ZoneInfo(self.timezone)

    @property
    def has_working_days(self) -> bool:
        """False for a calendar that never works (adding time to it would never end)."""
        return any(h.days for h in self.hours)


ROUND_THE_CLOCK = WorkingCalendar("UTC", (WorkingHours(MIDNIGHT, MIDNIGHT, EVERY_DAY),))


def is_working(calendar: WorkingCalendar, instant: datetime) -> bool:
    """True when ``instant`` (time-zone aware) lies within the calendar's working time."""
    moment = as_utc(instant)
    day = moment.astimezone(calendar.zone).date()
    return any(start <= moment < end
               for d in (day - _DAY, day, day + _DAY)
               for start, end in working_intervals(calendar, d))


def add_working_time(calendar: WorkingCalendar, start: datetime,
                     duration: timedelta) -> datetime:
    """The earliest UTC instant by which ``duration`` of working time has passed since
    ``start``: one hour from Friday 17:30 with 09:00-18:00 hours is Monday 09:30 local.

    A zero duration gives ``start`` itself; work that ends exactly at closing time ends then
    (not at the next opening).
    """
    if duration < timedelta(0):
        raise ValueError(f"cannot add a negative duration ({duration})")
    moment = as_utc(start)
    if duration == timedelta(0):
        return moment
    if not calendar.has_working_days:
        raise ValueError("the calendar has no working days: working time never passes")
    remaining = duration
    day = moment.astimezone(calendar.zone).date() - _DAY
    while True:
        for begin, end in working_intervals(calendar, day):
            if end <= moment:
                continue
            begin = max(begin, moment)
            if remaining <= end - begin:
                return begin + remaining
            remaining -= end - begin
        day += _DAY


def working_time_between(calendar: WorkingCalendar, a: datetime, b: datetime) -> timedelta:
    """Working time from ``a`` to ``b`` (negative when ``b`` is before ``a``)."""
    first, last = as_utc(a), as_utc(b)
    if last < first:
        return -working_time_between(calendar, last, first)
    zone = calendar.zone
    total = timedelta(0)
    day = first.astimezone(zone).date() - _DAY
    final_day = last.astimezone(zone).date() + _DAY
    while day <= final_day:
        for begin, end in working_intervals(calendar, day):
            overlap = min(end, last) - max(begin, first)
            if overlap > timedelta(0):
                total += overlap
        day += _DAY
    return total


@lru_cache(maxsize=4096)
def working_intervals(calendar: WorkingCalendar, day: date,
                      ) -> tuple[tuple[datetime, datetime], ...]:
    """The working time of local date ``day`` as ordered, disjoint UTC intervals."""
    if day in calendar.holidays:
        return ()
    spans = sorted(h.span() for h in calendar.hours if day.weekday() in h.days)
    merged: list[tuple[timedelta, timedelta]] = []
    for begin, end in spans:
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((begin, end))
    midnight = datetime.combine(day, MIDNIGHT)
    zone = calendar.zone
    intervals = ((first_instant(zone, midnight + begin), first_instant(zone, midnight + end))
                 for begin, end in merged)
    # A span entirely inside a skipped hour is empty.
    return tuple((begin, end) for begin, end in intervals if begin < end)


def first_instant(zone: ZoneInfo, local: datetime) -> datetime:
    """The first UTC instant at which the clock in ``zone`` shows ``local`` (naive) or later.

    For a repeated wall time that is its first occurrence; for a skipped one, the moment
    the clocks jumped.
    """
    reading = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if _wall(reading, zone) == local:
        return reading
    # Skipped: the two readings of ``local`` fall either side of the jump; find it (to the
    # second, as time zone transitions are whole seconds).
    readings = (reading, local.replace(tzinfo=zone, fold=1).astimezone(UTC))
    low = math.floor(min(readings).timestamp())
    high = math.ceil(max(readings).timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if _wall(datetime.fromtimestamp(middle, UTC), zone) >= local:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def _wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def _since_midnight(clock: time) -> timedelta:
    return timedelta(hours=clock.hour, minutes=clock.minute, seconds=clock.second,
                     microseconds=clock.microsecond)


def as_utc(instant: datetime) -> datetime:
    """``instant`` in UTC; raises ``ValueError`` for a naive datetime."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{instant.isoformat()} has no time zone: give an aware datetime")
    return instant.astimezone(UTC)
