"""Router pure-step benchmark: ``process_record`` alone, no Kafka, µs per event.

    .venv/bin/python -m bench.router_step_bench [--events 5000] [--profile 25]

Two streams, both through the shipped rule file and a dict standing in for the changelog
store (looked up as the worker does: the batch's pending changes first):
  captured  what ``bench.router_bench`` sends: one ``lead.captured`` per new lead;
  mixed     leads seen again: re-captures, engagements, revenue, Salesforce status
            changes and redeliveries, so stored records are loaded, merged and re-decided.
Figures are CPU time of this process (best of --repeat), steadier than wall time on a shared
machine; the step is single-threaded, so it is also its wall time when it has a core. The
breakdown times the step's parts by wrapping them (inclusive wall times; the wrappers cost a
little, so the parts add up to slightly more than the plain run).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from services.contracts import events as ev
from services.contracts.envelope import encode
from services.router import decide, golden_record, handle_event, record_processing
from services.router.account_matching import AccountBook
from services.router.crm_fields import NO_CRM
from services.router.record_processing import Incoming, StepResult, process_record
from services.router.rules.loader import load_rules
from services.router.rules.model import RuleSet

RULES = Path(__file__).resolve().parent.parent / "rules" / "leads.yaml"
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=3)
BATCH = 500  # the worker's default max_batch
COUNTRIES = ["DE", "US", "GB", "BR", "CA", "FR", "NL", "JP"]
SOURCES = ["demo_request", "web_form", "ebook", None]
TITLES = ["VP Sales", "Analyst", "Head of Marketing", "Director, IT", "CTO", "Founder",
          "Sales Manager", "Vice President Operations", "Geschäftsführer", "Engineer"]
ACTIONS = ["content_download", "webinar_signup", "demo_request", "email_click", "page_view"]
STATUSES = ["Working - Contacted", "Recycled", "Open", "Closed - Not Converted"]


def _fields(i: int, version: int = 0) -> ev.LeadFields:
    """A varied lead: sizes, countries, titles and sources exercise every rule and route."""
    domain = ["globex.example", "gmail.com", "initech.example"][i % 3] if i % 10 == 0 \
        else f"company{i % 997}.example"
    return ev.LeadFields(email=f"lead{i}@{domain}", employees=(i * 37 + version * 450) % 5000,
                         country=COUNTRIES[(i + version) % len(COUNTRIES)],
                         title=TITLES[(i + version) % len(TITLES)],
                         lead_source=SOURCES[(i + version) % len(SOURCES)], company=f"Co {i}",
                         campaign=f"2026-q{1 + i % 4}" if i % 2 else None)


def _record(event_type: str, key: str, data: BaseModel, event_id: str,
            topic: str = "accord.lead-events") -> Incoming:
    out = encode(event_type, "/bench", key, data, event_id=event_id)
    return Incoming(topic, 0, 0, out.key, out.value, out.headers)


def captured_stream(count: int) -> list[Incoming]:
    """One ``lead.captured`` per new lead, as ``bench.router_bench`` sends."""
    leads = [ev.LeadCaptured(lead_key=_fields(i).email, fields=_fields(i),
                             captured_at=T0 + timedelta(seconds=i)) for i in range(count)]
    return [_record(ev.LEAD_CAPTURED, lead.lead_key, lead, f"c-{i}")
            for i, lead in enumerate(leads)]


def mixed_stream(count: int, seed: int = 7) -> list[Incoming]:
    """Events on a pool of leads (a quarter as many as events), in a seeded random mix."""
    rng = random.Random(seed)
    pool, known, sent = max(1, count // 4), set[int](), list[Incoming]()
    for n in range(count):
        i, at, eid = rng.randrange(pool), T0 + timedelta(seconds=n), f"m-{n}"
        email = _fields(i).email
        roll = rng.random()
        if i not in known or roll < 0.35:
            known.add(i)
            event = ev.LeadCaptured(lead_key=email, fields=_fields(i, rng.randrange(3)),
                                    captured_at=at)
            sent.append(_record(ev.LEAD_CAPTURED, email, event, eid))
        elif roll < 0.65:
            action = rng.choice(ACTIONS)
            sent.append(_record(ev.ENGAGEMENT_RECORDED, email, ev.EngagementRecorded(
                lead_key=email, email=email, action=action, occurred_at=at,
                attribution=ev.Attribution(campaign=f"camp-{i % 5}")), eid))
        elif roll < 0.75:
            sent.append(_record(ev.REVENUE_RECORDED, email, ev.RevenueRecorded(
                lead_key=email, email=email, amount=Decimal(rng.randrange(100, 90_000)),
                currency="EUR", occurred_at=at, reference=f"INV-{rng.randrange(50)}",
                system="stripe"), eid))
        elif roll < 0.92:
            status = rng.choice(STATUSES)
            sent.append(_record(ev.SALESFORCE_CHANGE_RECEIVED, email,
                                ev.SalesforceChangeReceived(
                                    organization_id="00D1", action_id="04k1",
                                    notification_id=f"04l{n}", sobject_type="Lead",
                                    sobject_id=f"00Q{i:05d}", received_at=at,
                                    fields={"Email": email, "Status": status}),
                                eid, topic="accord.crm-changes-by-lead"))
        elif sent:
            sent.append(sent[rng.randrange(len(sent))])  # a redelivery
    return sent


def run(rules: RuleSet, stream: list[Incoming], clock: Callable[[], float] = time.process_time,
        ) -> tuple[float, dict[str, bytes], list[Any]]:
    """Seconds (CPU) for the stream in worker-sized batches; the final store; every output."""
    store: dict[str, bytes] = {}
    outputs: list[Any] = []
    elapsed = 0.0
    for start in range(0, len(stream), BATCH):
        result = StepResult()

        def lookup(key: str, result: StepResult = result) -> bytes | None:
            pending = result.changes.get(key)
            return pending if pending is not None else store.get(key)

        began = clock()
        for incoming in stream[start:start + BATCH]:
            process_record(rules, lookup, incoming, NOW, NO_CRM, result)
        elapsed += clock() - began
        store.update(result.changes)
        outputs += result.outputs
    return elapsed, store, outputs


# (label, module or class, attribute); indented labels are parts of the one above.
_PARTS: list[tuple[str, Any, str]] = [
    ("decode envelope", record_processing, "decode"),
    ("load golden record (JSON)", golden_record.GoldenRecord, "model_validate_json"),
    ("validate event", ev.LeadCaptured, "model_validate"),
    ("validate event", ev.EngagementRecorded, "model_validate"),
    ("validate event", ev.RevenueRecorded, "model_validate"),
    ("validate event", ev.SalesforceChangeReceived, "model_validate"),
    ("merge into golden record", handle_event, "merge_salesforce_change"),
    ("decide (evaluate)", handle_event, "evaluate"),
    ("  lead view", decide, "lead_view"),
    ("  account matching", AccountBook, "match"),
    ("  CEL bindings (activations)", decide, "Bindings"),
    ("  CEL conditions", decide, "which_hold"),
    ("  CEL conditions", decide, "first_holding"),
    ("  decision id (uuid5)", decide, "decision_id"),
    ("  LeadFields for the decision", decide, "lead_fields"),
    ("  build LeadRouted", decide, "LeadRouted"),
    ("record the decision", handle_event, "record_decision"),
    ("record the decision", handle_event, "recheck_recycle_rules"),
    ("announcements", handle_event, "announcements"),
    ("store golden record (JSON)", golden_record.GoldenRecord, "model_dump_json"),
    ("encode outputs", record_processing, "encode"),
    ("encode outputs", record_processing, "encode_json"),
]


def _timed(spent: dict[str, float], label: str, inner: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            spent[label] += time.perf_counter() - began
    return wrapper


def _as_class_method(bound: Callable[..., Any]) -> Any:
    """A class method calling ``bound`` (a class method bound already) without the class."""
    def call(_cls: type, *args: Any, **kwargs: Any) -> Any:
        return bound(*args, **kwargs)
    return classmethod(call)


@contextmanager
def instrumented(spent: dict[str, float]) -> Iterator[None]:
    """Wrap the step's parts with timers for the duration of the block."""
    undo: list[tuple[Any, str, Any]] = []
    for label, owner, name in _PARTS:
        undo.append((owner, name, owner.__dict__.get(name)))
        timed = _timed(spent, label, getattr(owner, name))
        is_class_method = isinstance(owner, type) and name.startswith("model_validate")
        setattr(owner, name, _as_class_method(timed) if is_class_method else timed)
    merges = dict(handle_event._MERGES)
    handle_event._MERGES.update({t: (model, _timed(spent, "merge into golden record", apply))
                                 for t, (model, apply) in merges.items()})
    try:
        yield
    finally:
        handle_event._MERGES.update(merges)
        for owner, name, raw in reversed(undo):
            if raw is None:  # inherited: drop the wrapper
                delattr(owner, name)
            else:
                setattr(owner, name, raw)


