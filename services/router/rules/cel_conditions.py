"""Conditions in CEL, compiled once, with errors a RevOps engineer can act on.

Conditions read ``lead``, ``score``, ``stage`` and ``owner``, and also ``account`` (the
matched account's name, '' when none) and ``classification`` (the lead's class, known in
routing only). Each section of the rule file compiles its conditions with only the
variables that mean something there, so reading one that does not is an error naming the
condition's line, not a condition that silently never holds.
"""

from __future__ import annotations

import functools
import re
import string
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cel_expr_python import cel

from services.router.rules.condition_memo import (
    NOT_REMEMBERED,
    ConditionMemo,
    flat_view,
    reads_of,
)

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
    """A compiled CEL condition over ``lead`` (map of fields), ``score`` and ``stage``; what
    runs is ``fast_source`` (see ``fast_regex``), ``_as_written`` only to report an error."""

    source: str
    fast_source: str
    _program: Any
    _as_written: Any
    # Results by the values the condition read (see condition_memo): the same values,
    # the same result, without a CEL call.
    memo: ConditionMemo = field(compare=False, repr=False,
                                default_factory=lambda: ConditionMemo(None))

    def holds(self, bindings: Bindings) -> bool:
        """Evaluate; a runtime error (a misspelt field, a type clash) raises ConditionError."""
        result = self._program.eval(bindings.activation)
        if result.type() == cel.Type.ERROR:  # the error as written names `matches`
            result = self._as_written.eval(bindings.activation)
        if result.type() == cel.Type.ERROR:
            raise ConditionError(*_runtime_error(str(result.value())), source=self.source)
        value = result.value()
        if not isinstance(value, bool):
            raise ConditionError(f"gave {value!r}, not true or false",
                                 "compare something, e.g. lead.employees >= 1000",
                                 source=self.source)
        return value


def _runtime_error(message: str) -> tuple[str, str]:
    """The message and the hint for an evaluation error."""
    missing = re.search(r'Key not found in map : "([^"]+)"', message)
    if missing:
        return (f"unknown field `lead.{missing.group(1)}`",
                f"there is no lead field '{missing.group(1)}'; fields: "
                + ", ".join(sorted(LEAD_FIELD_DEFAULTS)))
    return f"evaluation failed: {message}", _hint_for(message)


_TYPES: dict[str, Any] = {
    "lead": cel.Type.Map(cel.Type.STRING, cel.Type.DYN), "score": cel.Type.INT,
    **dict.fromkeys(("stage", "owner", "account", "classification"), cel.Type.STRING)}
VARIABLES = frozenset(_TYPES)
_ENVS: dict[frozenset[str], Any] = {}


def _env(variables: frozenset[str]) -> Any:
    if variables not in _ENVS:
        _ENVS[variables] = cel.NewEnv(variables={v: _TYPES[v] for v in sorted(variables)})
    return _ENVS[variables]


_FULL_ENV = _env(VARIABLES)


class Bindings:
    """The variables conditions read, converted to CEL once (when a condition is evaluated
    rather than remembered) and shared by every condition evaluated with them."""

    def __init__(self, lead: dict[str, Any], score: int = 0, stage: str = "lead",
                 owner: str = "", account: str = "", classification: str = "") -> None:
        self.data: dict[str, Any] = {
            "lead": lead, "score": score, "stage": stage, "owner": owner,
            "account": account, "classification": classification}
        self._activation: Any = None
        self._flat: dict[Any, Any] | bool | None = False  # False: not made yet

    @property
    def flat(self) -> dict[Any, Any] | None:
        """``data`` as memo keys read it (``condition_memo.flat_view``), made once."""
        if self._flat is False:
            self._flat = flat_view(self.data)
        return self._flat  # type: ignore[return-value]  # not False any more

    @property
    def activation(self) -> Any:
        """The CEL activation of ``data``, built at first use (it costs a CEL call)."""
        if self._activation is None:
            self._activation = _FULL_ENV.Activation(self.data)
        return self._activation


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
    fast = fast_regex(source)
    reads = reads_of(fast, VARIABLES)
    memo = ConditionMemo(reads if reads == reads_of(source, VARIABLES) else None)
    condition = Condition(source, fast, _FAST_ENV.compile(fast), program, memo)
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
    sources = tuple(c.fast_source for c in conditions)
    if sources not in _GROUPS:
        # Already compiled one by one, so the list of them compiles too.
        _GROUPS[sources] = _FAST_ENV.compile("[" + ", ".join(f"({s})" for s in sources) + "]")
    return _GROUPS[sources]


