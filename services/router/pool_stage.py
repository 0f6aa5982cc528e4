"""The pool's partition: picks owners from a round-robin pool. Pure, like ``record_processing``.

Requests arrive keyed by pool name, so one partition (one writer) owns each pool's ledger,
kept in the router's changelog under ``pool:<name>``. The answer is the published decision
(``lead.routed`` with the picked owner, and for an escalation ``lead.sla_breached``), plus a
``PoolPickMade`` back to the lead's partition.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from services.contracts.envelope import decode
from services.contracts.events import (
    LEAD_SLA_BREACHED,
    LeadSlaBreached,
    OwnerAssignment,
)
from services.router.announcements import announcements
from services.router.handoff_messages import (
    POOL_PICK_MADE,
    POOL_PICK_REQUESTED,
    PoolPickMade,
    PoolPickRequested,
    breach_event_id,
    routing_request_id,
)
from services.router.pool_ledger_store import ledger_bytes, stored_ledger
from services.router.pools import Pick, Pool, PoolLedger, assign
from services.router.record_processing import (
    POISON,
    Incoming,
    StepResult,
    dead_letter,
    publish,
    publish_decision,
)
from services.router.rules.model import RuleSet

POOL_PREFIX = "pool:"


def _member_of_lead(pool: Pool, ledger: PoolLedger, lead_key: str) -> Pick | None:
    """A member this pool already gave the lead (a re-decision while a pick was in flight
    must not spend a second member's capacity on the same lead)."""
    prefix = routing_request_id(lead_key, "")
    members = {m.email for m in pool.members}
    for request_id, pick in reversed(ledger.recent):
        if request_id.startswith(prefix) and not pick.from_fallback and pick.email in members:
            return Pick(pick.email, False, f"kept: pool {pool.name} already gave this lead "
                                           f"to {pick.email}")
    return None


def _pick(rules: RuleSet, request: PoolPickRequested, ledger: PoolLedger,
          now: datetime) -> tuple[OwnerAssignment, PoolLedger]:
    draft = request.draft.owner
    pool = rules.pool(request.pool)
    if pool is None:  # the rule set changed since the request: the draft's owner keeps it
        return draft.model_copy(update={"explanation": f"pool {request.pool} is not in rule "
                                        f"set {rules.version}; {draft.email} keeps the lead"}), \
            ledger
    earlier = _member_of_lead(pool, ledger, request.draft.lead_key) \
        if request.reason == "routing" else None
    pick, ledger = (earlier, ledger) if earlier else assign(
        pool, ledger, now, request.request_id, exclude=frozenset(request.exclude))
    if pick.from_fallback and request.reason == "sla_escalation":
        # Nobody else in the pool can take it: the SLA's manager, or it stays where it is.
        stays = request.if_nobody is None
        email = draft.email if stays else str(request.if_nobody)
        why = "stays with " + email if stays else "goes to the manager " + email
        return draft.model_copy(update={"email": email, "pool": pool.name,
                                        "explanation": f"{pick.explanation}; {why}"}), ledger
    kind = "queue" if pick.from_fallback else "user"
    return OwnerAssignment(kind=kind, email=pick.email, route=draft.route, pool=pool.name,
                           explanation=pick.explanation), ledger


def pick_from_pool(rules: RuleSet, lookup: Callable[[str], bytes | None],
                   incoming: Incoming, now: datetime, result: StepResult) -> None:
    """Answer one pick request: update the pool's ledger, publish the decision with its
    owner (and the breach, for an escalation), and tell the lead's partition."""
    try:
        envelope = decode(incoming.key, incoming.value or b"", list(incoming.headers))
        if envelope.type != POOL_PICK_REQUESTED:
            raise ValueError(f"unsupported event type {envelope.type!r} on the pool topic")
        request = PoolPickRequested.model_validate(envelope.data)
        stored = lookup(POOL_PREFIX + request.pool)
        ledger = stored_ledger(stored) if stored else PoolLedger()
        owner, ledger = _pick(rules, request, ledger, now)
    except (*POISON, ValueError) as exc:
        dead_letter(incoming, str(exc), result)
        return
    result.changes[POOL_PREFIX + request.pool] = ledger_bytes(ledger)
    decision = request.draft.model_copy(update={"owner": owner})
    lead_key = decision.lead_key
    if request.breach is None:
        publish_decision(result, decision, announcements(decision))
    else:
        escalated = owner.email if owner.email != request.draft.owner.email else None
        if escalated is not None:
            publish_decision(result, decision, ())
        facts = request.breach.model_copy(update={
            "escalated_to": escalated,
            "explanation": f"{request.breach.explanation}; {owner.explanation}"})
        publish(result, "decisions", LEAD_SLA_BREACHED, lead_key,
                LeadSlaBreached(**dict(decision), sla=facts),
                breach_event_id(request.request_id))
    publish(result, "crm_changes_by_lead", POOL_PICK_MADE, lead_key,
            PoolPickMade(request_id=request.request_id, reason=request.reason,
                         decision=decision), f"made:{request.request_id}")
    result.decided += 1
