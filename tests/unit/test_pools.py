"""Round-robin pools: weights, capacity, working hours, out of office, fallback."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from services.router.pools import Pool, PoolLedger, PoolMember, WorkingHours, assign

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
