"""Reads a rule file (YAML) into a ``RuleSet``; every error names the file, line and a fix."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast, get_args

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from services.contracts.events import Engagement, Stage
from services.router.rules.cel_conditions import Condition, ConditionError, compile_condition
from services.router.rules.examples import parse_examples
from services.router.rules.model import (
    Assignment,
    EngagementScoring,
    Route,
    RuleSet,
    ScoringRule,
    StageRule,
)

STAGES = ("mql", "sql", "opportunity", "customer", "nurture", "disqualified")
ACTIONS = get_args(Engagement)


@dataclass(frozen=True)
class RuleProblem:
    """One thing wrong in a rule file."""

    file: str
    line: int
    message: str
    hint: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}\n    hint: {self.hint}"


class RuleFileError(ValueError):
    """The rule file is invalid; ``problems`` lists everything found, in file order."""

    def __init__(self, problems: list[RuleProblem]) -> None:
        self.problems = sorted(problems, key=lambda p: p.line)
        super().__init__("\n".join(str(p) for p in self.problems))


class NodeReader:
    """Walks the YAML node tree, collecting problems instead of stopping at the first."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[RuleProblem] = []

    def problem(self, node: Node, message: str, hint: str) -> None:
        self.problems.append(RuleProblem(self.file, node.start_mark.line + 1, message, hint))

    def mapping(self, node: Node, what: str) -> dict[str, Node] | None:
        if not isinstance(node, MappingNode):
            self.problem(node, f"{what} must be a mapping of `key: value` lines",
                         "indent the keys under it")
            return None
        return {cast(ScalarNode, k).value: v for k, v in node.value}

    def sequence(self, node: Node, what: str) -> list[Node]:
        if not isinstance(node, SequenceNode):
            self.problem(node, f"{what} must be a list", "start each entry with `- `")
            return []
        return list(node.value)

    def text(self, node: Node | None, parent: Node, what: str) -> str | None:
        if node is None:
            self.problem(parent, f"missing `{what}`", f"add `{what}: ...` to this entry")
            return None
        if not isinstance(node, ScalarNode) or node.value == "":
            self.problem(node, f"`{what}` must be a single value", f"write `{what}: <value>`")
            return None
        return str(node.value)

    def condition(self, node: Node | None, parent: Node, what: str) -> Condition | None:
        source = self.text(node, parent, what)
        if source is None or node is None:
            return None
        try:
            return compile_condition(source)
        except ConditionError as exc:
            where = f" (column {exc.column})" if exc.column else ""
            self.problem(node, f"condition `{source}`: {exc.message}{where}", exc.hint)
            return None

    def unknown_keys(self, fields: dict[str, Node], allowed: set[str], what: str) -> None:
        for key, value in fields.items():
            if key not in allowed:
                self.problem(value, f"unknown key `{key}` in {what}",
                             "allowed keys: " + ", ".join(sorted(allowed)))


def _scoring(reader: NodeReader, node: Node) -> list[ScoringRule]:
    rules = []
    for entry in reader.sequence(node, "scoring"):
        fields = reader.mapping(entry, "a scoring rule")
        if fields is None:
            continue
        reader.unknown_keys(fields, {"name", "when", "points"}, "a scoring rule")
        name = reader.text(fields.get("name"), entry, "name")
        when = reader.condition(fields.get("when"), entry, "when")
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


def _stages(reader: NodeReader, node: Node) -> list[StageRule]:
    rules = []
    for entry in reader.sequence(node, "stages"):
        fields = reader.mapping(entry, "a stage rule")
        if fields is None:
            continue
        reader.unknown_keys(fields, {"stage", "when"}, "a stage rule")
        stage = reader.text(fields.get("stage"), entry, "stage")
        if stage is not None and stage not in STAGES:
            reader.problem(fields["stage"], f"unknown stage `{stage}`",
                           "stages set by rules: " + ", ".join(STAGES))
            stage = None
        when = reader.condition(fields.get("when"), entry, "when")
        if stage and when:
            rules.append(StageRule(cast(Stage, stage), when))
    return rules


