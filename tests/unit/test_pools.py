"""Round-robin pools: weights, capacity, working hours, out of office, fallback."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from services.router.pools import (
    REMEMBERED_PICKS,
    Pick,
    Pool,
    PoolLedger,
    PoolMember,
    WorkingHours,
    assign,
)

MONDAY_10_UTC = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def run(pool: Pool, n: int, now: datetime = MONDAY_10_UTC, ledger: PoolLedger | None = None,
        step: timedelta = timedelta(0)):
    ledger = ledger or PoolLedger()
    picks = []
    for i in range(n):
        pick, ledger = assign(pool, ledger, now + step * i, f"req-{i}")
        picks.append(pick)
    return picks, ledger


def test_given_weights_3_2_1_when_six_leads_arrive_then_each_gets_its_share_without_bursts():
    pool = Pool("emea", (PoolMember("a@x.example", 3), PoolMember("b@x.example", 2),
                         PoolMember("c@x.example", 1)), "queue@x.example")
    picks, _ = run(pool, 6)
    # Smooth: a never gets its three leads in a row.
    assert [p.email[0] for p in picks] == ["a", "b", "a", "c", "b", "a"]
    assert "weighted round robin" in picks[0].explanation


def test_given_a_member_at_capacity_when_more_leads_arrive_then_others_get_them():
    pool = Pool("smb", (PoolMember("a@x.example", daily_capacity=2),
                        PoolMember("b@x.example")), "queue@x.example")
    picks, _ = run(pool, 6)
    assert Counter(p.email for p in picks)["a@x.example"] == 2
    assert "at daily capacity (2)" in picks[-1].explanation


def test_given_capacity_used_yesterday_when_a_new_local_day_starts_then_member_is_back():
    pool = Pool("smb", (PoolMember("a@x.example", daily_capacity=1),), "queue@x.example")
    _, ledger = run(pool, 1)
    pick, _ = assign(pool, ledger, MONDAY_10_UTC + timedelta(days=1), "next-day")
    assert pick.email == "a@x.example" and not pick.from_fallback


def test_given_a_member_outside_working_hours_in_their_zone_when_assigned_then_skipped():
    tokyo = PoolMember("yuki@x.example", timezone="Asia/Tokyo",
                       hours=WorkingHours(time(9), time(17)))       # 19:00 in Tokyo
    berlin = PoolMember("jonas@x.example", timezone="Europe/Berlin",
                        hours=WorkingHours(time(9), time(17)))      # 11:00 in Berlin
    pick, _ = assign(Pool("global", (tokyo, berlin), "q@x.example"), PoolLedger(),
                     MONDAY_10_UTC, "r1")
    assert pick.email == "jonas@x.example"
    assert "yuki@x.example outside working hours" in pick.explanation


def test_given_everyone_out_of_office_when_assigned_then_fallback_with_reasons():
    away = ((date(2026, 11, 20), date(2026, 11, 27)),)
    pool = Pool("emea", (PoolMember("a@x.example", out_of_office=away),
                         PoolMember("b@x.example", out_of_office=away)), "manager@x.example")
    pick, _ = assign(pool, PoolLedger(), MONDAY_10_UTC, "r1")
    assert pick.from_fallback and pick.email == "manager@x.example"
    assert "a@x.example out of office" in pick.explanation


def test_given_a_redelivered_request_when_assigned_again_then_same_member_and_same_ledger():
    pool = Pool("p", (PoolMember("a@x.example"), PoolMember("b@x.example")), "q@x.example")
    first, ledger = assign(pool, PoolLedger(), MONDAY_10_UTC, "r1")
    again, after = assign(pool, ledger, MONDAY_10_UTC, "r1")
    assert again == first and after == ledger



def test_given_the_previous_owner_is_excluded_when_assigned_then_someone_else_gets_it():
    pool = Pool("p", (PoolMember("a@x.example", 5), PoolMember("b@x.example")), "q@x.example")
    pick, _ = assign(pool, PoolLedger(), MONDAY_10_UTC, "r1", exclude={"a@x.example"})
    assert pick.email == "b@x.example"
    assert "a@x.example excluded" in pick.explanation


def test_given_everyone_else_is_unavailable_when_the_owner_is_excluded_then_fallback():
    pool = Pool("p", (PoolMember("a@x.example"), PoolMember("b@x.example", daily_capacity=0)),
                "q@x.example")
    pick, _ = assign(pool, PoolLedger(), MONDAY_10_UTC, "r1", exclude=frozenset({"a@x.example"}))
    assert pick.from_fallback and pick.email == "q@x.example"
    assert "a@x.example excluded" in pick.explanation


def test_given_a_member_with_weight_zero_then_they_never_get_a_lead():
    pool = Pool("p", (PoolMember("a@x.example", 0), PoolMember("b@x.example")), "q@x.example")
    picks, _ = run(pool, 5)
    assert {p.email for p in picks} == {"b@x.example"}
    only_a = Pool("p", (PoolMember("a@x.example", 0),), "q@x.example")
    pick, _ = assign(only_a, PoolLedger(), MONDAY_10_UTC, "r1")
    assert pick.from_fallback and "a@x.example has weight 0" in pick.explanation


def test_given_capacity_when_the_members_local_day_turns_then_the_count_starts_again():
    # 14:30 UTC is 23:30 on Monday in Tokyo; 15:30 UTC is already Tuesday there.
    yuki = PoolMember("yuki@x.example", daily_capacity=1, timezone="Asia/Tokyo")
    pool = Pool("apac", (yuki,), "q@x.example")
    first, ledger = assign(pool, PoolLedger(), datetime(2026, 11, 23, 14, 30, tzinfo=UTC), "r1")
    full, _ = assign(pool, ledger, datetime(2026, 11, 23, 14, 59, tzinfo=UTC), "r2")
    next_day, _ = assign(pool, ledger, datetime(2026, 11, 23, 15, 30, tzinfo=UTC), "r3")
    assert not first.from_fallback and full.from_fallback and not next_day.from_fallback


def test_given_different_hours_per_weekday_then_each_day_uses_its_own():
    short_friday = (WorkingHours(time(9), time(17), frozenset({0, 1, 2, 3})),
                    WorkingHours(time(9), time(13), frozenset({4})))
    pool = Pool("p", (PoolMember("a@x.example", timezone="Europe/Berlin", hours=short_friday),),
                "q@x.example")
    thursday_3pm = datetime(2026, 11, 26, 14, 0, tzinfo=UTC)
    friday_3pm = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
    assert not assign(pool, PoolLedger(), thursday_3pm, "r1")[0].from_fallback
    assert assign(pool, PoolLedger(), friday_3pm, "r2")[0].from_fallback


def test_given_bad_members_when_the_pool_is_built_then_value_error():
    with pytest.raises(ValueError, match="time zone"):
        PoolMember("a@x.example", timezone="Europe/Atlantis")
    with pytest.raises(ValueError, match="weight"):
        PoolMember("a@x.example", weight=-1)
    with pytest.raises(ValueError, match="ends first"):
        PoolMember("a@x.example", out_of_office=((date(2026, 11, 27), date(2026, 11, 20)),))
    with pytest.raises(ValueError, match="twice"):
        Pool("p", (PoolMember("a@x.example"), PoolMember("a@x.example")), "q@x.example")


def test_given_a_ledger_when_stored_as_json_then_it_reads_back_equal():
    pool = Pool("p", (PoolMember("a@x.example", 2, daily_capacity=3),
                      PoolMember("b@x.example", timezone="Asia/Tokyo")), "q@x.example")
    _, ledger = run(pool, 7)
    stored = json.dumps(ledger.to_dict())
    assert PoolLedger.from_dict(json.loads(stored)) == ledger
    assert json.loads(stored)["day_counts"]["a@x.example"] == ["2026-11-23", 3]


def test_given_malformed_ledger_data_when_read_then_validation_error():
    with pytest.raises(ValidationError):
        PoolLedger.from_dict({"credits": {"a@x.example": "lots"}})
    with pytest.raises(ValidationError):
        PoolLedger.from_dict({"day_counts": {"a@x.example": ["not a date", 1]}})


def test_given_more_requests_than_remembered_then_the_oldest_is_forgotten():
    pool = Pool("p", (PoolMember("a@x.example"),), "q@x.example")
    _, ledger = run(pool, REMEMBERED_PICKS + 1)
    assert ledger.earlier_pick("req-0") is None
    assert ledger.earlier_pick(f"req-{REMEMBERED_PICKS}") == Pick(
        "a@x.example", False, "pool p: weighted round robin among a@x.example (weight 1)")

members = st.lists(
    st.tuples(st.integers(1, 5), st.one_of(st.none(), st.integers(1, 20))),
    min_size=1, max_size=5)


@settings(max_examples=150, deadline=None)
@given(members, st.integers(1, 120))
def test_property_capacity_is_never_exceeded_and_unfilled_work_goes_to_fallback(spec, n):
    pool = Pool("p", tuple(PoolMember(f"m{i}@x.example", w, cap)
                           for i, (w, cap) in enumerate(spec)), "fallback@x.example")
    picks, _ = run(pool, n)
    counts = Counter(p.email for p in picks)
    for member in pool.members:
        if member.daily_capacity is not None:
            assert counts[member.email] <= member.daily_capacity
    total_capacity = sum(m.daily_capacity or n for m in pool.members)
    assert counts["fallback@x.example"] == max(0, n - total_capacity)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=1, max_size=6), st.integers(1, 8))
def test_property_without_limits_every_full_cycle_matches_the_weights_exactly(weights, cycles):
    pool = Pool("p", tuple(PoolMember(f"m{i}@x.example", w) for i, w in enumerate(weights)),
                "fallback@x.example")
    picks, _ = run(pool, sum(weights) * cycles)
    counts = Counter(p.email for p in picks)
    assert all(counts[f"m{i}@x.example"] == w * cycles for i, w in enumerate(weights))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=1, max_size=6), st.integers(1, 60))
def test_property_at_every_pick_each_share_is_within_one_of_its_weight(weights, n):
    pool = Pool("p", tuple(PoolMember(f"m{i}@x.example", w) for i, w in enumerate(weights)),
                "fallback@x.example")
    picks, _ = run(pool, n)
    total = sum(weights)
    for seen in range(1, n + 1):
        counts = Counter(p.email for p in picks[:seen])
        for i, w in enumerate(weights):
            # Never ahead of the (rounded-up) fair share, never more than one behind it.
            fair = seen * w
            assert fair // total - 1 <= counts[f"m{i}@x.example"] <= -(-fair // total)


# A run of requests against a pool of members in several zones, with working hours,
# out-of-office, capacity, exclusions and redeliveries; checked against a plain model.
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Asia/Kolkata",
         "Australia/Lord_Howe"]
START = datetime(2026, 3, 25, 6, 0, tzinfo=UTC)    # runs over Europe's and Lord Howe's DST


def working_hours() -> st.SearchStrategy[WorkingHours]:
    bounds = st.tuples(st.integers(5, 22), st.integers(5, 22)).filter(lambda b: b[0] != b[1])
    return st.builds(lambda b, days: WorkingHours(time(min(b)), time(max(b)), days),
                     bounds, st.frozensets(st.integers(0, 6), min_size=1))


def away() -> st.SearchStrategy[tuple[date, date]]:
    return st.builds(lambda first, length: (first, first + timedelta(days=length)),
                     st.dates(date(2026, 3, 24), date(2026, 4, 10)), st.integers(0, 4))


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Pool, list[tuple[timedelta, frozenset[int], int | None]]]:
    size = draw(st.integers(1, 5))
    members = tuple(PoolMember(
        f"m{i}@x.example", draw(st.integers(0, 4)), draw(st.none() | st.integers(0, 4)),
        draw(st.sampled_from(ZONES)), draw(st.none() | working_hours()),
        tuple(draw(st.lists(away(), max_size=2)))) for i in range(size))
    requests = draw(st.lists(st.tuples(
        st.integers(0, 8 * 60).map(lambda m: timedelta(minutes=m)),
        st.frozensets(st.integers(0, size - 1), max_size=2),
        st.none() | st.integers(0, 1000)), min_size=1, max_size=60))
    return Pool("p", members, "fallback@x.example"), requests


def play(pool, requests, ledger=None):
    """Every step: (request id, time, excluded emails, ledger before, pick, ledger after)."""
    ledger, now, steps = ledger or PoolLedger(), START, []
    for i, (step, excluded, again) in enumerate(requests):
        now += step
        earlier = [s[0] for s in steps]
        rid = earlier[again % len(earlier)] if again is not None and earlier else f"req-{i}"
        exclude = {pool.members[j].email for j in excluded}
        pick, after = assign(pool, ledger, now, rid, exclude)
        steps.append((rid, now, exclude, ledger, pick, after))
        ledger = after
    return steps


def can_take(member, now, exclude, taken):
    local = now.astimezone(ZoneInfo(member.timezone))
    hours = member.hours
    return (member.weight > 0 and member.email not in exclude
            and not any(first <= local.date() <= last for first, last in member.out_of_office)
            and (hours is None or hours.contains(local))
            and (member.daily_capacity is None
                 or taken[(member.email, local.date())] < member.daily_capacity))


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_property_only_available_members_are_picked_and_fallback_only_when_none_is(scenario):
    pool, requests = scenario
    taken: Counter[tuple[str, date]] = Counter()
    first_picks: dict[str, Pick] = {}
    for rid, now, exclude, _, pick, _ in play(pool, requests):
        if rid in first_picks:
            continue
        first_picks[rid] = pick
        available = {m.email for m in pool.members if can_take(m, now, exclude, taken)}
        if available:
            assert not pick.from_fallback and pick.email in available
        else:
            assert pick.from_fallback and pick.email == pool.fallback
        member = next((m for m in pool.members if m.email == pick.email), None)
        if member is not None:
            taken[(member.email, member.local_now(now).date())] += 1
    capacity = {m.email: m.daily_capacity for m in pool.members}
    assert all(capacity[email] is None or count <= (capacity[email] or 0)
               for (email, _), count in taken.items())


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_property_a_redelivered_request_gets_the_same_member_and_changes_nothing(scenario):
    pool, requests = scenario
    first_picks: dict[str, Pick] = {}
    for rid, _, _, before, pick, after in play(pool, requests):
        if rid in first_picks:
            assert pick == first_picks[rid] and after == before
        first_picks[rid] = pick


@settings(max_examples=100, deadline=None)
@given(scenarios(), scenarios())
def test_property_a_ledger_read_back_from_json_continues_exactly_like_the_original(
        scenario, more):
    pool, requests = scenario
    ledger = play(pool, requests)[-1][-1]
    restored = PoolLedger.from_dict(json.loads(json.dumps(ledger.to_dict())))
    assert restored == ledger
    later = [(step, frozenset(j for j in excluded if j < len(pool.members)), again)
             for step, excluded, again in more[1]]
    assert [s[4] for s in play(pool, later, restored)] == [s[4] for s in play(pool, later, ledger)]
