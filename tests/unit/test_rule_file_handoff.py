"""`pools`, `slas`, `assign: {pool: ...}` and a route's `sla` in a rule file: each mistake
names its line and what to write instead."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest

from services.router.rules.handoff_sections import parse_duration
from services.router.rules.loader import RuleFileError, parse_rules

VALID = """\
version: "1"
stages:
  - {stage: mql, when: score >= 0}
pools:
  - name: sdr
    fallback: queue@example.com
    members:
      - {email: ana@example.com, weight: 2, daily_capacity: 5, timezone: Europe/Berlin,
         hours: [{days: mon-fri, from: "09:00", to: "17:30"}],
         out_of_office: [{from: 2026-12-24, to: 2026-12-31}, 2027-01-02]}
      - {email: bo@example.com}
slas:
  - name: hot
    first_touch: 1h30m
    calendar: {timezone: America/New_York, hours: [{days: [mon, wed], from: "08:00", to: "12:00"}],
               holidays: [2026-12-25]}
    escalate: {to: next_in_pool, manager: boss@example.com}
    max_escalations: 2
routing:
  - name: to_sdr
    when: score >= 0
    assign: {pool: sdr}
    sla: hot
  - name: rest
    default: true
    assign: {queue: nurture@example.com}
"""


def line_of(text: str) -> int:
    """The 1-based line of VALID holding ``text``."""
    return next(n for n, line in enumerate(VALID.splitlines(), 1) if text in line)


def problems_of(text: str) -> list[tuple[int, str, str]]:
    with pytest.raises(RuleFileError) as caught:
        parse_rules(text, "rules.yaml")
    return [(p.line, p.message, p.hint) for p in caught.value.problems]


def test_given_pools_and_slas_when_loaded_then_members_calendars_and_routes_are_read():
    rules = parse_rules(VALID)
    pool = rules.pool("sdr")
    assert pool is not None and pool.fallback == "queue@example.com"
    ana, bo = pool.members
    assert (ana.weight, ana.daily_capacity, ana.timezone) == (2, 5, "Europe/Berlin")
    assert ana.out_of_office == ((date(2026, 12, 24), date(2026, 12, 31)),
                                 (date(2027, 1, 2), date(2027, 1, 2)))
    assert ana.calendar.hours[0].days == frozenset({0, 1, 2, 3, 4})
    assert ana.calendar.hours[0].end == time(17, 30)
    assert (bo.weight, bo.daily_capacity, bo.hours) == (1, None, None)
    sla = rules.sla("hot")
    assert sla is not None and sla.first_touch == timedelta(hours=1, minutes=30)
    assert sla.calendar.hours[0].days == frozenset({0, 2})
    assert sla.calendar.holidays == frozenset({date(2026, 12, 25)})
    assert (sla.escalation.to, sla.escalation.manager, sla.max_escalations) == (
        "next_in_pool", "boss@example.com", 2)
    route = rules.route("to_sdr")
    assert route is not None and (route.assign.kind, route.assign.email, route.sla) == (
        "pool", "sdr", "hot")


def test_given_a_route_naming_an_unknown_pool_when_loaded_then_the_line_and_the_pools():
    [(line, message, hint)] = problems_of(VALID.replace("{pool: sdr}", "{pool: sdrs}"))
    assert (line, message, hint) == (line_of("{pool: sdr}"), "no pool `sdrs` in this file",
                                     "pools: sdr")


def test_given_a_route_naming_an_unknown_sla_when_loaded_then_the_line_and_the_slas():
    [(line, message, hint)] = problems_of(VALID.replace("sla: hot", "sla: warm"))
    assert (line, message, hint) == (line_of("sla: hot"), "no SLA `warm` in this file",
                                     "SLAs: hot")


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("first_touch: 1h30m", "first_touch: soon", "first_touch `soon` is not a duration"),
    ("America/New_York", "America/Gotham", "unknown time zone 'America/Gotham'"),
    ('from: "09:00"', 'from: "9am"', '`from: 9am` is not a time of day'),
    ("days: mon-fri", "days: monday-friday", "days `monday-friday` are not day names"),
    ("weight: 2", "weight: two", "weight `two` is not a whole number of 0 or more"),
    ("{to: next_in_pool, manager: boss@example.com}", "{to: manager}",
     "escalating to a manager needs the manager's email"),
])
def test_given_a_mistake_in_pools_or_slas_when_loaded_then_only_it_with_its_line(
        old, new, expected):
    # The problem is reported on the line of the mistake, and nothing else is reported
    # (no knock-on "no SLA named ..." for a route naming the SLA that failed to load).
    assert problems_of(VALID.replace(old, new)) == [
        (line_of(old), expected, problems_of(VALID.replace(old, new))[0][2])]


def test_given_a_member_listed_twice_when_loaded_then_the_members_line_says_so():
    text = VALID.replace("      - {email: bo@example.com}", "      - {email: ana@example.com}")
    [(line, message, hint)] = problems_of(text)
    assert (line, message, hint) == (line_of("{email: bo@example.com}"),
                                     "ana@example.com is listed twice in pool sdr",
                                     "list every member once")


@pytest.mark.parametrize(("text", "minutes"), [
    ("1h", 60), ("30m", 30), ("1h30m", 90), ("2d", 2880), ("45s", 0.75)])
def test_given_a_duration_when_parsed_then_its_length(text, minutes):
    assert parse_duration(text) == timedelta(minutes=minutes)


@pytest.mark.parametrize("text", ["", "0h", "soon", "1x", "-1h"])
def test_given_no_duration_when_parsed_then_none(text):
    assert parse_duration(text) is None
