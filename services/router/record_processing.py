"""One Kafka record in, the state changes and the records to publish out. No I/O.

The worker (``stream_worker``) runs this for every record of a batch and then writes the
changes and the output records in one Kafka transaction with the input offset; keeping the
step free of Kafka makes it testable on its own and leaves the worker a thin adapter.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import structlog
from pydantic import BaseModel, ValidationError

from services.contracts.envelope import (
    EnvelopeError,
    decode,
    encode,
    encode_json,
    event_time,
)
from services.contracts.events import LEAD_ROUTED, OPPORTUNITY_WON, LeadRouted
from services.messaging.dead_letters import dead_letter_headers
from services.router.announcements import Announcement
from services.router.crm_changes import linked_lead_key, merged_objects
from services.router.crm_fields import NO_CRM, CrmContext, nothing_for_a_lead
from services.router.golden_record import GoldenRecord
from services.router.handle_event import (
    Outcome,
    UnlinkedChangeError,
    UnsupportedEventError,
    handle_event,
)
from services.router.handoff import (
    apply_pick,
    clock_after,
    clock_bytes,
    load_clock,
    pick_request,
    sla_key,
    touched,
)
from services.router.handoff_messages import (
    POOL_PICK_MADE,
    POOL_PICK_REQUESTED,
    routing_request_id,
)
from services.router.opportunities import UnreadableOpportunityError
from services.router.rules.cel_conditions import ConditionError
from services.router.rules.model import RuleSet
from services.router.sla import SlaClock

log = structlog.get_logger(__name__)
SOURCE = "/accord/router"
RECORD_PREFIX = "lead:"
LINK_PREFIX = "link:"

Headers = Sequence[tuple[str, bytes]]

# Reasons an event cannot be processed that are the event's fault: dead-letter, move on.
POISON = (EnvelopeError, ValidationError, ConditionError, UnsupportedEventError,
           UnlinkedChangeError, UnreadableOpportunityError, UnicodeDecodeError)


@dataclass(frozen=True)
class Incoming:
    """The parts of a consumed record the router reads."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers


@dataclass(frozen=True)
class Outgoing:
    """A record to publish: to a topic ``kind`` the worker maps to a real topic name."""

    kind: str  # "decisions" | "dead_letters" | "crm_changes_by_lead" | "pool_requests"
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


@dataclass
class StepResult:
    """What one record changed: state by key (JSON bytes) and the records to publish."""

    changes: dict[str, bytes] = field(default_factory=dict)
    outputs: list[Outgoing] = field(default_factory=list)
    decided: int = 0
    dead_lettered: int = 0


def record_key(lead_key: str) -> str:
    """The state key of a lead's golden record (other state kinds use other prefixes)."""
    return RECORD_PREFIX + lead_key


# Golden records by the bytes this process stored them as. Reading a record back (the
# lead's next event, in this batch or a later one) then costs a look-up, not a parse: a
# record parsed from its bytes equals the record that wrote them, field for field, and
# serializes to the same bytes (the pinned step test holds the router to that). Bounded,
# oldest first out; a record not found here is parsed.
_STORED: OrderedDict[bytes, GoldenRecord] = OrderedDict()  # (popping the oldest is O(1))
_STORED_SIZE = 2048


def record_bytes(record: GoldenRecord) -> bytes:
    """The record as the state stores it (its JSON)."""
    stored = record.model_dump_json().encode()
    if len(_STORED) >= _STORED_SIZE:
        _STORED.popitem(last=False)
    _STORED[stored] = record
    return stored


def stored_record(stored: bytes) -> GoldenRecord:
    """The record ``stored`` holds (raises ``ValidationError`` when it holds none)."""
    known = _STORED.get(stored)
    return known if known is not None else GoldenRecord.model_validate_json(stored)


def process_record(rules: RuleSet, lookup: Callable[[str], bytes | None], incoming: Incoming,
                   now: datetime, crm: CrmContext, result: StepResult) -> None:
    """Apply one record to the state seen through ``lookup`` and add the effects to
    ``result``. A poison record (undecodable, invalid, unsupported) becomes a dead letter
    with its reason; it never stops the partition."""
    try:
        if not incoming.key:
            raise EnvelopeError("the record has no key; Accord keys events by lead key")
        envelope = decode(incoming.key, incoming.value or b"", list(incoming.headers))
        lead_key = incoming.key.decode()
        stored = lookup(record_key(lead_key))
        record = stored_record(stored) if stored else None
        clock = load_clock(lookup, lead_key)
        if envelope.type == POOL_PICK_MADE:
            if record is None or record.has_seen(envelope.id):
                return
            taken, new_clock = apply_pick(rules, record, clock, envelope, now)
            result.changes[record_key(lead_key)] = record_bytes(taken)
            if new_clock is not None:
                result.changes[sla_key(lead_key)] = clock_bytes(new_clock)
            return
        outcome = handle_event(rules, record, envelope, now, crm)
    except POISON as exc:
        dead_letter(incoming, str(exc), result)
        return
    except Exception as exc:  # a bug in one event must not block the partition either
        log.exception("router.unexpected_error", topic=incoming.topic,
                      partition=incoming.partition, offset=incoming.offset)
        dead_letter(incoming, f"unexpected error: {type(exc).__name__}: {exc}", result)
        return
    _store_and_publish(rules, record, clock, outcome, now, result)


