"""Examples in a rule file: a lead in, the expected decision out — parsed and run."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, cast, get_args

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from yaml.constructor import SafeConstructor
from yaml.nodes import Node, ScalarNode, SequenceNode

from services.contracts.events import (
    LeadCaptured,
    LeadFields,
    LeadRouted,
    RevenueRecorded,
    Stage,
)
from services.contracts.lead_key import lead_key_for
from services.router.decide import decide
from services.router.golden_record import (
    merge_captured,
    merge_revenue,
    new_record,
    record_decision,
)
from services.router.rules.cel_conditions import ConditionError
from services.router.rules.model import Example, Expectation, RuleSet

if TYPE_CHECKING:
    from services.router.rules.loader import NodeReader

# Rules do not read the clock; a fixed time keeps every run of an example identical.
EXAMPLE_TIME = datetime(2026, 1, 1, tzinfo=UTC)
EXAMPLE_SOURCE = "/accord/rules/examples"

_STAGES: tuple[str, ...] = get_args(Stage)
_LEAD_FIELDS = ", ".join(sorted(LeadFields.model_fields))
_FIELD_HINTS = {
    "email": "write a deliverable address, e.g. ada@siemens.example",
    "country": "an ISO 3166-1 alpha-2 code in capitals, e.g. DE",
    "employees": "a whole number from 0, e.g. employees: 250",
}


def parse_examples(reader: NodeReader, node: Node,
                   known_rules: Collection[str] | None) -> list[Example]:
    """Read the ``examples`` list; ``known_rules`` (e.g. ``scoring.demo_request``) checks
    the names an example expects, or is ``None`` when the rules themselves had problems."""
    examples: list[Example] = []
    names: set[str] = set()
    for entry in reader.sequence(node, "examples"):
        fields = reader.mapping(entry, "an example")
        if fields is None:
            continue
        reader.unknown_keys(fields, {"name", "lead", "revenue", "expect"}, "an example")
        name = reader.text(fields.get("name"), entry, "name")
        if name is not None:
            if name in names:
                reader.problem(fields["name"], f"a second example named `{name}`",
                               "give every example its own name: results are reported by name")
            names.add(name)
        lead = _lead(reader, fields.get("lead"), entry)
        revenue = _revenue(reader, fields.get("revenue"), entry)
        expect = _expectation(reader, fields.get("expect"), entry, known_rules)
        if name and lead and expect:
            examples.append(Example(name, lead, expect, entry.start_mark.line + 1, revenue))
    return examples


def _revenue(reader: NodeReader, node: Node | None, parent: Node) -> Decimal | None:
    if node is None:
        return None
    text = reader.text(node, parent, "revenue")
    try:
        amount = Decimal(text) if text is not None else None
    except InvalidOperation:
        amount = None
    if amount is None or amount <= 0:
        reader.problem(node, f"revenue `{text}` is not a positive amount",
                       "write revenue: 48000.00 (booked after the lead was first routed)")
        return None
    return amount


def _lead(reader: NodeReader, node: Node | None, parent: Node) -> LeadFields | None:
    if node is None:
        reader.problem(parent, "missing `lead`",
                       "add `lead: {email: ada@siemens.example, employees: 5000, ...}`")
        return None
    fields = reader.mapping(node, "lead")
    if fields is None:
        return None
    values: dict[str, Any] = {}
    for key, value in fields.items():
        try:
            values[key] = SafeConstructor().construct_object(value, deep=True)
        except yaml.YAMLError:
            reader.problem(value, f"cannot read lead field `{key}`", "write a plain value")
            return None
    try:
        return LeadFields.model_validate(values)
    except ValidationError as exc:
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else ""
            where = fields.get(field, node)
            raw = where.value if isinstance(where, ScalarNode) else ""
            reader.problem(where, *_lead_problem(field, error, str(raw)))
        return None


def _lead_problem(field: str, error: ErrorDetails, raw: str) -> tuple[str, str]:
    if error["type"] == "extra_forbidden":
        return f"unknown lead field `{field}`", f"lead fields: {_LEAD_FIELDS}"
    if error["type"] == "missing":
        return f"the lead has no `{field}`", f"add `{field}: ...`; every lead has an email"
    if error["type"] == "string_type":
        # YAML reads NO, yes, on and bare numbers as booleans and numbers, not text.
        return (f"lead field `{field}`: {error['msg']} (YAML read `{raw}` as "
                f"{error['input']!r})", f"put the value in quotes: {field}: '{raw}'")
    message = f"lead field `{field}`: {error['msg']} (got {error['input']!r})"
    return message, _FIELD_HINTS.get(field, f"see the LeadFields contract; fields: {_LEAD_FIELDS}")


def _expectation(reader: NodeReader, node: Node | None, parent: Node,
                 known_rules: Collection[str] | None) -> Expectation | None:
    if node is None:
        reader.problem(parent, "missing `expect`",
                       "add `expect: {stage: mql, owner: rep@example.com}`")
        return None
    fields = reader.mapping(node, "expect")
    if fields is None:
        return None
    allowed = {"stage", "owner", "route", "score", "matched"}
    reader.unknown_keys(fields, allowed, "expect")
    if not fields.keys() & allowed:
        reader.problem(node, "`expect` checks nothing",
                       "expect at least one of: " + ", ".join(sorted(allowed)))
        return None
    before = len(reader.problems)
    stage = owner = route = None
    score: int | None = None
    if "stage" in fields:
        stage = reader.text(fields["stage"], node, "stage")
        if stage is not None and stage not in _STAGES:
            reader.problem(fields["stage"], f"unknown stage `{stage}`",
                           "stages: " + ", ".join(_STAGES))
    if "owner" in fields:
        owner = reader.text(fields["owner"], node, "owner")
        if owner is not None and "@" not in owner:
            reader.problem(fields["owner"], f"`{owner}` is not an email",
                           "owners are named by the email of their CRM user or queue")
    if "route" in fields:
        route = reader.text(fields["route"], node, "route")
        if route is not None:
            _check_known(reader, fields["route"], f"routing.{route}", known_rules)
    if "score" in fields:
        score = _whole_number(reader, fields["score"], node)
    matched = _matched(reader, fields["matched"], known_rules) if "matched" in fields else ()
    if len(reader.problems) > before:
        return None
    return Expectation(stage=cast("Stage | None", stage), owner=owner.lower() if owner else None,
                       route=route, score=score, matched=matched)


def _whole_number(reader: NodeReader, node: Node, parent: Node) -> int | None:
    text = reader.text(node, parent, "score")
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        reader.problem(node, f"score `{text}` is not a whole number", "write score: 70")
        return None


def _matched(reader: NodeReader, node: Node,
             known_rules: Collection[str] | None) -> tuple[str, ...]:
    if not isinstance(node, SequenceNode):
        reader.problem(node, "`matched` must be a list of rule names",
                       "write matched: [scoring.demo_request, routing.enterprise_emea]")
        return ()
    names = []
    for item in node.value:
        name = reader.text(item, node, "matched")
        if name is not None:
            _check_known(reader, item, name, known_rules)
            names.append(name)
    return tuple(names)


def _check_known(reader: NodeReader, node: Node, rule: str,
                 known_rules: Collection[str] | None) -> None:
    if known_rules is not None and rule not in known_rules:
        reader.problem(node, f"no rule `{rule}` in this file",
                       "rules: " + ", ".join(dict.fromkeys(known_rules)))


Value = str | int | tuple[str, ...]


@dataclass(frozen=True)
class Difference:
    """One part of the decision that is not what the example expects."""

    field: str
    expected: Value
    actual: Value


@dataclass(frozen=True)
class ExampleResult:
    """The outcome of one example; ``decision`` explains it (score breakdown, matched rules)."""

    example: Example
    decision: LeadRouted | None
    differences: tuple[Difference, ...] = ()
    error: str | None = None

    @property
    def passed(self) -> bool:
        """The decision was made and showed everything the example expects."""
        return self.error is None and not self.differences


def run_examples(rules: RuleSet) -> list[ExampleResult]:
    """Decide every example's lead with ``rules`` and compare with what it expects."""
    return [run_example(rules, example) for example in rules.examples]