@dataclass(frozen=True)
class ConditionGroup:
    """Conditions evaluated together as one CEL list (one call costs more than its work),
    compiled once: a rule set keeps one group per section (``RuleSet.groups``)."""

    conditions: tuple[Condition, ...]
    program: Any

    @functools.cached_property
    def memos(self) -> tuple[ConditionMemo, ...]:
        """The conditions' memos, in order."""
        return tuple(condition.memo for condition in self.conditions)


def condition_group(conditions: Iterable[Condition]) -> ConditionGroup:
    """The group of ``conditions``, in their order."""
    group = tuple(conditions)
    return ConditionGroup(group, _group_program(group) if group else None)


def _group_values(group: ConditionGroup, bindings: Bindings) -> list[bool] | None:
    """All conditions in one CEL call, or None when any of them failed to evaluate."""
    # The plain value of an error is its message, not a list: the caller then evaluates
    # one by one and reports it. (Asking the result's type first costs as much as a lookup.)
    values = group.program.eval(bindings.activation).plain_value()
    if isinstance(values, list) and set(map(type, values)) <= _BOOL:
        return values
    return None


_BOOL = frozenset({bool})  # bool has no subclasses: type() is isinstance() here


def _as_group(conditions: ConditionGroup | Sequence[Condition]) -> ConditionGroup:
    return conditions if isinstance(conditions, ConditionGroup) else condition_group(conditions)


def _remembered(group: ConditionGroup, bindings: Bindings,
                ) -> tuple[list[Any], list[bool | None]]:
    """Each condition's memo key for ``bindings`` and its remembered result (or None)."""
    flat = bindings.flat
    memos = group.memos
    if flat is None:
        return [NOT_REMEMBERED] * len(memos), [None] * len(memos)
    try:
        keys = [memo.key(flat) for memo in memos]
    except KeyError:  # a field the lead lacks: an error to report, not to remember
        return [NOT_REMEMBERED] * len(memos), [None] * len(memos)
    return keys, [memo.results.get(key) for memo, key in zip(memos, keys, strict=True)]


def which_hold(conditions: ConditionGroup | Sequence[Condition], bindings: Bindings,
               ) -> list[bool]:
    """Evaluate several conditions in one CEL call (none when all are remembered).

    If any of them fails, they are evaluated one by one so the error names the failing one.
    """
    group = _as_group(conditions)
    if not group.conditions:
        return []
    keys, known = _remembered(group, bindings)
    if None not in known:
        return known  # type: ignore[return-value]  # no None in it
    values = _group_values(group, bindings)
    if values is None:
        values = [condition.holds(bindings) for condition in group.conditions]
    for memo, key, value in zip(group.memos, keys, values, strict=True):
        memo.remember(key, value)
    return values


def first_holding(conditions: ConditionGroup | Sequence[Condition], bindings: Bindings,
                  ) -> int | None:
    """The index of the first condition that holds, evaluated as one CEL call (none when
    the results are remembered up to the first that holds).

    On an error, conditions are evaluated in order and the first that holds wins, so a
    broken condition after the match does not matter, as with one-by-one evaluation.
    """
    group = _as_group(conditions)
    if not group.conditions:
        return None
    keys, known = _remembered(group, bindings)
    for index, held in enumerate(known):
        if held is None:
            break
        if held:
            return index
    else:
        return None
    values = _group_values(group, bindings)
    if values is None:
        for index, (condition, key) in enumerate(zip(group.conditions, keys, strict=True)):
            holds = condition.holds(bindings)
            condition.memo.remember(key, holds)
            if holds:
                return index
        return None
    for memo, key, value in zip(group.memos, keys, values, strict=True):
        memo.remember(key, value)
    return next((i for i, v in enumerate(values) if v), None)


# Fast `matches`. cel-expr-python compiles the RE2 pattern of `matches` at every call (~75 µs)
# and lets nobody override or re-declare `matches`. So a condition is checked, and its errors
# reported, as written, but what runs is a copy with each `x.matches('literal')` and
# `matches(lead.field, 'literal')` renamed `re_search`: the same partial match, the pattern
# compiled once for Python's `re`. Only patterns `re` reads as RE2 does on ordinary text
# (printable ASCII and tabs) are renamed, and RE2 itself still searches any other text.
_SEARCH = "re_search"
_STR = r"""[bB]?(?:[rR](?:'''[\s\S]*?'''|\"\"\"[\s\S]*?\"\"\"|'[^'\r\n]*'|"[^"\r\n]*")
    |'''(?:\\[\s\S]|[^\\])*?'''|\"\"\"(?:\\[\s\S]|[^\\])*?\"\"\"
    |'(?:\\.|[^'\\\r\n])*'|"(?:\\.|[^"\\\r\n])*")"""
