"""Pure evaluation of CRM search requests: filter groups, free-text query and sorts."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import TypeVar

OPERATORS = frozenset({
    "EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN",
    "HAS_PROPERTY", "NOT_HAS_PROPERTY", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN",
})
_NEEDS_NO_VALUE = frozenset({"HAS_PROPERTY", "NOT_HAS_PROPERTY"})
_NEEDS_VALUES = frozenset({"IN", "NOT_IN"})
# HubSpot's documented limits for one search request.
MAX_FILTER_GROUPS = 5
MAX_FILTERS_PER_GROUP = 6
MAX_FILTERS = 18
# The contact properties a free-text ``query`` looks in.
QUERY_PROPERTIES = ("firstname", "lastname", "email", "phone", "company")

_TOKEN_SPLIT = re.compile(r"[^\w*]+")

Record = Mapping[str, str | None]
# Values compare as (kind, number, text): numbers and datetimes by number, the rest by text.
Rank = tuple[int, float, str]
_Item = TypeVar("_Item")


class SearchError(ValueError):
    """A search request HubSpot would refuse with a 400."""


@dataclass(frozen=True)
class Filter:
    """One condition on one property."""

    property_name: str
    operator: str
    value: str | None = None
    values: tuple[str, ...] = ()
    high_value: str | None = None


@dataclass(frozen=True)
class Sort:
    """Order results by one property."""

    property_name: str
    descending: bool = False


@dataclass(frozen=True)
class Criteria:
    """Everything that selects and orders search results."""

    groups: tuple[tuple[Filter, ...], ...] = ()
    query: str | None = None
    sorts: tuple[Sort, ...] = field(default=())


def parse_sort(raw: str | Mapping[str, str]) -> Sort:
    """A sort from ``"-createdate"`` / ``"createdate"`` or ``{"propertyName","direction"}``."""
    if isinstance(raw, str):
        return Sort(raw.lstrip("-"), descending=raw.startswith("-"))
    name = raw.get("propertyName")
    if not name:
        raise SearchError("A sort needs a propertyName")
    direction = raw.get("direction", "ASCENDING").upper()
    if direction not in {"ASCENDING", "DESCENDING"}:
        raise SearchError(f"Unknown sort direction {direction}")
    return Sort(name, descending=direction == "DESCENDING")


def check(criteria: Criteria, types: Mapping[str, str]) -> None:
    """Raise SearchError if the criteria break HubSpot's rules or name unknown properties."""
    if len(criteria.groups) > MAX_FILTER_GROUPS:
        raise SearchError(f"Too many filter groups: at most {MAX_FILTER_GROUPS} are allowed")
    if sum(len(group) for group in criteria.groups) > MAX_FILTERS:
        raise SearchError(f"Too many filters: at most {MAX_FILTERS} are allowed in total")
    for group in criteria.groups:
        if len(group) > MAX_FILTERS_PER_GROUP:
            raise SearchError(
                f"Too many filters in a group: at most {MAX_FILTERS_PER_GROUP} are allowed")
        for condition in group:
            _check_filter(condition, types)
    for sort in criteria.sorts:
        if sort.property_name not in types:
            raise SearchError(f'Property "{sort.property_name}" does not exist')


def _check_filter(condition: Filter, types: Mapping[str, str]) -> None:
    if condition.operator not in OPERATORS:
        raise SearchError(f"Unknown operator {condition.operator}")
    kind = types.get(condition.property_name)
    if kind is None:
        raise SearchError(f'Property "{condition.property_name}" does not exist')
    if condition.operator in _NEEDS_VALUES:
        if not condition.values:
            raise SearchError(f"Operator {condition.operator} needs a list of values")
        operands: Sequence[str] = condition.values
    elif condition.operator in _NEEDS_NO_VALUE:
        operands = ()
    elif condition.value is None:
        raise SearchError(f"Operator {condition.operator} needs a value")
    elif condition.operator == "BETWEEN":
        if condition.high_value is None:
            raise SearchError("Operator BETWEEN needs a highValue")
        operands = (condition.value, condition.high_value)
    else:
        operands = (condition.value,)
    if not condition.operator.endswith("CONTAINS_TOKEN"):
        for operand in operands:
            if _comparable(operand, kind) is None:
                raise SearchError(
                    f"{operand} is not a valid value for property {condition.property_name}")