def _store_and_publish(rules: RuleSet, before: GoldenRecord | None, clock: SlaClock | None,
                       outcome: Outcome, now: datetime, result: StepResult) -> None:
    record = outcome.record
    lead_key = record.lead_key
    if not outcome.duplicate:
        result.changes[record_key(lead_key)] = record_bytes(record)
    status = record.salesforce_status
    if not outcome.duplicate and before is not None and status != before.salesforce_status:
        touch = touched(rules, clock, status, now)
        clock = touch or clock
        if touch is not None:
            result.changes[sla_key(lead_key)] = clock_bytes(touch)
    if outcome.decision is None:
        return
    result.decided += 1
    if record.awaiting_pool is not None:
        # The pool's partition publishes the decision once it has picked the owner.
        publish(result, "pool_requests", POOL_PICK_REQUESTED, record.awaiting_pool,
                pick_request(outcome.decision, record.awaiting_pool),
                routing_request_id(lead_key, outcome.decision.decision_id))
    else:
        publish_decision(result, outcome.decision, outcome.announcements)
        if not outcome.duplicate:
            started = clock_after(rules, clock, outcome.decision, now)
            if started is not None:
                result.changes[sla_key(lead_key)] = clock_bytes(started)
    if outcome.won is not None:
        publish(result, "decisions", OPPORTUNITY_WON, lead_key, outcome.won,
                outcome.won.decision_id)


def publish(result: StepResult, kind: str, event_type: str, key: str, data: BaseModel,
            event_id: str, time: str | None = None) -> None:
    """Add a CloudEvent keyed by ``key`` to the records ``result`` publishes to ``kind``."""
    out = encode(event_type, SOURCE, key, data, event_id=event_id, time=time)
    result.outputs.append(Outgoing(kind, out.key, out.value, list(out.headers)))


def publish_decision(result: StepResult, decision: LeadRouted,
                     announced: Iterable[Announcement]) -> None:
    """Publish ``lead.routed`` and then what it announces (``announcements(decision)``), all
    under the lead's key on the decisions topic: a consumer sees them in order, the
    decision first. They are published together, so they share one ``ce_time``."""
    time = event_time()
    routed = encode(LEAD_ROUTED, SOURCE, decision.lead_key, decision, decision.decision_id,
                    time)
    result.outputs.append(Outgoing("decisions", routed.key, routed.value, routed.headers))
    for event in announced:
        if event.same_json_as_decision:
            out = encode_json(event.type, SOURCE, decision.lead_key, routed.value,
                              event.event_id, time)
            result.outputs.append(Outgoing("decisions", out.key, out.value, out.headers))
        else:
            publish(result, "decisions", event.type, decision.lead_key, event.data,
                    event.event_id, time)


def dead_letter(incoming: Incoming, reason: str, result: StepResult) -> None:
    log.warning("router.dead_lettered", reason=reason[:500], topic=incoming.topic,
                partition=incoming.partition, offset=incoming.offset)
    headers = dead_letter_headers(list(incoming.headers), topic=incoming.topic,
                                  partition=incoming.partition, offset=incoming.offset,
                                  stage="router", reason=reason)
    result.outputs.append(Outgoing("dead_letters", incoming.key or b"", incoming.value or b"",
                                   list(headers)))
    result.dead_lettered += 1


def link_crm_change(lookup: Callable[[str], bytes | None], incoming: Incoming,
                    result: StepResult, crm: CrmContext = NO_CRM) -> None:
    """Re-key a CRM change (keyed by CRM object) by the lead it belongs to.

    A change that names the lead (its email or lead key) also teaches the link, so later
    changes of the same CRM object (a HubSpot property change carries only the object id)
    find their lead. A change of an object never linked is dead-lettered with that reason;
    replaying it after a linking change arrived routes it.
    """
    try:
        if not incoming.key:
            raise EnvelopeError("the record has no key; CRM changes are keyed by CRM object")
        envelope = decode(incoming.key, incoming.value or b"", list(incoming.headers))
        crm_object = incoming.key.decode()
        named = linked_lead_key(envelope)
    except POISON as exc:
        dead_letter(incoming, str(exc), result)
        return
    objects = merged_objects(envelope, crm_object)
    known = next((found for found in (lookup(LINK_PREFIX + o) for o in objects) if found),
                 None)
    lead_key = named or (known.decode() if known else None)
    if lead_key is None and (why := nothing_for_a_lead(envelope, crm)) is not None:
        # Not a lost change: there is nothing in it for any lead, so no dead letter either.
        log.info("router.crm_change_ignored", key=crm_object, type=envelope.type, why=why)
        return
    if lead_key is None:
        dead_letter(incoming, f"{envelope.type} of {crm_object} names no lead (no email or "
                    "lead key in it) and no earlier change linked that object to a lead",
                    result)
        return
    # Learn (or carry over, after a merge) the link of every object the change names.
    for linked in objects:
        if lookup(LINK_PREFIX + linked) != lead_key.encode():
            result.changes[LINK_PREFIX + linked] = lead_key.encode()
    result.outputs.append(Outgoing("crm_changes_by_lead", lead_key.encode(),
                                   incoming.value or b"", list(incoming.headers)))