def run_example(rules: RuleSet, example: Example) -> ExampleResult:
    """Decide one example's lead as the router would for a first capture, and compare."""
    event_id = f"example:{example.name}"
    captured = LeadCaptured(lead_key=lead_key_for(example.lead.email), fields=example.lead,
                            captured_at=EXAMPLE_TIME)
    record = merge_captured(new_record(captured.lead_key), event_id, captured, EXAMPLE_SOURCE)
    try:
        decision = decide(rules, record, event_id, EXAMPLE_TIME)
        if example.revenue is not None:
            # The lead was routed once; then a billing system booked revenue for it.
            booked = RevenueRecorded(
                lead_key=captured.lead_key, email=example.lead.email, amount=example.revenue,
                currency="USD", occurred_at=EXAMPLE_TIME, reference=f"example:{example.name}",
                system="example")
            record = merge_revenue(record_decision(record, decision), f"{event_id}:revenue",
                                   booked, EXAMPLE_SOURCE)
            decision = decide(rules, record, f"{event_id}:revenue", EXAMPLE_TIME)
    except ConditionError as exc:
        return ExampleResult(example, None, error=f"{exc}; hint: {exc.hint}")
    return ExampleResult(example, decision, differences(example.expect, decision))


def differences(expect: Expectation, decision: LeadRouted) -> tuple[Difference, ...]:
    """Every expected part the decision does not show, in the order stage, owner, route,
    score, matched."""
    found: list[Difference] = []
    actual: dict[str, str | int] = {"stage": decision.stage, "owner": decision.owner.email,
                                    "route": decision.owner.route, "score": decision.score}
    expected: dict[str, str | int | None] = {"stage": expect.stage, "owner": expect.owner,
                                             "route": expect.route, "score": expect.score}
    for field, value in expected.items():
        if value is not None and value != actual[field]:
            found.append(Difference(field, value, actual[field]))
    if any(name not in decision.matched_rules for name in expect.matched):
        found.append(Difference("matched", expect.matched, tuple(decision.matched_rules)))
    return tuple(found)
