"""Round-robin pools: weights, daily capacity, working hours, out-of-office, fallback. Pure.

The rotation is smooth weighted round robin (as in nginx): every pick, each available
member earns its weight in credit, the richest is chosen and pays back the total. Over any
full cycle each member gets exactly its weight's share, without bursts. Members outside
their working hours (in their own time zone), out of office, or at today's capacity sit out
and earn nothing; when nobody is available the pool's fallback gets the lead.

A pool's ledger must have one writer (the router keys pool work by pool name), and every
pick is remembered by request id, so a redelivered request gets the same member again.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

REMEMBERED_PICKS = 500


@dataclass(frozen=True)
class WorkingHours:
    """When a member takes leads, in their own time zone (days: 0 = Monday)."""

    start: time
    end: time
    days: frozenset[int] = frozenset({0, 1, 2, 3, 4})

    def contains(self, local: datetime) -> bool:
        """True when ``local`` falls within these hours."""
        return local.weekday() in self.days and self.start <= local.time() < self.end


@dataclass(frozen=True)
class PoolMember:
    """A rep in a pool."""

    email: str
    weight: int = 1
    daily_capacity: int | None = None
    timezone: str = "UTC"
    hours: WorkingHours | None = None
    out_of_office: tuple[tuple[date, date], ...] = ()

    def local_now(self, now: datetime) -> datetime:
        """``now`` on this member's clock."""
        return now.astimezone(ZoneInfo(self.timezone))

    def unavailable_because(self, now: datetime, assigned_today: int) -> str | None:
        """Why this member cannot take a lead now, or None when they can."""
        local = self.local_now(now)
        if any(first <= local.date() <= last for first, last in self.out_of_office):
            return "out of office"
        if self.hours is not None and not self.hours.contains(local):
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


def assign(pool: Pool, ledger: PoolLedger, now: datetime,
           request_id: str) -> tuple[Pick, PoolLedger]:
    """Choose who gets the lead of ``request_id``; returns the pick and the new ledger."""
    earlier = ledger.earlier_pick(request_id)
    if earlier is not None:
        return earlier, ledger
    reasons = {m.email: m.unavailable_because(now, ledger.assigned_on(m, now))
               for m in pool.members}
    available = [m for m in pool.members if reasons[m.email] is None and m.weight > 0]
    if not available:
        why = "; ".join(f"{email} {reason}" for email, reason in reasons.items())
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
