"""Examples in a rule file: a lead in, the expected decision out — parsed and run."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from yaml.constructor import SafeConstructor
from yaml.nodes import Node, ScalarNode

from services.contracts.events import (
    LeadCaptured,
    LeadFields,
    LeadRouted,
    RevenueRecorded,
    SalesforceChangeReceived,
)
from services.contracts.lead_key import lead_key_for
from services.router.crm_changes import merge_salesforce_change
from services.router.decide import evaluate
from services.router.golden_record import (
    GoldenRecord,
    merge_captured,
    merge_revenue,
    new_record,
    recheck_recycle_rules,
    record_decision,
)
from services.router.pools import PoolLedger, assign
from services.router.rules.cel_conditions import ConditionError
from services.router.rules.expectations import parse_expectation
from services.router.rules.model import Example, Expectation, RuleSet

if TYPE_CHECKING:
    from services.router.rules.reader import NodeReader

# Rules do not read the clock; a fixed time keeps every run of an example identical.
EXAMPLE_TIME = datetime(2026, 1, 1, tzinfo=UTC)
EXAMPLE_SOURCE = "/accord/rules/examples"
_NONE = "(none)"

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
        reader.unknown_keys(fields, {"name", "lead", "salesforce_status", "revenue", "expect"},
                            "an example")
        name = reader.text(fields.get("name"), entry, "name")
        if name is not None:
            if name in names:
                reader.problem(fields["name"], f"a second example named `{name}`",
                               "give every example its own name: results are reported by name")
            names.add(name)
        lead = _lead(reader, fields.get("lead"), entry)
        status = reader.text(fields["salesforce_status"], entry, "salesforce_status") if (
            "salesforce_status" in fields) else None
        revenue = _revenue(reader, fields.get("revenue"), entry)
        expect = parse_expectation(reader, fields.get("expect"), entry, known_rules)
        if name and lead and expect:
            examples.append(Example(name, lead, expect, entry.start_mark.line + 1, revenue,
                                    salesforce_status=status))
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
    """Decide one example's lead as the router would for a first capture, then (when the
    example says so) after a rep set its Salesforce status and after revenue was booked;
    compare the last decision with what the example expects."""
    event_id = f"example:{example.name}"
    captured = LeadCaptured(lead_key=lead_key_for(example.lead.email), fields=example.lead,
                            captured_at=EXAMPLE_TIME)
    record = merge_captured(new_record(captured.lead_key), event_id, captured, EXAMPLE_SOURCE)
    try:
        record, decision = _decide(rules, record, event_id)
        if example.salesforce_status is not None:
            # The lead was routed; then a rep changed its Lead Status in Salesforce.
            changed = SalesforceChangeReceived(
                organization_id="example", action_id="example",
                notification_id=f"{event_id}:salesforce", sobject_type="Lead",
                sobject_id="example", fields={"Status": example.salesforce_status},
                received_at=EXAMPLE_TIME)
            record, decision = _decide(rules, recheck_recycle_rules(merge_salesforce_change(
                record, f"{event_id}:salesforce", changed)), f"{event_id}:salesforce")
        if example.revenue is not None:
            # The lead was routed once; then a billing system booked revenue for it.
            booked = RevenueRecorded(
                lead_key=captured.lead_key, email=example.lead.email, amount=example.revenue,
                currency="USD", occurred_at=EXAMPLE_TIME, reference=f"example:{example.name}",
                system="example")
            record, decision = _decide(rules, merge_revenue(
                record, f"{event_id}:revenue", booked, EXAMPLE_SOURCE), f"{event_id}:revenue")
    except ConditionError as exc:
        return ExampleResult(example, None, error=f"{exc}; hint: {exc.hint}")
    return ExampleResult(example, decision, differences(example.expect, decision))


def _decide(rules: RuleSet, record: GoldenRecord,
            event_id: str) -> tuple[GoldenRecord, LeadRouted]:
    decided = evaluate(rules, record, event_id, EXAMPLE_TIME)
    routed = decided.routed
    pool = rules.pool(decided.awaiting_pool) if decided.awaiting_pool else None
    if pool is not None:
        # An example starts from a fresh pool (no earlier picks): the first pick is what a
        # new pool gives at EXAMPLE_TIME, the member with the most weight first.
        pick, _ = assign(pool, PoolLedger(), EXAMPLE_TIME, event_id)
        routed = routed.model_copy(update={"owner": routed.owner.model_copy(update={
            "kind": "queue" if pick.from_fallback else "user", "email": pick.email,
            "explanation": pick.explanation})})
    return record_decision(record, routed, decided.recycle_held), routed


def differences(expect: Expectation, decision: LeadRouted) -> tuple[Difference, ...]:
    """Every expected part the decision does not show, in the order stage, owner, route,
    score, classification, account, matched."""
    found: list[Difference] = []
    actual: dict[str, str | int] = {
        "stage": decision.stage, "owner": decision.owner.email, "route": decision.owner.route,
        "score": decision.score, "classification": decision.classification or _NONE,
        "account": decision.account.name if decision.account else _NONE}
    expected: dict[str, str | int | None] = {
        "stage": expect.stage, "owner": expect.owner, "route": expect.route,
        "score": expect.score, "classification": expect.classification,
        "account": expect.account}
    for field, value in expected.items():
        if value is not None and value != actual[field]:
            found.append(Difference(field, value, actual[field]))
    if any(name not in decision.matched_rules for name in expect.matched):
        found.append(Difference("matched", expect.matched, tuple(decision.matched_rules)))
    return tuple(found)