# Left to right, a string or a comment is skipped whole, so no call is seen inside one.
_CALL = re.compile(rf"""(?P<member>\.\s*)matches(?P<margs>\s*\(\s*(?P<mlit>{_STR})\s*\))
    |matches(?P<gargs>\s*\(\s*[A-Za-z_]\w*(?:\s*\.\s*[A-Za-z_]\w*)*\s*,\s*(?P<glit>{_STR})\s*\))
    |{_STR}|//[^\n]*|[A-Za-z_]\w*|[\s\S]""", re.X)
# A piece of a pattern: an escape, a class, a group opening, a repetition, or a character.
_PIECE = re.compile(r"\\.|\[\^?\]?(?:\\.|[^]\\])*\]|\(\?:?|\{\d+(?:,\d*)?\}|.", re.S)
_CLASS_ESCAPES = frozenset("dDwWsStnrfv" + string.punctuation)
_ORDINARY_TEXT = re.compile(r"[\t\x20-\x7e]*")
_COMPILED: dict[str, re.Pattern[str]] = {}


def fast_regex(source: str) -> str:
    """``source`` with ``matches`` renamed ``re_search`` where the pattern allows it (and
    the condition has no backticks: rare, and not worth reading right here)."""
    return source if "`" in source else _CALL.sub(_renamed, source)


def _renamed(call: re.Match[str]) -> str:
    literal = call.group("mlit") or call.group("glit")
    if literal is None or not _usable(literal):
        return call.group(0)
    return (call.group("member") or "") + _SEARCH + (call.group("margs") or call.group("gargs"))


def _usable(literal: str) -> bool:
    pattern = cel.NewEnv().compile(literal).eval().value()
    if not isinstance(pattern, str) or not _read_alike(pattern):
        return False  # bytes, or outside the subset
    try:
        _native_search("", pattern)  # RE2 accepts it
        with warnings.catch_warnings(action="error"):
            _COMPILED.setdefault(pattern, re.compile(pattern))
    except (ValueError, re.error, Warning):
        return False
    return True


def _read_alike(pattern: str) -> bool:
    r"""The RE2 subset Python reads alike on ordinary text: ASCII; leading i/m/s flags;
    (), (?:), |, repetition, classes (no nested [ or set operations), \d \w \s \b \A, \D \W
    \S, escaped punctuation. Not `{,n}`, `[[:alpha:]]`, `\B` (never in '' for Python), `\Z`,
    inline flags; `$` and `\s` differ at newlines only, absent from ordinary text."""
    flags = re.match(r"\(\?[ims]+\)", pattern)
    for piece in _PIECE.findall(pattern, flags.end() if flags else 0):
        if piece[0] == "[":  # in a class \b is a backspace to Python
            inner = re.sub(r"\\.", "", piece[1:-1])
            if not set(re.findall(r"\\(.)", piece)) <= _CLASS_ESCAPES \
                    or re.search(r"\[|--|&&|~~|\|\|", inner):
                return False
        elif piece in ("[", "(?", "{") or (
                piece[0] == "\\" and piece[1:] not in _CLASS_ESCAPES | {"b", "A"}):
            return False
    return pattern.isascii()


@functools.lru_cache(maxsize=4096)
def _native_search(text: str, pattern: str) -> bool:
    """RE2's answer via CEL (slow); raising fails the condition, then run as written."""
    result = _NATIVE.eval(data={"text": text, "pattern": pattern})
    if result.type() == cel.Type.ERROR:
        raise ValueError(str(result.value()))
    return bool(result.value())


@functools.lru_cache(maxsize=16_384)
def _re_search(text: str, pattern: str) -> bool:
    # Pure, and called from CEL for every lead's title and the like: the same values recur.
    if _ORDINARY_TEXT.fullmatch(text):
        return _COMPILED[pattern].search(text) is not None
    return _native_search(text, pattern)


_NATIVE = cel.NewEnv(variables={"text": cel.Type.STRING, "pattern": cel.Type.STRING}
                     ).compile("text.matches(pattern)")
# Both forms, `text.re_search(pattern)` and `re_search(text, pattern)`.
_FAST_ENV = cel.NewEnv(variables=_TYPES, functions=[cel.FunctionDecl(_SEARCH, [
    cel.Overload(f"{prefix}re_search_string", cel.Type.BOOL, [cel.Type.STRING] * 2,
                 is_member=bool(prefix), impl=_re_search) for prefix in ("string_", "")])])
