"""Conditions in CEL, compiled once, with errors a RevOps engineer can act on.

Conditions read ``lead``, ``score``, ``stage`` and ``owner``, and also ``account`` (the
matched account's name, '' when none) and ``classification`` (the lead's class, known in
routing only). Each section of the rule file compiles its conditions with only the
variables that mean something there, so reading one that does not is an error naming the
condition's line, not a condition that silently never holds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cel_expr_python import cel

# Every lead field a condition may read, with the value it has when the lead lacks it.
# Defaults (rather than null) keep conditions simple: `lead.employees >= 1000` just works.
LEAD_FIELD_DEFAULTS: dict[str, Any] = {
    "email": "", "email_domain": "", "first_name": "", "last_name": "", "company": "",
    "title": "", "phone": "", "country": "", "industry": "", "employees": 0,
    "website": "", "lead_source": "", "campaign": "",
    # Kept by the golden record: booked revenue (whole units), the campaign of the first
    # touch, and how many engagements are remembered.
    "revenue": 0, "first_campaign": "", "engagements": 0,
    # The Lead Status a salesperson set in Salesforce ('' until one is known).
    "salesforce_status": "",
}

_POSITION = re.compile(r"<input>:(\d+):(\d+): (.*)")


class ConditionError(ValueError):
    """A condition does not compile or cannot be evaluated; ``hint`` says what to write."""

    def __init__(self, message: str, hint: str, column: int | None = None,
                 source: str | None = None) -> None:
        super().__init__(f"{message} in `{source}`" if source else message)
        self.message = message
        self.hint = hint
        self.column = column


def _hint_for(message: str) -> str:
    if "(int, double)" in message or "(double, int)" in message:
        return "score and numeric lead fields are whole numbers: write 50, not 50.0"
    if "Syntax error" in message:
        return "check for a missing operand, quote or bracket; strings use 'single quotes'"
    if "undeclared reference" in message:
        return ("conditions can use `lead.<field>`, `score`, `stage` and `owner`; fields: "
                + ", ".join(sorted(LEAD_FIELD_DEFAULTS)))
    return "see the CEL language definition; conditions must be true or false"


@dataclass(frozen=True)
class Condition:
    """A compiled CEL condition over ``lead`` (map of fields), ``score`` and ``stage``."""

    source: str
    _program: Any

    def holds(self, bindings: Bindings) -> bool:
        """Evaluate; a runtime error (a misspelt field, a type clash) raises ConditionError."""
        result = self._program.eval(bindings.activation)
        if result.type() == cel.Type.ERROR:
            raise ConditionError(_runtime_message(str(result.value())),
                                 _runtime_hint(str(result.value())), source=self.source)
        value = result.value()
        if not isinstance(value, bool):
            raise ConditionError(f"gave {value!r}, not true or false",
                                 "compare something, e.g. lead.employees >= 1000",
                                 source=self.source)
        return value


def _runtime_message(message: str) -> str:
    missing = re.search(r'Key not found in map : "([^"]+)"', message)
    if missing:
        return f"unknown field `lead.{missing.group(1)}`"
    return f"evaluation failed: {message}"


def _runtime_hint(message: str) -> str:
    missing = re.search(r'Key not found in map : "([^"]+)"', message)
    if missing:
        return (f"there is no lead field '{missing.group(1)}'; fields: "
                + ", ".join(sorted(LEAD_FIELD_DEFAULTS)))
    return _hint_for(message)


_TYPES: dict[str, Any] = {
    "lead": cel.Type.Map(cel.Type.STRING, cel.Type.DYN),
    "score": cel.Type.INT,
    "stage": cel.Type.STRING,
    "owner": cel.Type.STRING,
    "account": cel.Type.STRING,
    "classification": cel.Type.STRING,
}
VARIABLES = frozenset(_TYPES)
_ENVS: dict[frozenset[str], Any] = {}


def _env(variables: frozenset[str]) -> Any:
    if variables not in _ENVS:
        _ENVS[variables] = cel.NewEnv(variables={v: _TYPES[v] for v in sorted(variables)})
    return _ENVS[variables]


class Bindings:
    """The variables conditions read, converted to CEL once and shared by every condition
    evaluated with them."""

    def __init__(self, lead: dict[str, Any], score: int = 0, stage: str = "lead",
                 owner: str = "", account: str = "", classification: str = "") -> None:
        self.activation = _env(VARIABLES).Activation({
            "lead": lead, "score": score, "stage": stage, "owner": owner,
            "account": account, "classification": classification})


def compile_condition(source: str, unavailable: Mapping[str, str] | None = None) -> Condition:
    """Compile and type-check a condition, then dry-run it on an empty lead.

    ``unavailable`` names variables this condition may not read, each with the reason
    (used as the hint when the condition reads it anyway).
    """
    missing = dict(unavailable or {})
    try:
        if missing:
            _env(VARIABLES - frozenset(missing)).compile(source)
        program = _env(VARIABLES).compile(source)
    except RuntimeError as exc:
        text = str(exc)
        match = _POSITION.search(text)
        message = match.group(3) if match else text
        column = int(match.group(2)) + 1 if match else None
        raise ConditionError(*_explain(message, missing), column) from exc
    condition = Condition(source, program)
    # A misspelt field only shows when evaluated: try it once on a lead with every field.
    condition.holds(Bindings(dict(LEAD_FIELD_DEFAULTS)))
    return condition


def _explain(message: str, unavailable: Mapping[str, str]) -> tuple[str, str]:
    for variable, reason in unavailable.items():
        if f"undeclared reference to '{variable}'" in message:
            return f"`{variable}` cannot be read here", reason
    if "undeclared reference" in message:
        return message, ("conditions can use `lead.<field>`, `score`, `stage`, `owner`, "
                         "`account` and (in routing) `classification`; fields: "
                         + ", ".join(sorted(LEAD_FIELD_DEFAULTS)))
    return message, _hint_for(message)


def compared_names(source: str, variable: str) -> list[str]:
    """The string literals a condition compares ``variable`` with (``==``, ``!=``, ``in``),
    so a loader can check them against the names the file defines."""
    name = rf"(?<![\w.]){re.escape(variable)}(?![\w.(])"
    literal = r"""(['"])((?:(?!\1).)*)\1"""
    found = [m.group(2) for m in re.finditer(rf"{name}\s*[!=]=\s*{literal}", source)]
    found += [m.group(2) for m in re.finditer(rf"{literal}\s*[!=]=\s*{name}", source)]
    for listed in re.finditer(rf"{name}\s+in\s*\[([^\]]*)\]", source):
        found += [m.group(2) for m in re.finditer(literal, listed.group(1))]
    return found


_GROUPS: dict[tuple[str, ...], Any] = {}


def _group_program(conditions: Sequence[Condition]) -> Any:
    sources = tuple(c.source for c in conditions)
    if sources not in _GROUPS:
        # Already compiled one by one, so the list of them compiles too.
        _GROUPS[sources] = _env(VARIABLES).compile(
            "[" + ", ".join(f"({s})" for s in sources) + "]")
    return _GROUPS[sources]


def _group_values(conditions: Sequence[Condition], bindings: Bindings) -> list[bool] | None:
    """All conditions in one CEL call, or None when any of them failed to evaluate."""
    result = _group_program(conditions).eval(bindings.activation)
    if result.type() != cel.Type.ERROR:
        values = result.plain_value()
        if isinstance(values, list) and all(isinstance(v, bool) for v in values):
            return [bool(v) for v in values]
    return None


def which_hold(conditions: Sequence[Condition], bindings: Bindings) -> list[bool]:
    """Evaluate several conditions in one CEL call (one call costs more than its work).

    If any of them fails, they are evaluated one by one so the error names the failing one.
    """
    if not conditions:
        return []
    values = _group_values(conditions, bindings)
    if values is None:
        return [condition.holds(bindings) for condition in conditions]
    return values


def first_holding(conditions: Sequence[Condition], bindings: Bindings) -> int | None:
    """The index of the first condition that holds, evaluated as one CEL call.

    On an error, conditions are evaluated in order and the first that holds wins, so a
    broken condition after the match does not matter, as with one-by-one evaluation.
    """
    if not conditions:
        return None
    values = _group_values(conditions, bindings)
    if values is None:
        return next((i for i, c in enumerate(conditions) if c.holds(bindings)), None)
    return next((i for i, v in enumerate(values) if v), None)

