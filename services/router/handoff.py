"""The lead's side of a handoff: asking a pool for a pick, taking its answer, and the
first-touch SLA clock of the owner. Pure functions over the record and its clock.

A lead's clock lives beside its golden record in the router's state, under
``sla:<lead key>``. It starts when a decision hands the lead to a new owner by a route with
an ``sla``; the owner's Salesforce status change touches it; the worker's timer breaches it
(``sla_escalation``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime

from services.contracts.envelope import Envelope
from services.contracts.events import LeadRouted
from services.router.golden_record import GoldenRecord, seen
from services.router.handoff_messages import (
    PoolPickMade,
    PoolPickRequested,
    routing_request_id,
)
from services.router.rules.model import RuleSet
from services.router.sla import SlaClock, SlaPolicy, record_touch, start_clock

SLA_PREFIX = "sla:"


def sla_key(lead_key: str) -> str:
    """The state key of a lead's SLA clock."""
    return SLA_PREFIX + lead_key


def load_clock(lookup: Callable[[str], bytes | None], lead_key: str) -> SlaClock | None:
    """The lead's clock as the state holds it, if it has one."""
    stored = lookup(sla_key(lead_key))
    return SlaClock.model_validate_json(stored) if stored else None


def clock_bytes(clock: SlaClock) -> bytes:
    """A clock as the state stores it."""
    return clock.model_dump_json().encode()


def pick_request(decision: LeadRouted, pool: str) -> PoolPickRequested:
    """Ask ``pool`` to pick the owner of a routing decision (sent keyed by pool name, under
    ``routing_request_id`` as its event id)."""
    return PoolPickRequested(request_id=routing_request_id(decision.lead_key,
                                                           decision.decision_id),
                             pool=pool, reason="routing", draft=decision)


def clock_after(rules: RuleSet, clock: SlaClock | None, decision: LeadRouted, now: datetime,
                escalations: int = 0) -> SlaClock | None:
    """The clock to store once ``decision`` gave the lead its owner; None: keep as it is.

    The same owner keeps their clock (running or met): a re-decision is not a new handoff.
    A new owner by a route with an SLA gets a fresh clock; by a route without one, the old
    owner's running clock is cancelled.
    """
    if clock is not None and clock.owner == decision.owner.email:
        return None
    route = rules.route(decision.owner.route)
    policy = rules.sla(route.sla) if route is not None and route.sla else None
    if policy is None:
        running = clock is not None and clock.state == "running"
        return clock.model_copy(update={"state": "cancelled"}) if clock and running else None
    fresh = _started(policy, decision.lead_key, decision.owner.route, decision.owner.email,
                     now)
    return fresh.model_copy(update={"escalations": escalations}) if escalations else fresh


# Clocks started under one policy, by one route, for one owner, at one time differ only in
# the lead: the worker decides a whole batch at one `now`, and the working-time arithmetic
# is the costly part. Keyed by the policy object itself (a new rule set, new policies).
_STARTED: OrderedDict[tuple[int, str, str, datetime], tuple[SlaPolicy, SlaClock]] = \
    OrderedDict()
_STARTED_SIZE = 256


def _started(policy: SlaPolicy, lead_key: str, route: str, owner: str,
             now: datetime) -> SlaClock:
    """``start_clock(policy, lead_key, route, owner, now)``."""
    key = (id(policy), route, owner, now)
    known = _STARTED.get(key)
    if known is None or known[0] is not policy:
        known = (policy, start_clock(policy, "", route, owner, now))
        if len(_STARTED) >= _STARTED_SIZE:
            _STARTED.popitem(last=False)
        _STARTED[key] = known
    return known[1].model_copy(update={"lead_key": lead_key})


def touched(rules: RuleSet, clock: SlaClock | None, status: str | None,
            at: datetime) -> SlaClock | None:
    """The clock after the lead's Salesforce status became ``status``; None: unchanged."""
    policy = rules.sla(clock.policy) if clock is not None else None
    if clock is None or policy is None:
        return None
    after = record_touch(clock, status, at, policy)
    return after if after != clock else None


def apply_pick(rules: RuleSet, record: GoldenRecord, clock: SlaClock | None,
               envelope: Envelope, now: datetime) -> tuple[GoldenRecord, SlaClock | None]:
    """Take a pool's answer: the record remembers the picked owner, and the new owner's
    clock starts. An answer the lead has moved on from (a newer decision, an owner who
    changed meanwhile) only marks the event seen."""
    made = PoolPickMade.model_validate(envelope.data)
    marked = record.model_copy(update={"recent_event_ids": seen(record, envelope.id)})
    last = record.last_decision
    if made.reason == "routing":
        current = last is not None and last.decision_id == made.decision.decision_id
        if not current:
            return marked, None
        taken = marked.model_copy(update={"last_decision": made.decision,
                                          "awaiting_pool": None})
        return taken, clock_after(rules, clock, made.decision, now)
    # An escalation: only while the lead still sits with the owner whose clock lapsed.
    if last is None or clock is None or last.owner.email != clock.owner:
        return marked, None
    taken = marked.model_copy(update={"last_decision": made.decision})
    policy = rules.sla(clock.policy)
    if made.decision.owner.email == clock.owner or policy is None \
            or not policy.restart_on_escalation:
        return taken, None
    return taken, clock_after(rules, clock, made.decision, now, clock.escalations + 1)
