"""First-touch SLAs, modelled after LeanData and HubSpot lead SLAs. Pure functions.

When a lead gets an owner, a clock starts: the owner must touch the lead (move its
Salesforce Lead Status to one the policy counts, e.g. ``Working - Contacted``) within the
policy's working time, counted on the policy's calendar. A touch in time meets the SLA; a
clock still running past its due time is breached, and the lead escalates: to the next
available member of the route's pool (the caller's pool pick, which excludes the owner) or
to a manager.

Choices:

* Like LeanData, escalation restarts the SLA for the new owner (``restart_on_escalation``,
  on by default): the new owner gets a fresh clock from the moment of the breach, with the
  escalation count carried forward. ``max_escalations`` stops the chain.
* The lead never goes back to the owner who let the clock lapse while anyone else can take
  it; when nobody else can, it stays with them and no new clock starts (no breach loop).
* A touch after the due time, before the breach was processed, marks the clock breached but
  does not escalate: the lead is being worked. Touches from before the clock started belong
  to an earlier owner and are ignored.
* Every transition is a no-op on a clock that is no longer running, so redelivered touches
  and breaches change nothing; use ``escalation_request_id`` as the pool request id so a
  redelivered breach picks the same member.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from services.router.working_hours import WorkingCalendar, add_working_time, as_utc

# Salesforce's standard Lead Status values that mean someone has worked the lead.
SALESFORCE_TOUCHED_STATUSES: frozenset[str] = frozenset(
    {"Working - Contacted", "Closed - Converted", "Closed - Not Converted"})

# "cancelled": the lead went to someone else by a route without this SLA.
ClockState = Literal["running", "met", "breached", "cancelled"]


@dataclass(frozen=True)
class Escalation:
    """Where a breached lead goes: ``next_in_pool`` (the caller's pool pick, excluding the
    owner) or ``manager``. ``manager`` is required for ``to="manager"``; with
    ``next_in_pool`` it is who gets the lead when nobody else in the pool can."""

    to: Literal["next_in_pool", "manager"]
    manager: str | None = None

    def __post_init__(self) -> None:
        if self.to == "manager" and not self.manager:
            raise ValueError("escalation to a manager needs the manager's email")


@dataclass(frozen=True)
class SlaPolicy:
    """How long an owner has to touch a lead (working time on ``calendar``), what counts as
    a touch, and what happens when they do not."""

    name: str
    first_touch: timedelta
    calendar: WorkingCalendar
    escalation: Escalation
    touched_statuses: frozenset[str] = SALESFORCE_TOUCHED_STATUSES
    restart_on_escalation: bool = True
    max_escalations: int | None = None

    def __post_init__(self) -> None:
        if self.first_touch <= timedelta(0):
            raise ValueError(f"SLA {self.name}: first_touch must be positive")
        if not self.touched_statuses:
            raise ValueError(f"SLA {self.name}: name at least one status that counts as a touch")
        if self.max_escalations is not None and self.max_escalations < 0:
            raise ValueError(f"SLA {self.name}: max_escalations must be 0 or more")

    def counts_as_touch(self, salesforce_status: str | None) -> bool:
        """True when ``salesforce_status`` is one of the touched statuses (ignoring case)."""
        if salesforce_status is None:
            return False
        wanted = salesforce_status.strip().casefold()
        return any(wanted == status.strip().casefold() for status in self.touched_statuses)


class SlaClock(BaseModel):
    """One owner's SLA on one lead. Immutable; JSON via ``to_dict``/``from_dict`` (or
    pydantic's ``model_dump_json``/``model_validate_json``). Times are UTC."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    policy: str
    lead_key: str
    route: str
    owner: str
    started_at: AwareDatetime
    due_at: AwareDatetime
    state: ClockState = "running"
    escalations: int = Field(default=0, ge=0, description="Escalations before this clock")
    touched_at: AwareDatetime | None = None
    touched_status: str | None = None
    breached_at: AwareDatetime | None = None

    @field_validator("started_at", "due_at", "touched_at", "breached_at")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else value.astimezone(UTC)

    def to_dict(self) -> dict[str, Any]:
        """The clock as plain JSON data."""
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SlaClock:
        """The clock ``to_dict`` gave; raises on malformed data."""
        return cls.model_validate(data)


class SlaBreach(BaseModel):
    """The outcome of ``breach``: the breached clock, who gets the lead now (``None``: it
    stays with the owner) and, when the policy restarts the SLA, the new owner's clock."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    clock: SlaClock
    new_owner: str | None
    new_clock: SlaClock | None
    explanation: str

    @property
    def escalated(self) -> bool:
        """True when the lead moves to someone else."""
        return self.new_owner is not None


def start_clock(policy: SlaPolicy, lead_key: str, route: str, owner: str,
                now: datetime) -> SlaClock:
    """A running clock for ``owner``, due after the policy's working time from ``now``."""
    return _clock(policy, lead_key, route, owner, now, escalations=0)


