"""First-touch SLAs: clocks in working time, touches, breaches and escalation."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from services.router.pools import Pool, PoolLedger, PoolMember, assign
from services.router.sla import (
    Escalation,
    SlaBreach,
    SlaClock,
    SlaPolicy,
    breach,
    due_breaches,
    escalation_request_id,
    record_touch,
    start_clock,
)
from services.router.working_hours import (
    WorkingCalendar,
    WorkingHours,
    add_working_time,
    working_time_between,
)

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = WorkingCalendar("Europe/Berlin", (WorkingHours(time(9), time(18)),))
MANAGER = "manager@x.example"
HOUR = timedelta(hours=1)


def a_policy(**overrides) -> SlaPolicy:
    values = {"name": "inbound", "first_touch": HOUR, "calendar": OFFICE,
              "escalation": Escalation("next_in_pool", manager=MANAGER)}
    values.update(overrides)
    return SlaPolicy(**values)


POLICY = a_policy()
FRIDAY_1730 = datetime(2026, 11, 20, 17, 30, tzinfo=BERLIN)
MONDAY_0930 = datetime(2026, 11, 23, 9, 30, tzinfo=BERLIN)
MONDAY_NOON = datetime(2026, 11, 23, 12, 0, tzinfo=BERLIN)


def a_clock(owner: str = "ada@x.example", now: datetime = FRIDAY_1730,
            policy: SlaPolicy = POLICY) -> SlaClock:
    return start_clock(policy, "lead-1", "inbound-emea", owner, now)


def never_called(owner: str) -> str | None:
    raise AssertionError(f"the pool was asked for someone instead of {owner}")


# --- starting and touching -----------------------------------------------------------------

def test_given_a_lead_assigned_friday_evening_then_the_sla_is_due_in_monday_working_time():
    clock = a_clock()
    assert clock.state == "running" and clock.escalations == 0
    assert clock.started_at == datetime(2026, 11, 20, 16, 30, tzinfo=UTC)
    assert clock.due_at == MONDAY_0930.astimezone(UTC)


def test_given_a_touched_status_before_the_due_time_then_the_sla_is_met():
    touched = record_touch(a_clock(), "Working - Contacted", MONDAY_0930 - timedelta(minutes=5),
                           POLICY)
    assert touched.state == "met" and touched.touched_status == "Working - Contacted"
    assert touched.touched_at == datetime(2026, 11, 23, 8, 25, tzinfo=UTC)


def test_given_a_touch_exactly_at_the_due_time_then_it_still_counts():
    assert record_touch(a_clock(), "Working - Contacted", MONDAY_0930, POLICY).state == "met"


@pytest.mark.parametrize("status", [None, "Open - Not Contacted", "Nurture"])
def test_given_a_status_that_is_not_a_touch_then_the_clock_keeps_running(status):
    clock = a_clock()
    assert record_touch(clock, status, MONDAY_0930, POLICY) == clock


def test_given_statuses_differing_in_case_and_spacing_then_they_still_count():
    policy = a_policy(touched_statuses=frozenset({"Qualified"}))
    assert record_touch(a_clock(policy=policy), " qualified ", MONDAY_0930, policy).state == "met"


def test_given_a_touch_from_before_the_clock_started_then_it_belongs_to_an_earlier_owner():
    clock = a_clock()
    assert record_touch(clock, "Working - Contacted", FRIDAY_1730 - HOUR, POLICY) == clock


def test_given_a_late_touch_before_the_breach_ran_then_breached_but_not_escalated():
    late = record_touch(a_clock(), "Working - Contacted", MONDAY_NOON, POLICY)
    assert late.state == "breached" and late.touched_at == MONDAY_NOON.astimezone(UTC)
    outcome = breach(late, POLICY, MONDAY_NOON, never_called)
    assert outcome.clock == late and not outcome.escalated and outcome.new_clock is None


def test_given_a_met_clock_when_touched_again_then_nothing_changes():
    met = record_touch(a_clock(), "Working - Contacted", MONDAY_0930, POLICY)
    assert record_touch(met, "Closed - Converted", MONDAY_NOON, POLICY) == met


# --- finding and breaching -----------------------------------------------------------------

def test_given_clocks_in_every_state_then_only_running_overdue_ones_are_due_earliest_first():
    later = start_clock(POLICY, "lead-2", "r", "bo@x.example", FRIDAY_1730 - HOUR)
    early = a_clock()
    met = record_touch(start_clock(POLICY, "lead-3", "r", "cy@x.example", FRIDAY_1730),
                       "Working - Contacted", MONDAY_0930, POLICY)
    not_yet = start_clock(POLICY, "lead-4", "r", "di@x.example", MONDAY_NOON - HOUR / 2)
    due = due_breaches([early, met, not_yet, later], MONDAY_NOON)
    assert due == [later, early]
    assert due_breaches([early], early.due_at) == []        # due, not yet past due


def test_given_an_overdue_clock_when_breached_then_the_next_in_pool_gets_a_fresh_clock():
    asked: list[str] = []

    def next_in_pool(owner: str) -> str | None:
        asked.append(owner)
        return "bo@x.example"

    outcome = breach(a_clock(), POLICY, MONDAY_NOON, next_in_pool)
    assert asked == ["ada@x.example"]
    assert outcome.clock.state == "breached"
    assert outcome.clock.breached_at == MONDAY_NOON.astimezone(UTC)
    assert outcome.new_owner == "bo@x.example" and outcome.escalated
    assert outcome.new_clock is not None
    assert outcome.new_clock.owner == "bo@x.example" and outcome.new_clock.escalations == 1
    assert outcome.new_clock.started_at == MONDAY_NOON.astimezone(UTC)
    assert outcome.new_clock.due_at == (MONDAY_NOON + HOUR).astimezone(UTC)
    assert "ada@x.example did not touch lead-1" in outcome.explanation
    assert "escalated to bo@x.example (next in pool)" in outcome.explanation


def test_given_nobody_else_in_the_pool_then_the_manager_gets_the_lead():
    outcome = breach(a_clock(), POLICY, MONDAY_NOON, lambda owner: None)
    assert outcome.new_owner == MANAGER and "(the manager)" in outcome.explanation


def test_given_the_pool_offers_the_same_owner_then_it_is_not_taken_as_an_escalation():
    outcome = breach(a_clock(), POLICY, MONDAY_NOON, lambda owner: owner.upper())
    assert outcome.new_owner == MANAGER


def test_given_nobody_else_at_all_then_the_lead_stays_breached_with_its_owner_and_no_new_clock():
    policy = a_policy(escalation=Escalation("next_in_pool"))
    outcome = breach(a_clock(policy=policy), policy, MONDAY_NOON, None)
    assert outcome.clock.state == "breached" and not outcome.escalated
    assert outcome.new_clock is None
    assert "nobody else available, stays with ada@x.example" in outcome.explanation


def test_given_a_manager_escalation_then_the_pool_is_not_asked():
    policy = a_policy(escalation=Escalation("manager", MANAGER))
    outcome = breach(a_clock(policy=policy), policy, MONDAY_NOON, never_called)
    assert outcome.new_owner == MANAGER


def test_given_the_manager_is_the_owner_who_missed_then_the_pool_is_asked_instead():
    policy = a_policy(escalation=Escalation("manager", MANAGER))
    clock = a_clock(owner=MANAGER, policy=policy)
    outcome = breach(clock, policy, MONDAY_NOON, lambda owner: "bo@x.example")
    assert outcome.new_owner == "bo@x.example"


def test_given_a_policy_that_does_not_restart_then_no_new_clock():
    policy = a_policy(restart_on_escalation=False)
    outcome = breach(a_clock(policy=policy), policy, MONDAY_NOON, lambda owner: "bo@x.example")
    assert outcome.new_owner == "bo@x.example" and outcome.new_clock is None


def test_given_the_most_escalations_allowed_then_the_lead_stays_put():
    policy = a_policy(max_escalations=1)
    first = breach(a_clock(policy=policy), policy, MONDAY_NOON, lambda owner: "bo@x.example")
    assert first.new_clock is not None
    late = first.new_clock.due_at + HOUR
    second = breach(first.new_clock, policy, late, never_called)
    assert second.clock.state == "breached" and not second.escalated
    assert "the most the policy allows" in second.explanation


@pytest.mark.parametrize("clock", [
    breach(a_clock(), POLICY, MONDAY_NOON, lambda owner: "bo@x.example").clock,   # breached
    record_touch(a_clock(), "Working - Contacted", MONDAY_0930, POLICY),          # met
    a_clock(),                                                                    # not yet due
], ids=["breached", "met", "not-due"])
def test_given_a_clock_that_cannot_breach_when_breached_then_nothing_happens(clock):
    outcome = breach(clock, POLICY, MONDAY_0930, never_called)
    assert outcome.clock == clock and outcome.new_owner is None and outcome.new_clock is None


def test_given_a_real_pool_when_a_breach_is_redelivered_then_the_same_member_is_chosen():
    pool = Pool("emea", (PoolMember("ada@x.example", 3), PoolMember("bo@x.example"),
                         PoolMember("cy@x.example")), MANAGER)
    clock = a_clock()
    ledgers = [PoolLedger()]

    def next_in_pool(owner: str) -> str | None:
        pick, ledger = assign(pool, ledgers[-1], MONDAY_NOON, escalation_request_id(clock),
                              exclude={owner})
        ledgers.append(ledger)
        return None if pick.from_fallback else pick.email

    first = breach(clock, POLICY, MONDAY_NOON, next_in_pool)
    again = breach(clock, POLICY, MONDAY_NOON, next_in_pool)
    assert first == again and first.new_owner in {"bo@x.example", "cy@x.example"}
    assert ledgers[1] == ledgers[2]


# --- storage and validation ----------------------------------------------------------------

def test_given_clocks_and_breaches_when_stored_as_json_then_they_read_back_equal():
    outcome = breach(a_clock(), POLICY, MONDAY_NOON, lambda owner: "bo@x.example")
    assert outcome.new_clock is not None
    stored = json.dumps(outcome.new_clock.to_dict())
    assert SlaClock.from_dict(json.loads(stored)) == outcome.new_clock
    assert json.loads(stored)["started_at"] == "2026-11-23T11:00:00Z"
    assert SlaBreach.model_validate_json(outcome.model_dump_json()) == outcome


def test_given_malformed_clock_data_then_validation_error():
    data = a_clock().to_dict()
    with pytest.raises(ValidationError):
        SlaClock.from_dict({**data, "state": "paused"})
    with pytest.raises(ValidationError):
        SlaClock.from_dict({**data, "due_at": "2026-11-23T09:30:00"})      # no time zone
    with pytest.raises(ValidationError):
        SlaClock.from_dict({**data, "escalations": -1})


def test_given_a_clock_when_changed_in_place_then_it_refuses():
    with pytest.raises(ValidationError):
        a_clock().state = "met"  # type: ignore[misc]


def test_given_invalid_policies_or_times_then_value_error():
    with pytest.raises(ValueError, match="manager"):
        Escalation("manager")
    with pytest.raises(ValueError, match="positive"):
        a_policy(first_touch=timedelta(0))
    with pytest.raises(ValueError, match="status"):
        a_policy(touched_statuses=frozenset())
    with pytest.raises(ValueError, match="time zone"):
        start_clock(POLICY, "lead-1", "r", "ada@x.example", datetime(2026, 11, 23, 9))


# --- properties ----------------------------------------------------------------------------

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Lord_Howe"]
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
STATUSES = ["Open - Not Contacted", "Working - Contacted", "Closed - Converted", "Nurture", None]
PEOPLE = ["ada@x.example", "bo@x.example", "cy@x.example", MANAGER]

instants = st.integers(0, 366 * 24 * 60).map(lambda m: EPOCH + timedelta(minutes=m))
offsets = st.integers(-2 * 24 * 60, 10 * 24 * 60).map(lambda m: timedelta(minutes=m))


@st.composite
def policies(draw: st.DrawFn) -> SlaPolicy:
    start = draw(st.integers(0, 20))
    calendar = WorkingCalendar(
        draw(st.sampled_from(ZONES)),
        (WorkingHours(time(start), time(draw(st.integers(start + 1, 23))),
                      draw(st.frozensets(st.integers(0, 6), min_size=1))),),
        draw(st.frozensets(st.dates(date(2026, 1, 1), date(2026, 12, 31)), max_size=10)))
    escalation = draw(st.sampled_from([
        Escalation("next_in_pool"), Escalation("next_in_pool", MANAGER),
        Escalation("manager", MANAGER)]))
    return SlaPolicy("p", timedelta(minutes=draw(st.integers(1, 3 * 24 * 60))), calendar,
                     escalation, restart_on_escalation=draw(st.booleans()),
                     max_escalations=draw(st.none() | st.integers(0, 3)))


@settings(max_examples=200, deadline=None)
@given(policies(), instants, st.sampled_from(PEOPLE))
def test_property_the_due_time_is_exactly_the_policys_working_time_away(policy, now, owner):
    clock = start_clock(policy, "lead", "route", owner, now)
    assert clock.due_at == add_working_time(policy.calendar, now, policy.first_touch)
    assert working_time_between(policy.calendar, now, clock.due_at) == policy.first_touch
    assert clock == start_clock(policy, "lead", "route", owner, now)


@settings(max_examples=300, deadline=None)
@given(policies(), instants, st.sampled_from(PEOPLE),
       st.lists(st.tuples(st.sampled_from(STATUSES), offsets), max_size=5))
def test_property_touches_meet_the_sla_only_in_time_and_never_undo_a_result(
        policy, now, owner, touches):
    clock = start_clock(policy, "lead", "route", owner, now)
    for status, offset in touches:
        after = record_touch(clock, status, now + offset, policy)
        assert record_touch(after, status, now + offset, policy) == after      # idempotent
        if clock.state != "running":
            assert after == clock
        elif policy.counts_as_touch(status) and offset >= timedelta(0):
            assert after.state == ("met" if now + offset <= clock.due_at else "breached")
        else:
            assert after == clock
        clock = after


@settings(max_examples=300, deadline=None)
@given(policies(), instants, st.sampled_from(PEOPLE), offsets,
       st.lists(st.sampled_from([*PEOPLE, None]), max_size=3))
def test_property_a_breach_never_returns_the_lead_to_its_owner_if_anyone_else_can_take_it(
        policy, now, owner, offset, offers):
    clock = start_clock(policy, "lead", "route", owner, now)
    later = clock.due_at + abs(offset) + timedelta(seconds=1)

    def pick_next(previous: str) -> str | None:
        assert previous == owner
        return next((o for o in offers if o != previous), None)

    outcome = breach(clock, policy, later, pick_next)
    assert outcome == breach(clock, policy, later, pick_next)                   # deterministic
    assert outcome.clock.state == "breached" and outcome.new_owner != owner
    candidates = {policy.escalation.manager, pick_next(owner)} - {None, owner}
    capped = policy.max_escalations == 0
    assert outcome.escalated == (bool(candidates) and not capped)
    assert (outcome.new_clock is not None) == (outcome.escalated and policy.restart_on_escalation)
    if outcome.new_clock is not None:
        assert outcome.new_clock.owner == outcome.new_owner
        assert outcome.new_clock.escalations == clock.escalations + 1
    # Breaching again changes nothing.
    assert breach(outcome.clock, policy, later + HOUR, pick_next).clock == outcome.clock
    assert not breach(outcome.clock, policy, later + HOUR, pick_next).escalated


@settings(max_examples=200, deadline=None)
@given(policies(), st.lists(st.tuples(instants, st.sampled_from(PEOPLE)), max_size=8), instants)
def test_property_due_breaches_are_exactly_the_running_clocks_past_due(policy, starts, now):
    clocks = [start_clock(policy, f"lead-{i}", "r", owner, at)
              for i, (at, owner) in enumerate(starts)]
    clocks = [record_touch(c, "Working - Contacted", c.started_at, policy) if i % 3 == 0 else c
              for i, c in enumerate(clocks)]
    due = due_breaches(clocks, now)
    assert due == due_breaches(reversed(clocks), now)                           # any order in
    assert {c.lead_key for c in due} == {c.lead_key for c in clocks
                                         if c.state == "running" and c.due_at < now}
    assert [c.due_at for c in due] == sorted(c.due_at for c in due)
