"""A condition's results remembered by the values it reads.

A CEL call costs tens of microseconds however little it does, and building the activation
it reads costs as much again; yet a condition reads one or two lead fields, whose values
recur from lead to lead (a country, a lead source, a title). A condition is a pure
function of the variables it names (the only impure thing a condition could call,
``re_search``, is itself pure), so its result for the same values is the same result.

Which values a condition reads is read off its source, conservatively: every variable
named anywhere in it (a name inside a string literal only makes the key longer), and, for
``lead``, each field named as ``lead.<field>``. A condition that reads ``lead`` any other
way (``lead['x']``, ``lead.size()``, ``[lead].exists(...)``, a comment between ``lead`` and
the field) is not remembered: it is evaluated every time, as before.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

_WORD = "A-Za-z0-9_"
_LEAD = re.compile(rf"(?<![{_WORD}])lead(?![{_WORD}])")
# `lead.<field>` that is not a method call: the field name taken whole, then no `(`.
_LEAD_FIELD = re.compile(rf"(?<![{_WORD}])lead\s*\.\s*([A-Za-z_][{_WORD}]*+)(?!\s*\()")
# Only values of these exact types go into keys: in Python 1 == 1.0 == True, in CEL not.
_PLAIN = frozenset({str, int})
# Per condition: more than the distinct values of a field or two in most rule sets (a
# head count, a country, a title); bounded so a field like an email domain cannot grow it.
MEMO_SIZE = 8192


@dataclass(frozen=True)
class Reads:
    """The lead fields and the other variables a condition reads, in a fixed order."""

    lead_fields: tuple[str, ...]
    variables: tuple[str, ...]


def reads_of(source: str, variables: frozenset[str]) -> Reads | None:
    """What ``source`` reads, or None when it reads ``lead`` other than field by field."""
    lead_uses = len(_LEAD.findall(source))
    fields = _LEAD_FIELD.findall(source)
    if len(fields) != lead_uses:
        return None
    others = tuple(sorted(v for v in variables - {"lead"}
                          if re.search(rf"(?<![{_WORD}]){v}(?![{_WORD}])", source)))
    return Reads(tuple(sorted(set(fields))), others)


def flat_view(data: Mapping[str, Any]) -> dict[Any, Any] | None:
    """The variables as bound, in one mapping for the keys: lead fields by name, other
    variables as ``("var", name)``; None when a value is not a plain str or int."""
    flat: dict[Any, Any] = dict(data["lead"])
    for name, value in data.items():
        if name != "lead":
            flat["var", name] = value
    for value in flat.values():
        if type(value) not in _PLAIN:
            return None
    return flat


# The key of a condition that is not remembered: never stored, so never found.
NOT_REMEMBERED = object()


@dataclass
class ConditionMemo:
    """Results of one condition by the values it read; bounded, oldest forgotten first."""

    reads: Reads | None
    # Ordered: forgetting the oldest of a plain dict costs a scan past every slot freed
    # before it, and the memo forgets one entry per new one once full.
    results: OrderedDict[Any, bool] = field(default_factory=OrderedDict)

    def __post_init__(self) -> None:
        # From a ``flat_view``: a bare value for one read, a tuple for more (``itemgetter``).
        self.key: Callable[[Mapping[Any, Any]], Any]
        if self.reads is None:
            self.key = lambda _: NOT_REMEMBERED
            return
        names = (*self.reads.lead_fields, *(("var", v) for v in self.reads.variables))
        self.key = itemgetter(*names) if names else lambda _: ()

    def remember(self, key: Any, result: bool) -> None:
        """Keep ``result`` for ``key`` (nothing for ``NOT_REMEMBERED``)."""
        if key is NOT_REMEMBERED:
            return
        results = self.results
        if len(results) >= MEMO_SIZE:
            results.popitem(last=False)
        results[key] = result