def record_touch(clock: SlaClock, salesforce_status: str | None, at: datetime,
                 policy: SlaPolicy) -> SlaClock:
    """The clock after the lead's Salesforce status became ``salesforce_status`` at ``at``.

    A touched status by the due time meets the SLA; after it, the clock is breached (the
    lead is being worked, so nothing escalates). Other statuses, touches from before the
    clock started and clocks no longer running are left as they are.
    """
    moment = as_utc(at)
    if (clock.state != "running" or not policy.counts_as_touch(salesforce_status)
            or moment < clock.started_at):
        return clock
    if moment <= clock.due_at:
        return clock.model_copy(update={"state": "met", "touched_at": moment,
                                        "touched_status": salesforce_status})
    return clock.model_copy(update={"state": "breached", "touched_at": moment,
                                    "touched_status": salesforce_status,
                                    "breached_at": moment})


def due_breaches(clocks: Iterable[SlaClock], now: datetime) -> list[SlaClock]:
    """The running clocks past their due time at ``now``, earliest due first."""
    moment = as_utc(now)
    late = [c for c in clocks if c.state == "running" and c.due_at < moment]
    return sorted(late, key=lambda c: (c.due_at, c.lead_key, c.owner, c.started_at))


def breach(clock: SlaClock, policy: SlaPolicy, now: datetime,
           pick_next: Callable[[str], str | None] | None = None) -> SlaBreach:
    """Breach an overdue clock and escalate its lead.

    ``pick_next(owner)`` is the caller's pool pick excluding ``owner``: the next available
    member's email, or ``None`` when nobody else can take the lead. It is called only when
    the escalation needs it. A clock that is not running, or not yet due, is returned
    unchanged with no new owner.
    """
    moment = as_utc(now)
    if clock.state != "running":
        return SlaBreach(clock=clock, new_owner=None, new_clock=None,
                         explanation=f"SLA {clock.policy}: clock already {clock.state}")
    if moment <= clock.due_at:
        return SlaBreach(clock=clock, new_owner=None, new_clock=None,
                         explanation=f"SLA {clock.policy}: not due until "
                                     f"{clock.due_at.isoformat()}")
    breached = clock.model_copy(update={"state": "breached", "breached_at": moment})
    lapse = (f"SLA {clock.policy}: {clock.owner} did not touch {clock.lead_key} within "
             f"{policy.first_touch} of working time (due {clock.due_at.isoformat()})")
    if policy.max_escalations is not None and clock.escalations >= policy.max_escalations:
        return SlaBreach(clock=breached, new_owner=None, new_clock=None,
                         explanation=f"{lapse}; already escalated {clock.escalations} "
                                     f"time(s), the most the policy allows")
    new_owner, how = _escalate(clock.owner, policy.escalation, pick_next)
    if new_owner is None:
        return SlaBreach(clock=breached, new_owner=None, new_clock=None,
                         explanation=f"{lapse}; nobody else available, stays with "
                                     f"{clock.owner}")
    new_clock = (_clock(policy, clock.lead_key, clock.route, new_owner, moment,
                        escalations=clock.escalations + 1)
                 if policy.restart_on_escalation else None)
    return SlaBreach(clock=breached, new_owner=new_owner, new_clock=new_clock,
                     explanation=f"{lapse}; escalated to {new_owner} ({how})"
                                 + ("; SLA restarted" if new_clock else ""))


def escalation_request_id(clock: SlaClock) -> str:
    """A pool request id for escalating ``clock``: the same for a redelivered breach."""
    return (f"sla:{clock.policy}:{clock.lead_key}:{clock.escalations}:"
            f"{clock.started_at.isoformat()}")


def _escalate(owner: str, escalation: Escalation,
              pick_next: Callable[[str], str | None] | None) -> tuple[str | None, str]:
    def manager() -> str | None:
        return escalation.manager

    def pool() -> str | None:
        return pick_next(owner) if pick_next is not None else None

    order = ((manager, "the manager"), (pool, "next in pool"))
    if escalation.to == "next_in_pool":
        order = order[::-1]
    for candidate, how in order:
        email = candidate()
        if email and email.strip().casefold() != owner.strip().casefold():
            return email, how
    return None, "nobody else"


def _clock(policy: SlaPolicy, lead_key: str, route: str, owner: str, now: datetime,
           escalations: int) -> SlaClock:
    started = as_utc(now)
    return SlaClock(policy=policy.name, lead_key=lead_key, route=route, owner=owner,
                    started_at=started,
                    due_at=add_working_time(policy.calendar, started, policy.first_touch),
                    escalations=escalations)

