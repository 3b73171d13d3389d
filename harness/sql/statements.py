"""SQL text cut into statements, each with where it starts in the text.

Boundaries follow ``sqlite3_complete`` (SQLite's ``complete.c``): a ``;`` ends a statement
unless it is inside a string, quoted identifier or comment, or inside the body of a
``CREATE [TEMP] TRIGGER ... BEGIN ... END``, which ends only at ``; END ;``. The same state
machine runs here over ``harness.sql.tokens``, so the splitter and every reader of the
statements agree on what is a string or a comment, and each statement carries its tokens
with their lines.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from functools import cached_property

from harness.sql.tokens import OP, WORD, Token, tokenize

# sqlite3_complete's token classes and states (complete.c), in its order.
_SEMI, _WS, _OTHER, _EXPLAIN, _CREATE, _TEMP, _TRIGGER, _END = range(8)
_START = 1  # a statement has just ended
_TRANSITIONS = (
    # SEMI WS OTHER EXPLAIN CREATE TEMP TRIGGER END
    (1, 0, 2, 3, 4, 2, 2, 2),  # 0 INVALID: nothing seen yet
    (1, 1, 2, 3, 4, 2, 2, 2),  # 1 START
    (1, 2, 2, 2, 2, 2, 2, 2),  # 2 NORMAL
    (1, 3, 3, 2, 4, 2, 2, 2),  # 3 EXPLAIN
    (1, 4, 2, 2, 2, 4, 5, 2),  # 4 CREATE
    (6, 5, 5, 5, 5, 5, 5, 5),  # 5 TRIGGER: inside a trigger's text
    (6, 6, 5, 5, 5, 5, 5, 7),  # 6 SEMI: a ";" inside a trigger
    (1, 7, 5, 5, 5, 5, 5, 5),  # 7 END: "; END" inside a trigger
)
_WORD_CLASSES = {"EXPLAIN": _EXPLAIN, "CREATE": _CREATE, "TEMP": _TEMP, "TEMPORARY": _TEMP,
                 "TRIGGER": _TRIGGER, "END": _END}


@dataclass(frozen=True)
class Statement:
    """One statement as written, from its first token to its ``;`` (or its last token when the
    text ends without one): no comment or blank line before it, none after it."""

    text: str
    line: int  # 1-based line of the statement's first character in the source text
    start: int = field(default=0, compare=False)  # offset of that character in the source text

    @property
    def end(self) -> int:
        """The offset just past the statement in the source text."""
        return self.start + len(self.text)

    @cached_property
    def tokens(self) -> tuple[Token, ...]:
        """The statement's tokens; offsets are in ``text``, lines are the source text's."""
        return tuple(tokenize(self.text, first_line=self.line))

    def shifted(self, lines: int) -> Statement:
        """The same statement, ``lines`` further down (for text cut from a longer file)."""
        return Statement(self.text, self.line + lines, self.start)

    @property
    def keyword(self) -> str:
        """The first word, upper-cased (``BEGIN``, ``PRAGMA``, ``CREATE`` ...); "" when the
        statement does not start with a word."""
        first = self.tokens[0] if self.tokens else None
        return first.text.upper() if first is not None and first.kind == WORD else ""


def pragma(statement: Statement) -> tuple[str | None, str | None]:
    """(name, value as written, or None when it only reads) of a ``PRAGMA`` statement;
    (None, None) for any other statement. ``PRAGMA main.foreign_keys = OFF`` ->
    ``("foreign_keys", "OFF")``; ``PRAGMA foreign_keys(0)`` -> ``("foreign_keys", "0")``."""
    tokens = statement.tokens
    if statement.keyword != "PRAGMA" or len(tokens) < 2 or tokens[1].name is None:
        return None, None
    name, i = tokens[1].name, 2
    qualified = tokens[i + 1].name if i + 1 < len(tokens) and tokens[i].is_op(".") else None
    if qualified is not None:  # schema.name
        name, i = qualified, i + 2
    rest = [t for t in tokens[i:] if not t.is_op(";")]
    if len(rest) >= 2 and rest[0].is_op("="):
        return name, statement.text[rest[1].start:rest[-1].end]
    if len(rest) >= 2 and rest[0].is_op("("):
        inner = list(itertools.takewhile(lambda t: not (t.is_op(")") and t.depth == rest[0].depth), rest[1:]))
        return name, statement.text[inner[0].start:inner[-1].end] if inner else ""
    return name, None


def split(sql: str) -> tuple[Statement, ...]:
    """Every statement in ``sql``, in order; empty statements (a lone ``;``) are dropped.

    Text after the last complete statement that is more than comments is returned as a
    final statement, so that running it reports SQLite's own error for it.
    """
    statements: list[Statement] = []
    state = 0
    first: Token | None = None
    last: Token | None = None
    for token in tokenize(sql):
        semicolon = token.kind == OP and token.text == ";"
        if first is None:
            if semicolon:
                continue
            first, state = token, 0
        state = _TRANSITIONS[state][_class_of(token, semicolon)]
        last = token
        if semicolon and state == _START:
            statements.append(_statement(sql, first, token))
            first = None
    if first is not None and last is not None:
        statements.append(_statement(sql, first, last))
    return tuple(statements)


def _class_of(token: Token, semicolon: bool) -> int:
    if semicolon:
        return _SEMI
    if token.kind == WORD:
        return _WORD_CLASSES.get(token.text.upper(), _OTHER)
    return _OTHER


def _statement(sql: str, first: Token, last: Token) -> Statement:
    return Statement(sql[first.start:last.end], first.line, first.start)