def _comparable(value: str, kind: str) -> Rank | None:
    """The value as it compares for its property type, or None if it cannot be one."""
    if kind == "number":
        try:
            return (0, float(value), "")
        except ValueError:
            return None
    if kind == "datetime":
        moment = _epoch_ms(value)
        return None if moment is None else (0, moment, "")
    return (1, 0.0, value.casefold())


def _epoch_ms(value: str) -> float | None:
    if value.lstrip("-").isdigit():
        return float(value)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp() * 1000


def _tokens(value: str) -> list[str]:
    return [value.casefold(), *(t for t in _TOKEN_SPLIT.split(value.casefold()) if t)]


def _contains_token(value: str | None, pattern: str) -> bool:
    if not value:
        return False
    pattern = pattern.casefold()
    return any(fnmatch.fnmatchcase(token, pattern) for token in _tokens(value))


def filter_matches(record: Record, condition: Filter, types: Mapping[str, str]) -> bool:
    """Whether one record meets one (already checked) filter."""
    raw = record.get(condition.property_name)
    present = raw is not None and raw != ""
    operator = condition.operator
    if operator == "HAS_PROPERTY":
        return present
    if operator == "NOT_HAS_PROPERTY":
        return not present
    if operator == "CONTAINS_TOKEN":
        return _contains_token(raw, condition.value or "")
    if operator == "NOT_CONTAINS_TOKEN":
        return not _contains_token(raw, condition.value or "")
    kind = types[condition.property_name]
    actual = _comparable(raw, kind) if present and raw is not None else None
    if operator in {"IN", "NOT_IN"}:
        wanted = {_comparable(v, kind) for v in condition.values}
        inside = actual is not None and actual in wanted
        return inside if operator == "IN" else not inside
    expected = _comparable(condition.value or "", kind)
    if operator == "NEQ":
        return actual is None or actual != expected
    if actual is None or expected is None:
        return False
    return _compare(operator, actual, expected, condition, kind)


def _compare(operator: str, actual: Rank, expected: Rank, condition: Filter, kind: str) -> bool:
    if operator == "EQ":
        return actual == expected
    if operator == "LT":
        return actual < expected
    if operator == "LTE":
        return actual <= expected
    if operator == "GT":
        return actual > expected
    if operator == "GTE":
        return actual >= expected
    high = _comparable(condition.high_value or "", kind)
    return high is not None and expected <= actual <= high


def query_matches(record: Record, query: str) -> bool:
    """Whether every word of a free-text query starts a word of the searchable properties."""
    words = [w for w in _TOKEN_SPLIT.split(query.casefold()) if w]
    tokens = [t for name in QUERY_PROPERTIES for t in _tokens(record.get(name) or "")]
    return all(any(token.startswith(word) for token in tokens) for word in words)


def matches(record: Record, criteria: Criteria, types: Mapping[str, str]) -> bool:
    """Whether a record is selected: any group matches (all its filters), and the query does."""
    if criteria.query and not query_matches(record, criteria.query):
        return False
    if not criteria.groups:
        return True
    return any(all(filter_matches(record, f, types) for f in group) for group in criteria.groups)


def ordered(items: Sequence[_Item], sorts: Sequence[Sort], types: Mapping[str, str],
            record_of: Callable[[_Item], Record]) -> list[_Item]:
    """Items in the sort order of their records; those without a sort value come last."""
    result = list(items)
    # Stable sorts applied from the last key to the first give a multi-key order.
    for sort in reversed(sorts):
        kind = types.get(sort.property_name, "string")
        with_value = [i for i in result if record_of(i).get(sort.property_name)]
        without = [i for i in result if not record_of(i).get(sort.property_name)]
        with_value.sort(key=partial(_item_key, record_of, sort, kind), reverse=sort.descending)
        result = with_value + without
    return result


def _item_key(record_of: Callable[[_Item], Record], sort: Sort, kind: str, item: _Item) -> Rank:
    raw = record_of(item).get(sort.property_name) or ""
    # Unparseable values of a typed property sort after parseable ones, as text.
    return _comparable(raw, kind) or (2, 0.0, raw)
