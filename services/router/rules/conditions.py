"""Rule conditions with everything a decision works out: ``cel_conditions`` plus the lead's
``account`` and ``classification``.

Conditions read ``lead``, ``score``, ``stage`` and ``owner`` as in ``cel_conditions``, and
also ``account`` (the matched account's name, '' when none) and ``classification`` (the
lead's class, known in routing only). Each section of the rule file compiles its conditions
with only the variables that mean something there, so reading one that does not is an
error naming the condition's line, not a condition that silently never holds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from cel_expr_python import cel

from services.router.rules.cel_conditions import (
    _POSITION,
    LEAD_FIELD_DEFAULTS,
    Condition,
    ConditionError,
    _hint_for,
)
from services.router.rules.cel_conditions import Bindings as _BaseBindings

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


class Bindings(_BaseBindings):
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

