"""A parser for the subset of SOQL the sandbox answers: pure, no I/O, no metadata.

``SELECT f1, f2 | COUNT() FROM Obj [WHERE cond] [ORDER BY f [ASC|DESC] [NULLS FIRST|LAST], ...]
[LIMIT n] [OFFSET n]``, where a condition compares a field with a literal (``= != <> < > <= >=
LIKE``), tests ``[NOT] IN (...)``, and conditions combine with ``AND``, ``OR``, ``NOT`` and
parentheses. As in Salesforce, AND and OR may not be mixed without parentheses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sandboxes.salesforce.soql_ast import (
    BoolOp,
    Comparison,
    Expr,
    FieldRef,
    InList,
    Lit,
    Not,
    OrderItem,
    Query,
    SoqlError,
    locate,
)

__all__ = ["SoqlError", "parse"]


@dataclass(frozen=True)
class _Token:
    kind: Literal["ident", "string", "number", "datetime", "date", "op", "punct", "eof"]
    text: str
    pos: int


_TOKEN_RE = re.compile(r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2}(?![\w:]))
  | (?P<number>-?\d+(?:\.\d+)?(?![\w.]))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<op>!=|<>|<=|>=|=|<|>)
  | (?P<punct>[(),])
""", re.VERBOSE)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f",
            '"': '"', "'": "'", "\\": "\\"}


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None or match.lastgroup is None:
            bad = text[pos:].split(None, 1)[0]
            raise SoqlError("MALFORMED_QUERY", locate(text, pos, f"unexpected token: {bad}"))
        if match.lastgroup != "ws":
            tokens.append(_Token(match.lastgroup, match.group(), pos))  # type: ignore[arg-type]
        pos = match.end()
    tokens.append(_Token("eof", "<EOF>", len(text)))
    return tokens


def _unquote(text: str, raw: str, pos: int) -> str:
    """The value of a quoted literal; ``\\%`` and ``\\_`` stay escaped for LIKE to read."""
    out: list[str] = []
    body = raw[1:-1]
    index = 0
    while index < len(body):
        char = body[index]
        if char == "\\":
            nxt = body[index + 1]
            if nxt in "%_":
                out.append("\\" + nxt)
            elif nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
            else:
                raise SoqlError("MALFORMED_QUERY", locate(
                    text, pos, f"Invalid string literal '{body}'. Illegal character sequence "
                    f"'\\{nxt}' in string literal."))
            index += 2
        else:
            out.append(char)
            index += 1
    return "".join(out)


