"""Round-robin pools: weights, daily capacity, working hours, out-of-office, fallback. Pure.

The rotation is smooth weighted round robin (as in nginx): every pick, each available
member earns its weight in credit, the richest is chosen and pays back the total. Over any
full cycle each member gets exactly its weight's share, without bursts. Members outside
their working hours (in their own time zone), out of office, at today's capacity (counted
per member per local day), or excluded by the caller (an SLA escalation excludes the owner
who let it lapse) sit out and earn nothing; when nobody is available the pool's fallback
gets the lead.

A pool's ledger must have one writer (the router keys pool work by pool name), and every
pick is remembered by request id, so a redelivered request gets the same member again. The
ledger round-trips through plain JSON (``to_dict``/``from_dict``) for a compacted changelog.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import TypeAdapter

from services.router.working_hours import (
    EVERY_DAY,
    MIDNIGHT,
    WorkingCalendar,
    WorkingHours,
    as_utc,
    is_working,
)

__all__ = ["REMEMBERED_PICKS", "Pick", "Pool", "PoolLedger", "PoolMember", "WorkingHours",
           "assign"]

REMEMBERED_PICKS = 500

_ANY_TIME = (WorkingHours(MIDNIGHT, MIDNIGHT, EVERY_DAY),)


@dataclass(frozen=True)
class PoolMember:
    """A rep in a pool.

    ``hours`` are in the member's ``timezone`` (several entries for different hours on
    different weekdays; ``None``: any time); ``out_of_office`` holds inclusive ranges of
    the member's local dates.
    """

    email: str
    weight: int = 1
    daily_capacity: int | None = None
    timezone: str = "UTC"
    hours: WorkingHours | tuple[WorkingHours, ...] | None = None
    out_of_office: tuple[tuple[date, date], ...] = ()

    def __post_init__(self) -> None:
        if self.weight < 0:
            raise ValueError(f"{self.email}: weight must be 0 or more, not {self.weight}")
        if self.daily_capacity is not None and self.daily_capacity < 0:
            raise ValueError(f"{self.email}: daily capacity must be 0 or more")
        for first, last in self.out_of_office:
            if last < first:
                raise ValueError(f"{self.email}: out of office {first} to {last} ends first")
        _ = self.calendar  # an unknown time zone fails here, not at the first pick

    @property
    def calendar(self) -> WorkingCalendar:
        """The member's working hours as a calendar in their time zone."""
        if self.hours is None:
            return WorkingCalendar(self.timezone, _ANY_TIME)
        if isinstance(self.hours, WorkingHours):
            return WorkingCalendar(self.timezone, (self.hours,))
        return WorkingCalendar(self.timezone, self.hours)

    def local_now(self, now: datetime) -> datetime:
        """``now`` on this member's clock."""
        return now.astimezone(ZoneInfo(self.timezone))

    def unavailable_because(self, now: datetime, assigned_today: int) -> str | None:
        """Why this member cannot take a lead now, or None when they can."""
        local = self.local_now(now)
        if any(first <= local.date() <= last for first, last in self.out_of_office):
            return "out of office"
        if self.hours is not None and not is_working(self.calendar, now):
            return "outside working hours"
        if self.daily_capacity is not None and assigned_today >= self.daily_capacity:
            return f"at daily capacity ({self.daily_capacity})"
        return None


@dataclass(frozen=True)
class Pool:
    """Members sharing leads, and who gets them when none of them can."""

    name: str
    members: tuple[PoolMember, ...]
    fallback: str

    def __post_init__(self) -> None:
        emails = [m.email for m in self.members]
        twice = sorted({e for e in emails if emails.count(e) > 1})
        if twice:
            raise ValueError(f"pool {self.name}: members listed twice: {', '.join(twice)}")


@dataclass(frozen=True)
class Pick:
    """The outcome of one assignment, with its explanation."""

    email: str
    from_fallback: bool
    explanation: str


@dataclass(frozen=True)
class PoolLedger:
    """A pool's memory: rotation credit, counts per member's local day, recent picks."""

    credits: dict[str, int] = field(default_factory=dict)
    day_counts: dict[str, tuple[date, int]] = field(default_factory=dict)
    recent: tuple[tuple[str, Pick], ...] = ()

    def assigned_on(self, member: PoolMember, now: datetime) -> int:
        """How many leads ``member`` got on their current local day."""
        day, count = self.day_counts.get(member.email, (None, 0))
        return count if day == member.local_now(now).date() else 0

    def earlier_pick(self, request_id: str) -> Pick | None:
        """The pick already made for this request, if any."""
        return next((pick for rid, pick in self.recent if rid == request_id), None)

    def to_dict(self) -> dict[str, Any]:
        """The ledger as plain JSON data (dates as ISO strings, tuples as lists)."""
        data: dict[str, Any] = _LEDGER.dump_python(self, mode="json")
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PoolLedger:
        """The ledger ``to_dict`` gave (after a JSON round trip); raises on malformed data."""
        return _LEDGER.validate_python(data)


def assign(pool: Pool, ledger: PoolLedger, now: datetime, request_id: str,
           exclude: Collection[str] = frozenset()) -> tuple[Pick, PoolLedger]:
    """Choose who gets the lead of ``request_id``; returns the pick and the new ledger.

    Members in ``exclude`` sit this pick out (an SLA escalation excludes the previous
    owner). A request id seen before gets its earlier pick back, ledger unchanged.
    ``now`` must be time-zone aware.
    """
    now = as_utc(now)
    earlier = ledger.earlier_pick(request_id)
    if earlier is not None:
        return earlier, ledger
    reasons = {m.email: "excluded" if m.email in exclude
               else m.unavailable_because(now, ledger.assigned_on(m, now))
               for m in pool.members}
    available = [m for m in pool.members if reasons[m.email] is None and m.weight > 0]
    if not available:
        why = "; ".join(f"{email} {reason or 'has weight 0'}" for email, reason in reasons.items())
        pick = Pick(pool.fallback, True,
                    f"pool {pool.name}: nobody available ({why}); fallback {pool.fallback}")
        return pick, _remember(ledger, request_id, pick)
    credits = dict(ledger.credits)
    for member in available:
        credits[member.email] = credits.get(member.email, 0) + member.weight
    # Ties go to the earlier member in the file: deterministic, so replays agree.
    chosen = max(available, key=lambda m: credits[m.email])
    credits[chosen.email] -= sum(m.weight for m in available)
    counts = dict(ledger.day_counts)
    counts[chosen.email] = (chosen.local_now(now).date(), ledger.assigned_on(chosen, now) + 1)
    skipped = [f"{email} {reason}" for email, reason in reasons.items() if reason]
    explanation = (f"pool {pool.name}: weighted round robin among "
                   f"{', '.join(f'{m.email} (weight {m.weight})' for m in available)}"
                   + (f"; skipped {'; '.join(skipped)}" if skipped else ""))
    pick = Pick(chosen.email, False, explanation)
    return pick, _remember(replace(ledger, credits=credits, day_counts=counts),
                           request_id, pick)


def _remember(ledger: PoolLedger, request_id: str, pick: Pick) -> PoolLedger:
    return replace(ledger, recent=(*ledger.recent, (request_id, pick))[-REMEMBERED_PICKS:])


_LEDGER: TypeAdapter[PoolLedger] = TypeAdapter(PoolLedger)