def report(name: str, rules: RuleSet, stream: list[Incoming], repeat: int) -> None:
    """Print µs/event and events/s (best of ``repeat``), then the breakdown."""
    run(rules, stream[:200])  # warm up
    best = min(run(rules, stream)[0] for _ in range(repeat))
    per_event = best / len(stream) * 1e6
    print(f"\n{name}: {len(stream)} events, {per_event:.1f} µs/event, "
          f"{len(stream) / best:,.0f} events/s (pure step, best of {repeat})")
    spent: dict[str, float] = defaultdict(float)
    with instrumented(spent):
        total = run(rules, stream, time.perf_counter)[0]
    print(f"  {'part (inclusive)':<34}{'µs/event':>9}{'share':>8}")
    for label in dict.fromkeys(label for label, _, _ in _PARTS):
        share = spent[label] / total
        print(f"  {label:<34}{spent[label] / len(stream) * 1e6:>9.1f}{share:>8.0%}")
    top = sum(s for label, s in spent.items() if not label.startswith(" "))
    print(f"  {'rest of process_record':<34}{(total - top) / len(stream) * 1e6:>9.1f}"
          f"{(total - top) / total:>8.0%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="also print the N costliest functions (cProfile, mixed stream)")
    args = parser.parse_args()
    rules = load_rules(RULES)
    streams = {"captured": captured_stream(args.events), "mixed": mixed_stream(args.events)}
    for name, stream in streams.items():
        report(name, rules, stream, args.repeat)
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(run, rules, streams["mixed"])
        print()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(args.profile)


if __name__ == "__main__":
    main()