def _assignment(reader: NodeReader, node: Node | None, parent: Node) -> Assignment | None:
    if node is None:
        reader.problem(parent, "missing `assign`", "add `assign: {user: rep@example.com}`")
        return None
    fields = reader.mapping(node, "assign")
    if fields is None:
        return None
    kinds = [k for k in ("user", "queue", "keep") if k in fields]
    if len(kinds) != 1 or len(fields) != 1:
        reader.problem(node, "`assign` takes exactly one of `user`, `queue` or `keep`",
                       "write `assign: {user: rep@example.com}`, `assign: {queue: ...}` or "
                       "`assign: {keep: owner}`")
        return None
    if kinds[0] == "keep":
        if reader.text(fields["keep"], node, "keep") != "owner":
            reader.problem(fields["keep"], "`keep` keeps the lead's current owner",
                           "write `assign: {keep: owner}`")
            return None
        return Assignment("keep", "")
    email = reader.text(fields[kinds[0]], node, kinds[0])
    if email is None:
        return None
    if "@" not in email:
        reader.problem(fields[kinds[0]], f"`{email}` is not an email",
                       "owners are named by the email of their CRM user")
        return None
    kind: Literal["user", "queue"] = "user" if kinds[0] == "user" else "queue"
    return Assignment(kind, email.lower())


def _routes(reader: NodeReader, node: Node) -> list[Route]:
    routes: list[Route] = []
    entries = reader.sequence(node, "routing")
    for index, entry in enumerate(entries):
        fields = reader.mapping(entry, "a routing entry")
        if fields is None:
            continue
        reader.unknown_keys(fields, {"name", "when", "default", "assign"}, "a routing entry")
        name = reader.text(fields.get("name"), entry, "name")
        is_default = "default" in fields and cast(ScalarNode, fields["default"]).value == "true"
        when = None
        if is_default:
            if index != len(entries) - 1:
                reader.problem(entry, "the default route must be the last entry",
                               "move it to the end: entries after it could never match")
            if "when" in fields:
                reader.problem(fields["when"], "the default route has no condition",
                               "remove `when:` from the default entry")
            if "assign" in fields and "keep" in str(fields["assign"].value):
                reader.problem(fields["assign"], "the default route must name an owner",
                               "a lead routed for the first time has no owner to keep")
        else:
            when = reader.condition(fields.get("when"), entry, "when")
        assign = _assignment(reader, fields.get("assign"), entry)
        if name and assign and (is_default or when):
            routes.append(Route(name, when, assign))
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
    reader.unknown_keys(top, {"version", "scoring", "engagement", "stages", "routing",
                              "examples"}, "the rule file")
    version = reader.text(top.get("version"), root, "version")
    scoring = _scoring(reader, top["scoring"]) if "scoring" in top else []
    engagement = _engagement(reader, top["engagement"]) if "engagement" in top else None
    stages = _stages(reader, top["stages"]) if "stages" in top else []
    if "routing" not in top:
        reader.problem(root, "missing `routing`", "add a `routing:` list ending with a default")
    routes = _routes(reader, top["routing"]) if "routing" in top else []
    # Names an example expects are only checked against a rule set that loaded completely.
    known = None if reader.problems else [
        *(f"scoring.{r.name}" for r in scoring), *(f"stages.{r.stage}" for r in stages),
        *(f"engagement.{a}" for a in (engagement.points if engagement else {})),
        *(f"routing.{r.name}" for r in routes)]
    examples = parse_examples(reader, top["examples"], known) if "examples" in top else []
    if reader.problems or version is None:
        raise RuleFileError(reader.problems)
    return RuleSet(version, tuple(scoring), tuple(stages), tuple(routes), source=file,
                   examples=tuple(examples), engagement=engagement)


def load_rules(path: Path) -> RuleSet:
    """Read and validate a rule file from disk."""
    return parse_rules(path.read_text(), str(path))
