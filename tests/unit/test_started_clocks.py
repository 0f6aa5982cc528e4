"""Clocks started for a batch's leads reuse the working-time arithmetic (``handoff``)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from services.router.handoff import _started
from services.router.sla import Escalation, SlaPolicy, start_clock
from services.router.working_hours import WorkingCalendar, WorkingHours

OFFICE = WorkingCalendar("Europe/Berlin", (WorkingHours(time(9), time(18)),))
FRIDAY_1730 = datetime(2026, 11, 20, 16, 30, tzinfo=UTC)


def a_policy(hours: int = 1) -> SlaPolicy:
    return SlaPolicy(name="inbound", first_touch=timedelta(hours=hours), calendar=OFFICE,
                     escalation=Escalation("manager", manager="boss@x.example"))


def test_given_leads_started_together_when_clocks_start_then_each_is_start_clocks():
    policy = a_policy()
    for lead in ("a@x.example", "b@x.example"):
        clock = _started(policy, lead, "route", "owner@x.example", FRIDAY_1730)
        expected = start_clock(policy, lead, "route", "owner@x.example", FRIDAY_1730)
        assert clock == expected
        assert clock.model_dump_json() == expected.model_dump_json()


def test_given_a_new_policy_of_the_same_name_when_a_clock_starts_then_its_own_time_counts():
    first = _started(a_policy(1), "a@x.example", "route", "o@x.example", FRIDAY_1730)
    later = _started(a_policy(3), "a@x.example", "route", "o@x.example", FRIDAY_1730)
    assert later.due_at - first.due_at == timedelta(hours=2)
