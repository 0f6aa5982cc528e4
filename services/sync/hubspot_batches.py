"""From HubSpot's batch answers back to the records we sent: pure functions, no I/O.

HubSpot answers a batch in one of three ways: 200/201 with a result per input; 207 with
results for some inputs and ``errors`` for others; or 4xx for the whole batch. An error names
its input only sometimes (``context.ids``, ``context.objectWriteTraceId``, ...); a whole-batch
400 for an invalid property value names the property but not the input. ``settle`` sends a
batch again without the records it could place, and splits it in halves when it could place
none, until every record is written or rejected on its own: one bad record costs about
2 x log2(batch size) extra calls instead of its 99 neighbours.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

from services.sync.crm_writes import BatchOutcome, RecordRejected, RecordToWrite

CRM = "hubspot"
_MAX_MESSAGE = 500


@dataclass(frozen=True)
class Answer:
    """One HubSpot answer: its status and JSON body (an empty dict when it had none)."""

    status: int
    body: Mapping[str, Any]


@dataclass
class Round:
    """What one call settled: records written (key -> HubSpot id) or rejected, and errors
    that name no record we sent (``loose``)."""

    written: dict[str, str] = field(default_factory=dict)
    rejected: list[RecordRejected] = field(default_factory=list)
    loose: list[Mapping[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Reading:
    """How to tie a kind of batch's answer to our keys: a result to (key, HubSpot id) pairs,
    an error to the keys it blames."""

    result_keys: Callable[[Mapping[str, Any]], list[tuple[str, str]]]
    error_keys: Callable[[Mapping[str, Any]], list[str]]


Send = Callable[[Sequence[str]], Round]


def _context(error: Mapping[str, Any]) -> Mapping[str, Any]:
    context = error.get("context")
    return context if isinstance(context, Mapping) else {}


def _texts(values: Any) -> list[str]:
    if isinstance(values, str | int):
        return [str(values)]
    return [str(v) for v in values] if isinstance(values, list) else []


def _sub_errors(error: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    errors = error.get("errors")
    return [e for e in errors if isinstance(e, Mapping)] if isinstance(errors, list) else []


def rejection(key: str, error: Mapping[str, Any], correlation_id: str | None) -> RecordRejected:
    """A record refused for ``error``: HubSpot's category as the code, the properties it
    blames as the fields, and the detailed messages (not the serialised JSON summary)."""
    details = _sub_errors(error) or [error]
    fields: list[str] = []
    parts: list[str] = []
    for detail in details:
        names = _texts(_context(detail).get("propertyName"))
        fields += [n for n in names if n not in fields]
        code = str(detail.get("code") or detail.get("subCategory") or "")
        label = " ".join(p for p in (code, ", ".join(names)) if p)
        parts.append(f"{label}: {detail.get('message', '')}" if label
                     else str(detail.get("message", "")))
    code = str(error.get("category") or error.get("code") or "UNKNOWN")
    correlation = error.get("correlationId") or correlation_id
    return RecordRejected(key=key, crm=CRM, code=code, message="; ".join(parts)[:_MAX_MESSAGE],
                          fields=tuple(fields),
                          correlation_id=str(correlation) if correlation else None)


def read_answer(answer: Answer, reading: Reading, sent: Sequence[str]) -> Round:
    """Settle what an answer settles: results, errors naming our keys, and loose errors."""
    settled = Round()
    body = answer.body
    correlation = body.get("correlationId")
    correlation_id = str(correlation) if correlation else None
    known = set(sent)
    if not 200 <= answer.status < 300:
        # A whole-batch refusal: the body is the one error; it or its ``errors`` may name
        # the records to blame. Nothing of the batch was written.
        blamed = {k for e in [body, *_sub_errors(body)] for k in reading.error_keys(e)}
        settled.rejected = [rejection(k, body, correlation_id) for k in sent if k in blamed]
        if not settled.rejected:
            settled.loose.append(body)
        return settled
    for result in body.get("results") or ():
        if isinstance(result, Mapping):
            settled.written.update((k, i) for k, i in reading.result_keys(result) if k in known)
    for error in _sub_errors(body):
        keys = [k for k in reading.error_keys(error) if k in known and k not in settled.written]
        if keys:
            settled.rejected += [rejection(k, error, correlation_id) for k in keys]
        else:
            settled.loose.append({**error, "correlationId": error.get("correlationId")
                                  or correlation_id})
    return settled


def settle(keys: Sequence[str], send: Send) -> tuple[dict[str, str], list[RecordRejected]]:
    """Send ``keys`` until each is written or rejected on its own (see the module doc)."""
    answered = send(keys)
    written = dict(answered.written)
    rejected = list(answered.rejected)
    placed = set(written) | {r.key for r in rejected}
    left = [k for k in keys if k not in placed]
    if not left:
        return written, rejected
    if len(left) == 1 and answered.loose:
        rejected.append(rejection(left[0], answered.loose[0], None))
        return written, rejected
    if len(left) == 1 and len(keys) == 1:
        # HubSpot answered with neither a result nor an error for it: nothing to blame.
        rejected.append(RecordRejected(left[0], CRM, "NO_RESULT",
                                       "HubSpot answered without a result for this record"))
        return written, rejected
    parts = [left] if len(left) < len(keys) else [left[:len(left) // 2], left[len(left) // 2:]]
    for part in parts:
        more_written, more_rejected = settle(part, send)
        written.update(more_written)
        rejected += more_rejected
    return written, rejected


def upsert_reading(sent: Sequence[str], id_property: str,
                   normalise: Callable[[str], str]) -> Reading:
    """Ties an upsert's results and errors to the keys sent, in that order, with each input's
    ``objectWriteTraceId`` its position (HubSpot echoes it), else by the key's value."""
    by_value = {normalise(k): k for k in sent}

    def by_trace(trace: Any) -> str | None:
        text = str(trace)
        return sent[int(text)] if text.isdigit() and int(text) < len(sent) else None

    def result_keys(result: Mapping[str, Any]) -> list[tuple[str, str]]:
        key = by_trace(result.get("objectWriteTraceId"))
        if key is None:
            properties = result.get("properties")
            value = properties.get(id_property) if isinstance(properties, Mapping) else None
            key = by_value.get(normalise(str(value))) if value is not None else None
        return [(key, str(result.get("id")))] if key is not None and result.get("id") else []

    def error_keys(error: Mapping[str, Any]) -> list[str]:
        context = _context(error)
        keys = [by_trace(t) for t in _texts(context.get("objectWriteTraceId"))]
        keys += [by_value.get(normalise(v)) for name in ("ids", "id", id_property)
                 for v in _texts(context.get(name))]
        return list(dict.fromkeys(k for k in keys if k is not None))

    return Reading(result_keys, error_keys)


