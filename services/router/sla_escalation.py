"""Breaching overdue SLA clocks on a lead's partition. Pure, like ``record_processing``.

The worker's timer calls ``breach_due_clocks`` for the clocks its index says are due, and
commits the effects in one Kafka transaction, like a batch of records: the breached clock,
``lead.sla_breached``, and the escalation — a new decision naming the manager, or a pick
request to the route's pool that excludes the owner who let the clock lapse. Because the
clocks are state in the changelog, a timer that was due while no worker ran fires at the
next tick after a restart.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import datetime

from services.contracts.events import (
    LEAD_SLA_BREACHED,
    LeadRouted,
    LeadSlaBreached,
    OwnerAssignment,
    SlaBreachFacts,
)
from services.router.golden_record import GoldenRecord
from services.router.handoff import clock_bytes, load_clock, sla_key
from services.router.handoff_messages import (
    POOL_PICK_REQUESTED,
    PoolPickRequested,
    breach_event_id,
)
from services.router.record_processing import (
    StepResult,
    publish,
    publish_decision,
    record_key,
)
from services.router.rules.model import RuleSet
from services.router.sla import SlaClock, SlaPolicy, breach, escalation_request_id

_ESCALATION_NAMESPACE = uuid.UUID("9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d")


def escalation_decision_id(request_id: str) -> str:
    """Deterministic: breaching the same clock again gives the same decision id."""
    return str(uuid.uuid5(_ESCALATION_NAMESPACE, request_id))


def _draft(last: LeadRouted, policy: SlaPolicy, request_id: str, now: datetime) -> LeadRouted:
    return last.model_copy(update={
        "decision_id": escalation_decision_id(request_id), "caused_by": request_id,
        "decided_at": now, "matched_rules": [*last.matched_rules, f"slas.{policy.name}"],
        "previous_stage": last.stage, "previous_score": last.score})


def _facts(clock: SlaClock, policy: SlaPolicy, now: datetime) -> SlaBreachFacts:
    return SlaBreachFacts(
        policy=policy.name, owner=clock.owner, started_at=clock.started_at,
        due_at=clock.due_at, breached_at=now, escalations_before=clock.escalations,
        explanation=f"SLA {policy.name}: {clock.owner} did not touch the lead within "
                    f"{policy.first_touch} of working time (due {clock.due_at.isoformat()})")


def breach_due_clocks(rules: RuleSet, lookup: Callable[[str], bytes | None],
                      lead_keys: Iterable[str], now: datetime, result: StepResult) -> None:
    """Breach and escalate every running clock of ``lead_keys`` that is past due at
    ``now``; clocks not due (or no longer running) are left alone."""
    for lead_key in lead_keys:
        clock = load_clock(lookup, lead_key)
        if clock is None or clock.state != "running" or clock.due_at >= now:
            continue
        stored = lookup(record_key(lead_key))
        record = GoldenRecord.model_validate_json(stored) if stored else None
        policy = rules.sla(clock.policy)
        if record is None or record.last_decision is None or policy is None:
            # The SLA left the rule set (or the lead has no decision): nothing to escalate.
            cancelled = clock.model_copy(update={"state": "cancelled"})
            result.changes[sla_key(lead_key)] = clock_bytes(cancelled)
            continue
        _escalate(rules, record, record.last_decision, clock, policy, now, result)


def _escalate(rules: RuleSet, record: GoldenRecord, last: LeadRouted, clock: SlaClock,
              policy: SlaPolicy, now: datetime, result: StepResult) -> None:
    request_id = escalation_request_id(clock)
    draft = _draft(last, policy, request_id, now)
    facts = _facts(clock, policy, now)
    route = rules.route(clock.route)
    pool = route.assign.email if route is not None and route.assign.kind == "pool" else None
    maxed = policy.max_escalations is not None and clock.escalations >= policy.max_escalations
    lead_key = record.lead_key
    result.decided += 1
    if policy.escalation.to == "next_in_pool" and pool is not None and not maxed:
        breached = clock.model_copy(update={"state": "breached", "breached_at": now})
        result.changes[sla_key(lead_key)] = clock_bytes(breached)
        request = PoolPickRequested(request_id=request_id, pool=pool, reason="sla_escalation",
                                    draft=draft, exclude=(clock.owner,),
                                    if_nobody=policy.escalation.manager, breach=facts)
        publish(result, "pool_requests", POOL_PICK_REQUESTED, pool, request, request_id)
        return
    outcome = breach(clock, policy, now)  # to the manager, or it stays with the owner
    result.changes[sla_key(lead_key)] = clock_bytes(outcome.new_clock or outcome.clock)
    decision = draft
    if outcome.new_owner is not None:
        decision = draft.model_copy(update={"owner": OwnerAssignment(
            kind="user", email=outcome.new_owner, route=last.owner.route,
            explanation=outcome.explanation)})
        taken = record.model_copy(update={"last_decision": decision})
        result.changes[record_key(lead_key)] = taken.model_dump_json().encode()
        publish_decision(result, decision, ())
    event = LeadSlaBreached(**dict(decision), sla=facts.model_copy(update={
        "escalated_to": outcome.new_owner, "explanation": outcome.explanation}))
    publish(result, "decisions", LEAD_SLA_BREACHED, lead_key, event,
             breach_event_id(request_id))
