"""Checks a parsed SOQL query against the sObject metadata, then runs it over records: pure.

Semantics follow Salesforce: text compares case-insensitively (ids compare on their first
15 case-sensitive characters), ``!=`` and ``NOT IN`` match records whose field is null,
and ORDER BY puts nulls first when ascending and last when descending unless told.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sandboxes.salesforce import ids
from sandboxes.salesforce.metadata import (
    NUMBER_TYPES,
    TEXT_TYPES,
    FieldDef,
    SObjectDef,
    sobject,
)
from sandboxes.salesforce.soql_ast import (
    BoolOp,
    Comparison,
    Expr,
    FieldRef,
    InList,
    Lit,
    Not,
    Query,
    SoqlError,
    Value,
    locate,
)

Record = Mapping[str, Any]
Predicate = Callable[[Record], bool]

SALESFORCE_DATETIME = "%Y-%m-%dT%H:%M:%S.%f%z"
MAX_OFFSET = 2000
_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq, "!=": operator.ne, "<": operator.lt,
    ">": operator.gt, "<=": operator.le, ">=": operator.ge,
}
_SOQL_TYPE_NAMES = {"int": "integer", "double": "double", "currency": "currency",
                    "percent": "percent", "boolean": "boolean", "date": "date",
                    "datetime": "dateTime"}
_WSDL_HINT = "Please reference your WSDL or the describe call for the appropriate names."


@dataclass(frozen=True)
class BoundQuery:
    """A query whose names resolved against the metadata, ready to run over records."""

    sobject: SObjectDef
    fields: tuple[FieldDef, ...]
    count_only: bool
    predicate: Predicate
    order_by: tuple[tuple[FieldDef, bool, bool], ...]
    limit: int | None
    offset: int | None


def bind(query: Query) -> BoundQuery:
    """Resolve the object and fields of ``query``; raise :class:`SoqlError` as Salesforce would.

    Unknown object: INVALID_TYPE. Unknown field: INVALID_FIELD. A literal of the wrong type
    for its field: INVALID_QUERY_FILTER_OPERATOR.
    """
    target = sobject(query.sobject)
    if target is None:
        raise SoqlError("INVALID_TYPE", locate(
            query.text, query.sobject_pos,
            f"sObject type '{query.sobject}' is not supported. If you are attempting to use a "
            f"custom object, be sure to append the '__c' after the entity name. {_WSDL_HINT}"))
    fields: list[FieldDef] = []
    for ref in query.fields:
        resolved = _resolve(query, target, ref)
        if resolved in fields:
            raise SoqlError("MALFORMED_QUERY", f"duplicate field selected: {resolved.name}")
        fields.append(resolved)
    predicate: Predicate = _always if query.where is None else _bind_expr(query, target,
                                                                         query.where)
    order_by = tuple((_resolve(query, target, item.field), item.descending, item.nulls_last)
                     for item in query.order_by)
    if query.offset is not None and query.offset > MAX_OFFSET:
        raise SoqlError("NUMBER_OUTSIDE_VALID_RANGE",
                        f"Maximum SOQL offset allowed is {MAX_OFFSET}")
    return BoundQuery(target, tuple(fields), query.count_only, predicate, order_by,
                      query.limit, query.offset)


def run(bound: BoundQuery, records: Iterable[Record]) -> tuple[int, list[Record]]:
    """The totalSize and the matching records, sorted and sliced.

    A ``COUNT()`` query answers its count and no records, as Salesforce does.
    """
    matching = [record for record in records if bound.predicate(record)]
    for field, descending, nulls_last in reversed(bound.order_by):
        present = [r for r in matching if r.get(field.name) is not None]
        absent = [r for r in matching if r.get(field.name) is None]
        present = _sorted(present, field, descending)
        matching = present + absent if nulls_last else absent + present
    start = bound.offset or 0
    end = None if bound.limit is None else start + bound.limit
    matching = matching[start:end]
    return len(matching), [] if bound.count_only else matching


def project(bound: BoundQuery, record: Record) -> dict[str, Any]:
    """The selected fields of ``record``, in SELECT order, under their API names."""
    return {field.name: record.get(field.name) for field in bound.fields}


def _always(record: Record) -> bool:
    return True


def _sorted(records: list[Record], field: FieldDef, descending: bool) -> list[Record]:
    def key(record: Record) -> Any:
        return _normalize(field, record[field.name])

    # Python's sort stays stable when reversed, so earlier ORDER BY keys keep precedence.
    return sorted(records, key=key, reverse=descending)


def _resolve(query: Query, target: SObjectDef, ref: FieldRef) -> FieldDef:
    if "." in ref.name:
        relationship = ref.name.split(".", 1)[0]
        raise SoqlError("INVALID_FIELD", locate(
            query.text, ref.pos,
            f"Didn't understand relationship '{relationship}' in field path. If you are "
            "attempting to use a custom relationship, be sure to append the '__r' after the "
            f"custom relationship name. {_WSDL_HINT}"))
    resolved = target.field(ref.name)
    if resolved is None:
        raise SoqlError("INVALID_FIELD", locate(
            query.text, ref.pos,
            f"No such column '{ref.name}' on entity '{target.name}'. If you are attempting to "
            f"use a custom field, be sure to append the '__c' after the custom field name. "
            f"{_WSDL_HINT}"))
    return resolved


def _bind_expr(query: Query, target: SObjectDef, expr: Expr) -> Predicate:
    if isinstance(expr, BoolOp):
        terms = [_bind_expr(query, target, term) for term in expr.terms]
        if expr.op == "AND":
            return lambda record: all(term(record) for term in terms)
        return lambda record: any(term(record) for term in terms)
    if isinstance(expr, Not):
        inner = _bind_expr(query, target, expr.term)
        return lambda record: not inner(record)
    field = _resolve(query, target, expr.field)
    if isinstance(expr, InList):
        values = {_literal(query, field, lit) for lit in expr.values}
        name, negated = field.name, expr.negated

        def in_list(record: Record) -> bool:
            raw = record.get(name)
            found = (None if raw is None else _normalize(field, raw)) in values
            return found != negated

        return in_list
    if expr.op == "LIKE":
        return _bind_like(query, field, expr)
    return _bind_comparison(field, expr.op, _literal(query, field, expr.value))


def _bind_comparison(field: FieldDef, op: str, wanted: Any) -> Predicate:
    compare = _OPERATORS[op]
    name = field.name

    def comparison(record: Record) -> bool:
        raw = record.get(name)
        if raw is None or wanted is None:
            # SOQL treats null as a value: "= null" finds it and "!= 'x'" includes it.
            if op in ("=", "!="):
                return (raw is None and wanted is None) == (op == "=")
            return False
        return bool(compare(_normalize(field, raw), wanted))

    return comparison


def _bind_like(query: Query, field: FieldDef, expr: Comparison) -> Predicate:
    if field.type not in TEXT_TYPES or expr.value.kind != "string":
        raise SoqlError("INVALID_QUERY_FILTER_OPERATOR", locate(
            query.text, expr.field.pos, f"invalid operator on field '{field.name}': LIKE"))
    pattern = re.compile(_like_regex(str(expr.value.value)), re.IGNORECASE | re.DOTALL)
    name = field.name

    def like(record: Record) -> bool:
        raw = record.get(name)
        return raw is not None and pattern.fullmatch(str(raw)) is not None

    return like


def _like_regex(pattern: str) -> str:
    parts: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            parts.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        parts.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        index += 1
    return "".join(parts)


def _literal(query: Query, field: FieldDef, lit: Lit) -> Any:
    """The literal in the comparable form of ``field``'s values; rejects mismatched types."""
    if lit.kind == "null":
        return None
    expected_kind = ("string" if field.type in TEXT_TYPES else
                     "number" if field.type in NUMBER_TYPES else field.type)
    if lit.kind != expected_kind:
        type_name = _SOQL_TYPE_NAMES.get(field.type, "string")
        quoted = "should" if field.type in TEXT_TYPES else "should not"
        raise SoqlError("INVALID_QUERY_FILTER_OPERATOR", locate(
            query.text, lit.pos,
            f"value of filter criterion for field '{field.name}' must be of type {type_name} "
            f"and {quoted} be enclosed in quotes"))
    if field.type not in TEXT_TYPES:
        return _normalize(field, lit.value)
    # Outside LIKE, an escaped wildcard is just the character.
    text = str(lit.value).replace("\\%", "%").replace("\\_", "_")
    if field.type in ("id", "reference") and not ids.is_well_formed(text):
        raise SoqlError("INVALID_QUERY_FILTER_OPERATOR",
                        locate(query.text, lit.pos, f"invalid ID field: {text}"))
    return _normalize(field, text)


def _normalize(field: FieldDef, value: Value) -> Any:
    """A value of ``field`` in a form Python compares the way SOQL does."""
    if field.type in ("id", "reference"):
        return str(value)[:15]
    if field.type in TEXT_TYPES:
        return str(value).casefold()
    if field.type in NUMBER_TYPES:
        return float(value)  # type: ignore[arg-type]
    if field.type == "datetime" and isinstance(value, str):
        return datetime.strptime(value, SALESFORCE_DATETIME)
    return value
