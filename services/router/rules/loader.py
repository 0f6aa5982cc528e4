"""Reads a rule file (YAML) into a ``RuleSet``; every error names the file, line and a fix."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, cast, get_args

import yaml
from yaml.nodes import Node

from services.contracts.events import Engagement, Stage
from services.router.account_matching import account_book
from services.router.rules.examples import parse_examples
from services.router.rules.handoff_sections import parse_pools, parse_slas
from services.router.rules.model import (
    Assignment,
    EngagementScoring,
    Route,
    RuleSet,
    ScoringRule,
    StageRule,
)
from services.router.rules.reader import NodeReader as NodeReader
from services.router.rules.reader import RuleFileError as RuleFileError
from services.router.rules.reader import RuleProblem as RuleProblem
from services.router.rules.reader import Scope
from services.router.rules.sections import parse_accounts, parse_classification, parse_recycle

STAGES = ("mql", "sql", "opportunity", "customer", "nurture", "disqualified")
ACTIONS = get_args(Engagement)
_ROUTING_ONLY = ("the class is worked out after scoring and stages: only `routing` conditions "
                 "can read `classification`")
_NO_CLASSES = ("this file has no `classification:` section: add one (named classes ending "
               "with a default) or remove the condition")
_NO_ACCOUNTS = ("this file lists no `accounts:`, so `account` is always '': add an "
                "`accounts:` list or remove the condition")


def _scoring(reader: NodeReader, node: Node, scope: Scope) -> list[ScoringRule]:
    rules = []
    for entry in reader.sequence(node, "scoring"):
        fields = reader.mapping(entry, "a scoring rule")
        if fields is None:
            continue
        reader.unknown_keys(fields, {"name", "when", "points"}, "a scoring rule")
        name = reader.text(fields.get("name"), entry, "name")
        when = reader.condition(fields.get("when"), entry, "when", scope)
        points_text = reader.text(fields.get("points"), entry, "points")
        points = None
        if points_text is not None:
            try:
                points = int(points_text)
            except ValueError:
                reader.problem(fields["points"], f"points `{points_text}` is not a whole number",
                               "write points: 10 (negative numbers subtract)")
        if name and when and points is not None:
            rules.append(ScoringRule(name, when, points))
    return rules


def _stages(reader: NodeReader, node: Node, scope: Scope) -> list[StageRule]:
    rules = []
    for entry in reader.sequence(node, "stages"):
        fields = reader.mapping(entry, "a stage rule")
        if fields is None:
            continue
        reader.unknown_keys(fields, {"stage", "when"}, "a stage rule")
        stage = reader.text(fields.get("stage"), entry, "stage")
        if stage == "recycled":
            reader.problem(fields["stage"], "`recycled` is set by `recycle:` rules, not stages",
                           "stages never move backwards; to send leads back, write "
                           "`recycle:` then `- {name: returned_by_sales, when: ...}`")
            stage = None
        elif stage is not None and stage not in STAGES:
            reader.problem(fields["stage"], f"unknown stage `{stage}`",
                           "stages set by rules: " + ", ".join(STAGES))
            stage = None
        when = reader.condition(fields.get("when"), entry, "when", scope)
        if stage and when:
            rules.append(StageRule(cast(Stage, stage), when))
    return rules


def _assignment(reader: NodeReader, node: Node | None, parent: Node,
                has_accounts: bool, pools: tuple[str, ...] | None) -> Assignment | None:
    if node is None:
        reader.problem(parent, "missing `assign`", "add `assign: {user: rep@example.com}`")
        return None
    fields = reader.mapping(node, "assign")
    if fields is None:
        return None
    kinds = [k for k in ("user", "queue", "keep", "account_owner", "pool") if k in fields]
    if len(kinds) != 1 or len(fields) != 1:
        reader.problem(node, "`assign` takes exactly one of `user`, `queue`, `keep`, "
                       "`account_owner` or `pool`", "write `assign: {user: rep@example.com}`, "
                       "`assign: {queue: ...}`, `assign: {keep: owner}`, "
                       "`assign: {account_owner: true}` or `assign: {pool: emea_sdr}`")
        return None
    if kinds[0] == "pool":
        pool = reader.text(fields["pool"], node, "pool")
        if pool is not None and pools is not None and pool not in pools:
            reader.problem(fields["pool"], f"no pool `{pool}` in this file",
                           "pools: " + (", ".join(pools) or "none; add a `pools:` section"))
            return None
        return Assignment("pool", pool) if pool else None
    if kinds[0] == "keep":
        if reader.text(fields["keep"], node, "keep") != "owner":
            reader.problem(fields["keep"], "`keep` keeps the lead's current owner",
                           "write `assign: {keep: owner}`")
            return None
        return Assignment("keep", "")
    if kinds[0] == "account_owner":
        if not reader.flag(fields["account_owner"], node, "account_owner"):
            return None
        if not has_accounts:
            reader.problem(node, "`account_owner` needs known accounts, and this file "
                           "lists none", "add an `accounts:` list with each account's name, "
                           "domains and owner")
            return None
        return Assignment("account_owner", "")
    email = reader.text(fields[kinds[0]], node, kinds[0])
    if email is None:
        return None
    if "@" not in email:
        reader.problem(fields[kinds[0]], f"`{email}` is not an email",
                       "owners are named by the email of their CRM user")
        return None
    kind: Literal["user", "queue"] = "user" if kinds[0] == "user" else "queue"
    return Assignment(kind, email.lower())


def _route_sla(reader: NodeReader, fields: dict[str, Node], entry: Node,
               slas: tuple[str, ...] | None) -> tuple[bool, str | None]:
    """(ok, the route's SLA name or None)."""
    if "sla" not in fields:
        return True, None
    name = reader.text(fields["sla"], entry, "sla")
    if name is not None and slas is not None and name not in slas:
        reader.problem(fields["sla"], f"no SLA `{name}` in this file",
                       "SLAs: " + (", ".join(slas) or "none; add a `slas:` section"))
        return False, None
    return name is not None, name


def _routes(reader: NodeReader, node: Node, scope: Scope, has_accounts: bool,
            pools: tuple[str, ...] | None = (),
            slas: tuple[str, ...] | None = ()) -> list[Route]:
    routes: list[Route] = []
    entries = reader.sequence(node, "routing")
    for index, entry in enumerate(entries):
        fields = reader.mapping(entry, "a routing entry")
        if fields is None:
            continue
        reader.unknown_keys(fields, {"name", "when", "default", "assign", "sla"},
                            "a routing entry")
        name = reader.text(fields.get("name"), entry, "name")
        is_default = "default" in fields and reader.flag(fields["default"], entry, "default")
        when = None
        if is_default:
            if index != len(entries) - 1:
                reader.problem(entry, "the default route must be the last entry",
                               "move it to the end: entries after it could never match")
            if "when" in fields:
                reader.problem(fields["when"], "the default route has no condition",
                               "remove `when:` from the default entry")
        else:
            when = reader.condition(fields.get("when"), entry, "when", scope)
        assign = _assignment(reader, fields.get("assign"), entry, has_accounts, pools)
        sla_ok, sla = _route_sla(reader, fields, entry, slas)
        if is_default and assign is not None and assign.kind in ("keep", "account_owner"):
            reader.problem(fields["assign"], "the default route must name an owner",
                           "a lead routed for the first time has no owner to keep, and not "
                           "every lead matches an account: assign a `user` or a `queue`")
            assign = None
        if name and assign and sla_ok and (is_default or when):
            routes.append(Route(name, when, assign, sla))
    if entries and not any(r.is_default for r in routes) and not reader.problems:
        reader.problem(entries[-1], "routing has no default entry",
                       "end the list with `- {name: default, default: true, assign: ...}`")
    return routes


def _engagement(reader: NodeReader, node: Node) -> EngagementScoring | None:
    fields = reader.mapping(node, "engagement")
    if fields is None:
        return None
    reader.unknown_keys(fields, {"half_life_days", "points"}, "engagement")
    half_life_text = reader.text(fields.get("half_life_days"), node, "half_life_days")
    half_life = None
    try:
        half_life = float(half_life_text) if half_life_text is not None else None
    except ValueError:
        pass
    if half_life_text is not None and (half_life is None or half_life <= 0):
        reader.problem(fields["half_life_days"], f"half_life_days `{half_life_text}` is not a "
                       "positive number", "write half_life_days: 30 (points halve each 30 days)")
        half_life = None
    points: dict[str, int] = {}
    table = reader.mapping(fields["points"], "engagement points") if "points" in fields else None
    if "points" not in fields:
        reader.problem(node, "missing `points`", "add `points:` with a number per action")
    for action, value in (table or {}).items():
        if action not in ACTIONS:
            reader.problem(value, f"unknown engagement action `{action}`",
                           "actions: " + ", ".join(ACTIONS))
            continue
        text = reader.text(value, node, action)
        if text is not None and text.lstrip("-").isdigit():
            points[action] = int(text)
        elif text is not None:
            reader.problem(value, f"points `{text}` for {action} is not a whole number",
                           f"write {action}: 10")
    if half_life is None or not points:
        return None
    return EngagementScoring(half_life, points)


def parse_rules(text: str, file: str = "<rules>") -> RuleSet:
    """Parse rule-file text; raises ``RuleFileError`` listing every problem."""
    reader = NodeReader(file)
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise RuleFileError([RuleProblem(file, line, f"not valid YAML: {exc}",
                                         "check indentation and quotes")]) from exc
    if root is None:
        raise RuleFileError([RuleProblem(file, 1, "the rule file is empty",
                                         "start with `version:`, `scoring:` and `routing:`")])
    top = reader.mapping(root, "the rule file")
    if top is None:
        raise RuleFileError(reader.problems)
    reader.unknown_keys(top, {"version", "accounts", "scoring", "engagement", "recycle",
                              "stages", "classification", "pools", "slas", "routing",
                              "examples"}, "the rule file")
    version = reader.text(top.get("version"), root, "version")
    before = len(reader.problems)
    accounts = parse_accounts(reader, top["accounts"]) if "accounts" in top else []
    # Names are checked against a section only when all of it loaded.
    names = {"account": tuple(a.name for a in accounts)} if (
        accounts and len(reader.problems) == before) else {}
    no_accounts = {} if "accounts" in top else {"account": _NO_ACCOUNTS}
    before_routing = Scope({"classification": _ROUTING_ONLY, **no_accounts}, names)
    scoring = _scoring(reader, top["scoring"], before_routing) if "scoring" in top else []
    engagement = _engagement(reader, top["engagement"]) if "engagement" in top else None
    recycle = parse_recycle(reader, top["recycle"], before_routing) if "recycle" in top else []
    stages = _stages(reader, top["stages"], before_routing) if "stages" in top else []
    before = len(reader.problems)
    classes = parse_classification(reader, top["classification"], before_routing) if (
        "classification" in top) else []
    class_names = {"classification": tuple(c.name for c in classes)} if (
        classes and len(reader.problems) == before) else {}
    no_classes = {} if "classification" in top else {"classification": _NO_CLASSES}
    routing = Scope({**no_accounts, **no_classes}, {**names, **class_names})
    if "routing" not in top:
        reader.problem(root, "missing `routing`", "add a `routing:` list ending with a default")
    before = len(reader.problems)
    pools = parse_pools(reader, top["pools"]) if "pools" in top else []
    # A section that did not load completely says so itself: its names are not checked.
    pool_names = tuple(p.name for p in pools) if len(reader.problems) == before else None
    before = len(reader.problems)
    slas = parse_slas(reader, top["slas"]) if "slas" in top else []
    sla_names = tuple(s.name for s in slas) if len(reader.problems) == before else None
    routes = _routes(reader, top["routing"], routing, "accounts" in top,
                     pool_names, sla_names) if "routing" in top else []
    # Names an example expects are only checked against a rule set that loaded completely.
    known = None if reader.problems else [
        *(f"accounts.{a.name}" for a in accounts),
        *(f"scoring.{r.name}" for r in scoring),
        *(f"engagement.{a}" for a in (engagement.points if engagement else {})),
        *(f"recycle.{r.name}" for r in recycle), *(f"stages.{r.stage}" for r in stages),
        *(f"classification.{c.name}" for c in classes), *(f"routing.{r.name}" for r in routes)]
    examples = parse_examples(reader, top["examples"], known) if "examples" in top else []
    if reader.problems or version is None:
        raise RuleFileError(reader.problems)
    return RuleSet(version, tuple(scoring), tuple(stages), tuple(routes), source=file,
                   examples=tuple(examples), engagement=engagement, recycle=tuple(recycle),
                   classification=tuple(classes), accounts=account_book(tuple(accounts)),
                   pools=tuple(pools), slas=tuple(slas))


def load_rules(path: Path) -> RuleSet:
    """Read and validate a rule file from disk."""
    return parse_rules(path.read_text(), str(path))
