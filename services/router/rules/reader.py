"""Reading a rule file's YAML nodes: problems collected with their line and what to write."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import cast

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from services.router.rules.cel_conditions import (
    Condition,
    ConditionError,
    compared_names,
    compile_condition,
)

# What a name of each variable is called in a problem ("no class `hot` in this file").
_NAME_OF = {"classification": "class", "account": "account"}


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


@dataclass(frozen=True)
class Scope:
    """What the conditions of one section may read.

    ``unavailable``: variables they may not read, each with the hint to give when one does;
    ``names``: for a variable compared with names the file defines (classes, accounts),
    those names, so `classification == 'wram'` is caught when the file is loaded.
    """

    unavailable: Mapping[str, str] = field(default_factory=dict)
    names: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


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

    def condition(self, node: Node | None, parent: Node, what: str,
                  scope: Scope | None = None) -> Condition | None:
        source = self.text(node, parent, what)
        if source is None or node is None:
            return None
        scope = scope or Scope()
        try:
            condition = compile_condition(source, scope.unavailable)
        except ConditionError as exc:
            where = f" (column {exc.column})" if exc.column else ""
            self.problem(node, f"condition `{source}`: {exc.message}{where}", exc.hint)
            return None
        unknown = [(variable, name) for variable, names in scope.names.items()
                   for name in compared_names(source, variable) if name and name not in names]
        for variable, name in unknown:
            kind = _NAME_OF.get(variable, variable)
            self.problem(node, f"condition `{source}`: no {kind} `{name}` in this file",
                         f"{kind} names: " + ", ".join(scope.names[variable]))
        return None if unknown else condition

    def unknown_keys(self, fields: dict[str, Node], allowed: set[str], what: str) -> None:
        for key, value in fields.items():
            if key not in allowed:
                self.problem(value, f"unknown key `{key}` in {what}",
                             "allowed keys: " + ", ".join(sorted(allowed)))

    def flag(self, node: Node | None, parent: Node, what: str) -> bool:
        """A `key: true` switch; anything but true is reported."""
        text = self.text(node, parent, what)
        if text is not None and text != "true":
            self.problem(cast(Node, node), f"`{what}: {text}`: the only value is true",
                         f"write `{what}: true`, or leave the key out")
        return text == "true"
