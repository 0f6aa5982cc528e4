"""The syntax tree of a parsed SOQL query, and the error Salesforce answers for a bad one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

LiteralKind = Literal["string", "number", "boolean", "null", "datetime", "date"]
Value = str | int | float | bool | datetime | None


class SoqlError(Exception):
    """A query Salesforce would reject, with the REST errorCode it would answer."""

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message


@dataclass(frozen=True)
class FieldRef:
    """A field named in the query, with its offset for error messages."""

    name: str
    pos: int


@dataclass(frozen=True)
class Lit:
    """A literal value: a quoted string, number, boolean, null, dateTime or date."""

    kind: LiteralKind
    value: Value
    pos: int


@dataclass(frozen=True)
class Comparison:
    """``field <op> literal`` with op one of = != < > <= >= LIKE (``<>`` is read as !=)."""

    field: FieldRef
    op: str
    value: Lit


@dataclass(frozen=True)
class InList:
    """``field [NOT] IN (literal, ...)``."""

    field: FieldRef
    values: tuple[Lit, ...]
    negated: bool


@dataclass(frozen=True)
class BoolOp:
    """Terms joined by one operator, ``AND`` or ``OR``."""

    op: Literal["AND", "OR"]
    terms: tuple[Expr, ...]


@dataclass(frozen=True)
class Not:
    """``NOT term``."""

    term: Expr


Expr = Comparison | InList | BoolOp | Not


@dataclass(frozen=True)
class OrderItem:
    """One ORDER BY key; SOQL puts nulls first when ascending, last when descending."""

    field: FieldRef
    descending: bool
    nulls_last: bool


@dataclass(frozen=True)
class Query:
    """A parsed SELECT statement, before its names are checked against any metadata."""

    text: str
    fields: tuple[FieldRef, ...]
    count_only: bool
    sobject: str
    sobject_pos: int
    where: Expr | None
    order_by: tuple[OrderItem, ...]
    limit: int | None
    offset: int | None


def locate(text: str, pos: int, detail: str) -> str:
    """``detail`` prefixed, as Salesforce does, by the query line, a caret and Row/Column."""
    line_start = text.rfind("\n", 0, pos) + 1
    line_end = text.find("\n", pos)
    line = text[line_start:line_end if line_end >= 0 else len(text)]
    row = text.count("\n", 0, pos) + 1
    column = pos - line_start + 1
    return f"\n{line}\n{' ' * (column - 1)}^\nERROR at Row:{row}:Column:{column}\n{detail}"