def association_reading(pairs: Mapping[str, tuple[str, str]]) -> Reading:
    """Ties a v4 deal-to-contact association batch to deal keys; ``pairs`` maps each key to
    its (deal id, contact id). The id of an association result is the deal's."""
    by_pair = {pair: key for key, pair in pairs.items()}

    def result_keys(result: Mapping[str, Any]) -> list[tuple[str, str]]:
        ends = [result.get(side) for side in ("from", "to")]
        ids = [str(e.get("id")) for e in ends if isinstance(e, Mapping)]
        if len(ids) != 2:
            return []
        key = by_pair.get((ids[0], ids[1])) or by_pair.get((ids[1], ids[0]))
        return [(key, pairs[key][0])] if key else []

    def error_keys(error: Mapping[str, Any]) -> list[str]:
        context = _context(error)
        ids = set(_texts(context.get("objectId")))
        kinds = {t.upper() for t in _texts(context.get("objectType"))} or {"DEAL", "CONTACT"}
        return [key for key, (deal, contact) in pairs.items()
                if ("DEAL" in kinds and deal in ids) or ("CONTACT" in kinds and contact in ids)]

    return Reading(result_keys, error_keys)


def as_text(value: Any) -> str:
    """A property value as HubSpot takes it: text; datetimes in epoch ms; None clears."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return str(int(moment.timestamp() * 1000))
    if isinstance(value, date):  # a date property holds midnight UTC
        return str(int(datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp()
                       * 1000))
    return str(value)


def merged(records: Sequence[RecordToWrite], normalise: Callable[[str], str],
           ) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """One input per record (HubSpot refuses a batch naming a record twice), later values
    winning as two upserts in a row would leave them; and each given key's canonical key."""
    values: dict[str, dict[str, str]] = {}
    canonical: dict[str, str] = {}
    for record in records:
        key = canonical[record.key] = normalise(record.key)
        values.setdefault(key, {}).update({n: as_text(v) for n, v in record.fields.items()})
    return values, canonical


def outcome(canonical: Mapping[str, str], written: Mapping[str, str],
            rejected: Sequence[RecordRejected]) -> BatchOutcome:
    """The outcome in the caller's own keys (several may share one canonical key)."""
    refusals = {r.key: r for r in rejected}
    return BatchOutcome(
        written={key: written[c] for key, c in canonical.items() if c in written},
        rejected=tuple(replace(refusals[c], key=key) for key, c in canonical.items()
                       if c in refusals and c not in written))
