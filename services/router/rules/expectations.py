"""What an example expects of its decision (`expect:`), read and checked against the rules."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, cast, get_args

from yaml.nodes import Node, SequenceNode

from services.contracts.events import Stage
from services.router.rules.model import Expectation

if TYPE_CHECKING:
    from services.router.rules.reader import NodeReader

_STAGES: tuple[str, ...] = get_args(Stage)
ALLOWED = {"stage", "owner", "route", "score", "matched", "classification", "account"}


def parse_expectation(reader: NodeReader, node: Node | None, parent: Node,
                      known_rules: Collection[str] | None) -> Expectation | None:
    """Read an example's `expect`; names of routes, classes, accounts and matched rules are
    checked against ``known_rules`` (``None`` when the rules themselves had problems)."""
    if node is None:
        reader.problem(parent, "missing `expect`",
                       "add `expect: {stage: mql, owner: rep@example.com}`")
        return None
    fields = reader.mapping(node, "expect")
    if fields is None:
        return None
    reader.unknown_keys(fields, ALLOWED, "expect")
    if not fields.keys() & ALLOWED:
        reader.problem(node, "`expect` checks nothing",
                       "expect at least one of: " + ", ".join(sorted(ALLOWED)))
        return None
    before = len(reader.problems)
    stage = owner = None
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
    named = {key: _named(reader, fields, node, key, prefix, known_rules)
             for key, prefix in (("route", "routing"), ("classification", "classification"),
                                 ("account", "accounts"))}
    score = _whole_number(reader, fields["score"], node) if "score" in fields else None
    matched = _matched(reader, fields["matched"], known_rules) if "matched" in fields else ()
    if len(reader.problems) > before:
        return None
    return Expectation(stage=cast("Stage | None", stage), owner=owner.lower() if owner else None,
                       route=named["route"], score=score, matched=matched,
                       classification=named["classification"], account=named["account"])


def _named(reader: NodeReader, fields: dict[str, Node], parent: Node, key: str, prefix: str,
           known_rules: Collection[str] | None) -> str | None:
    """A name the decision must show (a route, class or account), checked to exist."""
    if key not in fields:
        return None
    name = reader.text(fields[key], parent, key)
    if name is None or known_rules is None or f"{prefix}.{name}" in known_rules:
        return name
    if key == "route":
        _check_known(reader, fields[key], f"{prefix}.{name}", known_rules)
        return name
    defined = [rule.removeprefix(f"{prefix}.") for rule in known_rules
               if rule.startswith(f"{prefix}.")]
    kind = "class" if key == "classification" else key
    reader.problem(fields[key], f"no {kind} `{name}` in this file",
                   f"{kind} names: {', '.join(defined)}" if defined else
                   f"this file has no `{'classification' if kind == 'class' else 'accounts'}:` "
                   "section to name one")
    return name


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
        prefix = rule.partition(".")[0] + "."
        same_kind = [name for name in known_rules if name.startswith(prefix)]
        reader.problem(node, f"no rule `{rule}` in this file",
                       "rules: " + ", ".join(dict.fromkeys(same_kind or known_rules)))
