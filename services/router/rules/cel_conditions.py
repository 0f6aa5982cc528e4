"""Conditions in CEL, compiled once, with errors a RevOps engineer can act on."""

from __future__ import annotations

import re
from collections.abc import Sequence
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

_ENV = cel.NewEnv(variables={
    "lead": cel.Type.Map(cel.Type.STRING, cel.Type.DYN),
    "score": cel.Type.INT,
    "stage": cel.Type.STRING,
    "owner": cel.Type.STRING,
})
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


class Bindings:
    """The variables conditions read, converted to CEL once and shared by every condition
    evaluated with them (converting the lead map is most of an evaluation's cost)."""

    def __init__(self, lead: dict[str, Any], score: int = 0, stage: str = "lead",
                 owner: str = "") -> None:
        self.activation = _ENV.Activation(
            {"lead": lead, "score": score, "stage": stage, "owner": owner})


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


def compile_condition(source: str) -> Condition:
    """Compile and type-check a condition, then dry-run it on an empty lead."""
    try:
        program = _ENV.compile(source)
    except RuntimeError as exc:
        text = str(exc)
        match = _POSITION.search(text)
        message = match.group(3) if match else text
        column = int(match.group(2)) + 1 if match else None
        raise ConditionError(message, _hint_for(message), column) from exc
    condition = Condition(source, program)
    # A misspelt field only shows when evaluated: try it once on a lead with every field.
    condition.holds(Bindings(dict(LEAD_FIELD_DEFAULTS)))
    return condition


_GROUPS: dict[tuple[str, ...], Any] = {}


def _group_program(conditions: Sequence[Condition]) -> Any:
    sources = tuple(c.source for c in conditions)
    if sources not in _GROUPS:
        # Already compiled one by one, so the list of them compiles too.
        _GROUPS[sources] = _ENV.compile("[" + ", ".join(f"({s})" for s in sources) + "]")
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