def parse(text: str) -> Query:
    """Parse ``text`` into a :class:`Query`, or raise :class:`SoqlError` (MALFORMED_QUERY)."""
    return _Parser(text).query()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def next(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def is_keyword(self, *words: str) -> bool:
        token = self.peek()
        return token.kind == "ident" and token.text.upper() in words

    def unexpected(self, token: _Token | None = None) -> SoqlError:
        token = token or self.peek()
        return SoqlError("MALFORMED_QUERY",
                         locate(self.text, token.pos, f"unexpected token: {token.text}"))

    def expect_keyword(self, word: str) -> None:
        if not self.is_keyword(word):
            raise self.unexpected()
        self.next()

    def expect_punct(self, char: str) -> None:
        if self.peek().text != char or self.peek().kind != "punct":
            raise self.unexpected()
        self.next()

    def field(self) -> FieldRef:
        token = self.next()
        if token.kind != "ident":
            raise self.unexpected(token)
        return FieldRef(token.text, token.pos)

    def integer(self) -> int:
        token = self.next()
        if token.kind != "number" or not token.text.isdigit():
            raise self.unexpected(token)
        return int(token.text)

    def query(self) -> Query:
        self.expect_keyword("SELECT")
        fields: list[FieldRef] = []
        count_only = False
        if self.is_keyword("COUNT") and self.tokens[self.index + 1].text == "(":
            self.next()
            self.expect_punct("(")
            self.expect_punct(")")
            count_only = True
        else:
            fields.append(self.field())
            while self.peek().text == ",":
                self.next()
                fields.append(self.field())
        self.expect_keyword("FROM")
        sobject = self.field()
        where = None
        if self.is_keyword("WHERE"):
            self.next()
            where = self.group()
        order_by = self.order_by() if self.is_keyword("ORDER") else ()
        limit = offset = None
        if self.is_keyword("LIMIT"):
            self.next()
            limit = self.integer()
        if self.is_keyword("OFFSET"):
            self.next()
            offset = self.integer()
        if self.peek().kind != "eof":
            raise self.unexpected()
        return Query(self.text, tuple(fields), count_only, sobject.name, sobject.pos,
                     where, order_by, limit, offset)

    def order_by(self) -> tuple[OrderItem, ...]:
        self.expect_keyword("ORDER")
        self.expect_keyword("BY")
        items: list[OrderItem] = []
        while True:
            ref = self.field()
            descending = False
            if self.is_keyword("ASC", "DESC"):
                descending = self.next().text.upper() == "DESC"
            nulls_last = descending
            if self.is_keyword("NULLS"):
                self.next()
                if not self.is_keyword("FIRST", "LAST"):
                    raise self.unexpected()
                nulls_last = self.next().text.upper() == "LAST"
            items.append(OrderItem(ref, descending, nulls_last))
            if self.peek().text != ",":
                return tuple(items)
            self.next()

    def group(self) -> Expr:
        terms = [self.term()]
        operator: Literal["AND", "OR"] | None = None
        while self.is_keyword("AND", "OR"):
            word: Literal["AND", "OR"] = "AND" if self.peek().text.upper() == "AND" else "OR"
            if operator is not None and word != operator:
                raise self.unexpected()
            operator = word
            self.next()
            if self.is_keyword("NOT"):
                raise self.unexpected()
            terms.append(self.term())
        return terms[0] if operator is None else BoolOp(operator, tuple(terms))

    def term(self) -> Expr:
        if self.is_keyword("NOT"):
            self.next()
            return Not(self.term())
        if self.peek().text == "(" and self.peek().kind == "punct":
            self.next()
            inner = self.group()
            self.expect_punct(")")
            return inner
        return self.condition()

    def condition(self) -> Expr:
        ref = self.field()
        if self.is_keyword("NOT", "IN"):
            negated = self.next().text.upper() == "NOT"
            if negated:
                self.expect_keyword("IN")
            self.expect_punct("(")
            values = [self.literal()]
            while self.peek().text == ",":
                self.next()
                values.append(self.literal())
            self.expect_punct(")")
            return InList(ref, tuple(values), negated)
        token = self.next()
        if token.kind == "op":
            op = "!=" if token.text == "<>" else token.text
        elif token.kind == "ident" and token.text.upper() == "LIKE":
            op = "LIKE"
        else:
            raise self.unexpected(token)
        return Comparison(ref, op, self.literal())

    def literal(self) -> Lit:
        token = self.next()
        if token.kind == "string":
            return Lit("string", _unquote(self.text, token.text, token.pos), token.pos)
        if token.kind == "number":
            number: int | float = float(token.text) if "." in token.text else int(token.text)
            return Lit("number", number, token.pos)
        if token.kind == "datetime":
            stamp = token.text.replace("Z", "+00:00")
            return Lit("datetime", datetime.fromisoformat(stamp).astimezone(UTC), token.pos)
        if token.kind == "date":
            return Lit("date", token.text, token.pos)
        if token.kind == "ident" and token.text.upper() in ("TRUE", "FALSE"):
            return Lit("boolean", token.text.upper() == "TRUE", token.pos)
        if token.kind == "ident" and token.text.upper() == "NULL":
            return Lit("null", None, token.pos)
        raise self.unexpected(token)
