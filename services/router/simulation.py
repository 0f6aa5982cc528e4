"""What a rule change would do: replay recorded lead events through two rule sets, compare.

Pure: the caller reads the events (:mod:`services.router.recorded_events`) and passes them
in; each rule set keeps its own golden records, exactly as the router would.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError

from services.contracts.envelope import Envelope
from services.router.crm_changes import linked_lead_key
from services.router.crm_fields import NO_CRM, CrmContext
from services.router.golden_record import GoldenRecord
from services.router.handle_event import (
    UnlinkedChangeError,
    UnsupportedEventError,
    handle_event,
)
from services.router.handoff_messages import routing_request_id
from services.router.pools import PoolLedger, assign
from services.router.rules.cel_conditions import ConditionError
from services.router.rules.model import RuleSet

_TIME = TypeAdapter(datetime)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Row:
    """One owner (or route, or stage) and how many leads it gets under each rule set."""

    name: str
    current: int
    candidate: int

    @property
    def delta(self) -> int:
        """Leads gained (positive) or lost (negative) under the candidate rules."""
        return self.candidate - self.current


@dataclass(frozen=True)
class LeadChange:
    """A lead whose final decision differs between the two rule sets."""

    lead_key: str
    owner_before: str | None
    owner_after: str | None
    stage_before: str | None
    stage_after: str | None
    route_before: str | None
    route_after: str | None
    score_before: int | None
    score_after: int | None


@dataclass(frozen=True)
class SimulationReport:
    """The difference the candidate rules make to the replayed leads' final decisions."""

    current_version: str
    candidate_version: str
    leads: int
    events_replayed: int
    events_duplicate: int
    events_skipped: dict[str, int]
    events_invalid: int
    owner_changes: int
    stage_changes: int
    route_changes: int
    score_changes: int
    mean_score_current: float
    mean_score_candidate: float
    owners: tuple[Row, ...]
    routes: tuple[Row, ...]
    stages: tuple[Row, ...]
    changed: tuple[LeadChange, ...]
    # Leads per pool member ("pool / member"), and first-touch clocks started per SLA.
    pool_members: tuple[Row, ...] = ()
    sla_load: tuple[Row, ...] = ()

    @property
    def mean_score_delta(self) -> float:
        """How many points the candidate rules give a lead more (or less) on average."""
        return self.mean_score_candidate - self.mean_score_current


