"""What one batch of decisions comes to, before and after the CRMs: pure functions, no I/O.

A batch is the records one poll gave, from any number of partitions (or several polls'
batches merged, :func:`merge_batches`). A lead's decisions all live in one partition (the
lead key is the Kafka key), so offset order within a partition is each lead's order. Of
its ``lead.routed`` decisions only the last per lead is written (upsert semantics: an
earlier decision of the same lead in the same batch is superseded, as a Kafka Connect sink
with upserts would do); of its ``opportunity.won`` events the last per opportunity. Each
record is diffed against what the CRM is known to hold (:mod:`services.sync.known_values`):
only changed fields are sent, and a record with none is skipped. What cannot be decoded,
and what a CRM refuses, becomes a :class:`DeadLetter` naming the original record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TypeAlias

from aiokafka import ConsumerRecord
from pydantic import ValidationError

from services.contracts.envelope import EnvelopeError, decode
from services.contracts.events import LEAD_ROUTED, OPPORTUNITY_WON, LeadRouted, OpportunityWon
from services.sync.crm_writes import BatchOutcome, RecordRejected, RecordToWrite
from services.sync.known_values import Planned, Values, plan, state_key

Record: TypeAlias = ConsumerRecord[bytes, bytes]
UNKNOWN_OWNER = "UNKNOWN_OWNER"


@dataclass(frozen=True)
class Decided:
    """A decoded decision and the record that carried it."""

    record: Record
    decision: LeadRouted

    @property
    def lead_key(self) -> str:
        """The lead the decision is about."""
        return self.decision.lead_key


@dataclass(frozen=True)
class Won:
    """A decoded ``opportunity.won`` and the record that carried it."""

    record: Record
    won: OpportunityWon

    @property
    def lead_key(self) -> str:
        """The lead whose opportunity was won."""
        return self.won.lead_key


@dataclass(frozen=True)
class DeadLetter:
    """A record to send to the sync dead-letter topic, why, and the headers to add."""

    record: Record
    reason: str
    extra: Mapping[str, str]


@dataclass(frozen=True)
class ReadBatch:
    """A batch read: the decisions to write (last per lead), the wins (last per
    opportunity), and what could not be read."""

    latest: tuple[Decided, ...] = ()
    unreadable: tuple[DeadLetter, ...] = ()
    won: tuple[Won, ...] = ()


@dataclass(frozen=True)
class Writes:
    """One CRM's records for a batch: what to send, the source behind each key, the records
    refused before any call (an owner the CRM does not know), the keys skipped (the CRM holds
    their values), and each key's plan (for what to keep once the CRM answered)."""

    crm: str
    records: tuple[RecordToWrite, ...] = ()
    sources: Mapping[str, Decided | Won] = field(default_factory=dict)
    refused: tuple[RecordRejected, ...] = ()
    skipped: tuple[str, ...] = ()
    plans: Mapping[str, tuple[str, Planned]] = field(default_factory=dict)


def read_batch(records: Iterable[Record]) -> ReadBatch:
    """Decode ``records``; keep ``lead.routed`` decisions, the last per lead in offset order,
    and ``opportunity.won``, the last per opportunity; an undecodable record becomes a dead
    letter with the reason."""
    latest: dict[str, Decided] = {}
    won: dict[str, Won] = {}
    unreadable: list[DeadLetter] = []
    # Offsets only order records within a partition, which holds all of a lead's decisions.
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        try:
            envelope = decode(record.key, record.value, list(record.headers))
            if envelope.type == OPPORTUNITY_WON:
                event = OpportunityWon.model_validate(envelope.data)
                won.pop(event.opportunity_id, None)
                won[event.opportunity_id] = Won(record, event)
                continue
            if envelope.type != LEAD_ROUTED:
                continue  # other decision types are not written to the CRMs
            decision = LeadRouted.model_validate(envelope.data)
        except (EnvelopeError, ValidationError) as exc:
            unreadable.append(DeadLetter(record, f"unreadable decision: {exc}",
                                         {"crm": "none"}))
            continue
        latest.pop(decision.lead_key, None)  # keep the dict in order of the last decisions
        latest[decision.lead_key] = Decided(record, decision)
    return ReadBatch(tuple(latest.values()), tuple(unreadable), tuple(won.values()))


def merge_batches(batches: Iterable[ReadBatch]) -> ReadBatch:
    """Batches read from consecutive polls, in poll order, as one: a later poll's decision
    for a lead (or win of an opportunity) supersedes an earlier poll's, as within a batch."""
    latest: dict[str, Decided] = {}
    won: dict[str, Won] = {}
    unreadable: list[DeadLetter] = []
    for batch in batches:
        for decided in batch.latest:
            latest.pop(decided.lead_key, None)
            latest[decided.lead_key] = decided
        for item in batch.won:
            won.pop(item.won.opportunity_id, None)
            won[item.won.opportunity_id] = item
        unreadable += batch.unreadable
    return ReadBatch(tuple(latest.values()), tuple(unreadable), tuple(won.values()))


def known_keys(crm: str, latest: Iterable[Decided], won: Iterable[Won] = (),
               ) -> dict[int, list[str]]:
    """The known-values keys ``crm``'s records are diffed against, by the partition of the
    decision behind each (where they are kept): ``<crm>:<lead key>``, and for HubSpot
    ``hubspot:deal:<opportunity id>`` too."""
    keys: dict[int, list[str]] = {}
    for decided in latest:
        keys.setdefault(decided.record.partition, []).append(state_key(crm, decided.lead_key))
    for item in won:
        keys.setdefault(item.record.partition, []).append(
            state_key("hubspot", f"deal:{item.won.opportunity_id}"))
    return keys


def _no_values(_decision: LeadRouted) -> Values:
    return {}


def build_writes(crm: str, decided: Sequence[Decided], owner_ids: Mapping[str, str | None],
                 key_of: Callable[[LeadRouted], str],
                 fields_of: Callable[[LeadRouted, str, bool], Mapping[str, object]],
                 known: Mapping[str, Values | None] | None = None,
                 held_of: Callable[[LeadRouted], Values] = _no_values) -> Writes:
    """The records for one CRM: ``key_of`` gives a decision's upsert key, ``fields_of`` its
    fields given the owner's CRM id and whether the record is a create; ``owner_ids`` maps
    owner emails to ids (``None``: the CRM has no such owner, and the record is refused with
    ``UNKNOWN_OWNER``). ``known`` holds what the CRM was seen to accept, by
    ``<crm>:<lead key>``, and ``held_of`` what a decision says came from the CRM."""
    records: list[RecordToWrite] = []
    sources: dict[str, Decided | Won] = {}
    refused: list[RecordRejected] = []
    skipped: list[str] = []
    plans: dict[str, tuple[str, Planned]] = {}
    for item in decided:
        decision = item.decision
        key = key_of(decision)
        sources[key] = item
        email = decision.owner.email
        owner = owner_ids.get(email)
        kept_key = state_key(crm, decision.lead_key)
        planned = plan((known or {}).get(kept_key), held_of(decision),
                       partial(fields_of, decision, owner or ""))
        plans[key] = (kept_key, planned)
        if owner is None:
            refused.append(RecordRejected(
                key=key, crm=crm, code=UNKNOWN_OWNER,
                message=f"{crm} has no active owner with the email {email}",
                fields=("owner",)))
        elif planned.skipped:
            skipped.append(key)
        else:
            records.append(RecordToWrite(key, planned.send))
    return Writes(crm, tuple(records), sources, tuple(refused), tuple(skipped), plans)


def _same_on_create(properties_of: Callable[[OpportunityWon], Mapping[str, str]],
                    won: OpportunityWon, _creating: bool) -> Mapping[str, str]:
    return properties_of(won)


def build_deal_writes(won: Sequence[Won], known: Mapping[str, Values | None],
                      properties_of: Callable[[OpportunityWon], Mapping[str, str]]) -> Writes:
    """The HubSpot deals for a batch's wins, keyed by opportunity id, diffed like contacts
    against what HubSpot accepted for the deal (``hubspot:deal:<opportunity id>``)."""
    records: list[RecordToWrite] = []
    skipped: list[str] = []
    plans: dict[str, tuple[str, Planned]] = {}
    for item in won:
        key = item.won.opportunity_id
        kept_key = state_key("hubspot", f"deal:{key}")
        # A deal's properties are the same whether it is created or updated.
        planned = plan(known.get(kept_key), {}, partial(_same_on_create, properties_of, item.won))
        plans[key] = (kept_key, planned)
        if planned.skipped:
            skipped.append(key)
        else:
            records.append(RecordToWrite(key, planned.send))
    return Writes("hubspot", tuple(records), {w.won.opportunity_id: w for w in won},
                  skipped=tuple(skipped), plans=plans)


def to_keep(writes: Writes, outcome: BatchOutcome) -> dict[str, Values]:
    """What to keep as known once the CRM answered: for each record it accepted, what it
    holds now; for the others, what the decision taught about what it holds (if anything)."""
    kept: dict[str, Values] = {}
    for key, (kept_key, planned) in writes.plans.items():
        if key in outcome.written:
            kept[kept_key] = planned.after_write()
        elif planned.learned and planned.held is not None:
            kept[kept_key] = planned.held
    return kept


def kept_by_partition(writes: Writes, outcome: BatchOutcome) -> dict[int, dict[str, Values]]:
    """:func:`to_keep`, by the partition of each record's decision (where it is kept)."""
    partition_of = {kept_key: writes.sources[key].record.partition
                    for key, (kept_key, _planned) in writes.plans.items()}
    kept: dict[int, dict[str, Values]] = {}
    for kept_key, values in to_keep(writes, outcome).items():
        kept.setdefault(partition_of[kept_key], {})[kept_key] = values
    return kept


def _find(sources: Mapping[str, Decided | Won], key: str) -> Decided | Won | None:
    found = sources.get(key)
    if found is not None:
        return found
    folded = key.casefold()  # CRMs compare upsert keys without case
    return next((d for k, d in sources.items() if k.casefold() == folded), None)


def dead_letters(writes: Writes, outcome: BatchOutcome) -> list[DeadLetter]:
    """One dead letter per record refused (before the call or by the CRM), carrying the
    decision record written for that lead and the CRM's code, message and fields."""
    letters: list[DeadLetter] = []
    for refusal in (*writes.refused, *outcome.rejected):
        source = _find(writes.sources, refusal.key)
        if source is None:
            raise ValueError(f"{writes.crm} answered for {refusal.key!r}, which was not sent")
        letters.append(DeadLetter(
            source.record,
            f"{writes.crm} rejected the record: {refusal.code}: {refusal.message}",
            {"crm": writes.crm, "code": refusal.code, "message": refusal.message[:2000],
             "fields": ",".join(refusal.fields),
             "correlation_id": refusal.correlation_id or "",
             "lead_key": source.lead_key}))
    return letters