@dataclass
class Replay:
    """Feeds events one by one through both rule sets; ``report()`` compares the outcome."""

    current: RuleSet
    candidate: RuleSet
    # Which CRM changes are Accord's own echoes, and how a person's edits merge.
    crm: CrmContext = NO_CRM
    records: tuple[dict[str, GoldenRecord], dict[str, GoldenRecord]] = field(
        default_factory=lambda: ({}, {}))
    replayed: int = 0
    duplicates: int = 0
    invalid: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    last_time: datetime = _EPOCH
    # Each rule set's pools keep their own rotation, as the router's pool partitions do.
    ledgers: tuple[dict[str, PoolLedger], dict[str, PoolLedger]] = field(
        default_factory=lambda: ({}, {}))
    # Per rule set: SLA name -> clocks started (a lead handed to a new owner by its route).
    sla_starts: tuple[Counter[str], Counter[str]] = field(
        default_factory=lambda: (Counter(), Counter()))

    def feed(self, envelope: Envelope, key: str | None = None) -> None:
        """Apply one event under both rule sets; ``key`` is the Kafka key (the lead key).

        An event the router would dead-letter (invalid data, a condition failing at run
        time) is counted as invalid and leaves the records as they were.
        """
        # CRM changes are keyed by the CRM object: the router links them to a lead first.
        key = linked_lead_key(envelope) or key or str(envelope.data.get("lead_key") or "")
        now = self._event_time(envelope)
        try:
            outcomes = [handle_event(rules, store.get(key), envelope, now, self.crm)
                        for rules, store in zip((self.current, self.candidate), self.records,
                                                strict=True)]
        except (UnsupportedEventError, UnlinkedChangeError):
            self.skipped[envelope.type] += 1
            return
        except (ValidationError, ConditionError, TypeError):
            self.invalid += 1
            return
        if not key:
            self.invalid += 1
            return
        self.replayed += 1
        self.duplicates += outcomes[0].duplicate
        for index, (rules, outcome) in enumerate(zip((self.current, self.candidate),
                                                     outcomes, strict=True)):
            before = self.records[index].get(key)
            record = self._picked(index, rules, outcome.record, now)
            self.records[index][key] = record
            self._count_sla(index, rules, before, record)

    def _picked(self, index: int, rules: RuleSet, record: GoldenRecord,
                now: datetime) -> GoldenRecord:
        """The record once its pool picked the owner, as the pool's partition would."""
        pool = rules.pool(record.awaiting_pool) if record.awaiting_pool else None
        decision = record.last_decision
        if pool is None or decision is None:
            return record
        ledgers = self.ledgers[index]
        pick, ledgers[pool.name] = assign(
            pool, ledgers.get(pool.name, PoolLedger()), now,
            routing_request_id(record.lead_key, decision.decision_id))
        owner = decision.owner.model_copy(update={
            "kind": "queue" if pick.from_fallback else "user", "email": pick.email,
            "explanation": pick.explanation})
        return record.model_copy(update={
            "last_decision": decision.model_copy(update={"owner": owner}),
            "awaiting_pool": None})

    def _count_sla(self, index: int, rules: RuleSet, before: GoldenRecord | None,
                   after: GoldenRecord) -> None:
        old = before.last_decision.owner.email if before and before.last_decision else None
        new = after.last_decision
        route = rules.route(new.owner.route) if new is not None else None
        if new is not None and route is not None and route.sla and new.owner.email != old:
            self.sla_starts[index][route.sla] += 1

    def unreadable(self) -> None:
        """Count a recorded event that is not a CloudEvent (the router dead-letters it)."""
        self.invalid += 1

    def _event_time(self, envelope: Envelope) -> datetime:
        # The event's own time, not the clock: engagement decay then replays identically.
        raw = envelope.data.get("captured_at") or envelope.data.get("occurred_at")
        try:
            self.last_time = _TIME.validate_python(raw) if raw else self.last_time
        except ValidationError:
            pass  # handle_event rejects the event itself, naming the field
        return self.last_time

    def report(self) -> SimulationReport:
        """Compare each lead's final decision under the current and the candidate rules."""
        current, candidate = self.records
        keys = sorted(current.keys() | candidate.keys())
        before = {k: _final(current.get(k)) for k in keys}
        after = {k: _final(candidate.get(k)) for k in keys}
        changed = tuple(LeadChange(k, *_pair(before[k], after[k])) for k in keys
                        if before[k] != after[k])
        scored = [k for k in keys if before[k][3] is not None and after[k][3] is not None]
        return SimulationReport(
            current_version=self.current.version, candidate_version=self.candidate.version,
            leads=len(keys), events_replayed=self.replayed, events_duplicate=self.duplicates,
            events_skipped=dict(sorted(self.skipped.items())), events_invalid=self.invalid,
            owner_changes=sum(c.owner_before != c.owner_after for c in changed),
            stage_changes=sum(c.stage_before != c.stage_after for c in changed),
            route_changes=sum(c.route_before != c.route_after for c in changed),
            score_changes=sum(c.score_before != c.score_after for c in changed),
            mean_score_current=_mean([before[k][3] for k in scored]),
            mean_score_candidate=_mean([after[k][3] for k in scored]),
            owners=_distribution(before, after, 0), stages=_distribution(before, after, 1),
            routes=_distribution(before, after, 2), changed=changed,
            pool_members=_rows(Counter(_pool_member(current.get(k)) for k in keys),
                               Counter(_pool_member(candidate.get(k)) for k in keys)),
            sla_load=_rows(Counter(self.sla_starts[0]), Counter(self.sla_starts[1])))


def _pool_member(record: GoldenRecord | None) -> str | None:
    decision = record.last_decision if record else None
    if decision is None or decision.owner.pool is None:
        return None
    return f"{decision.owner.pool} / {decision.owner.email}"


def _rows(current: Counter[Any], candidate: Counter[Any]) -> tuple[Row, ...]:
    names = sorted((current.keys() | candidate.keys()) - {None},
                   key=lambda n: (-max(current[n], candidate[n]), str(n)))
    return tuple(Row(str(name), current[name], candidate[name]) for name in names)


Final = tuple[str | None, str | None, str | None, int | None]


def _final(record: GoldenRecord | None) -> Final:
    decision = record.last_decision if record else None
    if decision is None:
        return (None, None, None, None)
    return (decision.owner.email, decision.stage, decision.owner.route, decision.score)


def _pair(before: Final, after: Final) -> tuple[Any, ...]:
    return tuple(value for pair in zip(before, after, strict=True) for value in pair)


def _mean(scores: list[int | None]) -> float:
    values = [s for s in scores if s is not None]
    return sum(values) / len(values) if values else 0.0


def _distribution(before: dict[str, Final], after: dict[str, Final], index: int,
                  ) -> tuple[Row, ...]:
    current = Counter(str(f[index]) for f in before.values() if f[index] is not None)
    candidate = Counter(str(f[index]) for f in after.values() if f[index] is not None)
    names = sorted(current.keys() | candidate.keys(),
                   key=lambda n: (-max(current[n], candidate[n]), n))
    return tuple(Row(name, current[name], candidate[name]) for name in names)


def simulate(current: RuleSet, candidate: RuleSet, envelopes: Iterable[Envelope],
             crm: CrmContext = NO_CRM) -> SimulationReport:
    """Replay events, in order, through both rule sets and report what would change."""
    replay = Replay(current, candidate, crm)
    for envelope in envelopes:
        replay.feed(envelope)
    return replay.report()
