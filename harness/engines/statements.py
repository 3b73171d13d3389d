"""Split SQL text into single statements, each with the line it starts on.

The sqlfiles runner executes one statement at a time so that a failure can be reported
with its line, and so that transaction-control statements can be recognised. Statement
boundaries come from ``sqlite3.complete_statement``, SQLite's own tokenizer, which knows
about strings, quoted identifiers, comments and a trigger's ``BEGIN ... END``; a ``;``
inside any of those does not end a statement.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass


@dataclass(frozen=True)
class Statement:
    """One statement, without the comments and blank lines before it."""

    text: str
    line: int  # 1-based line of the statement's first character in the source text

    @property
    def keyword(self) -> str:
        """The first word, upper-cased (``BEGIN``, ``PRAGMA``, ``CREATE`` ...)."""
        head = (self.text.split(None, 1) or [""])[0]
        return "".join(ch for ch in head if ch.isalpha()).upper()


def split(sql: str) -> tuple[Statement, ...]:
    """Every statement in ``sql``, in order; empty statements (a lone ``;``) are dropped.

    Text after the last complete statement that is more than comments is returned as a
    final statement, so that running it reports SQLite's own error for it.
    """
    statements: list[Statement] = []
    start = _skip_trivia(sql, 0)
    search = start
    while start < len(sql):
        semicolon = sql.find(";", search)
        if semicolon == -1:
            statements.append(Statement(sql[start:].rstrip(), _line_of(sql, start)))
            break
        candidate = sql[start:semicolon + 1]
        if not sqlite3.complete_statement(candidate):
            search = semicolon + 1  # the ';' is inside a string, comment or trigger body
            continue
        if candidate != ";":
            statements.append(Statement(candidate, _line_of(sql, start)))
        start = _skip_trivia(sql, semicolon + 1)
        search = start
    return tuple(statements)


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _skip_trivia(text: str, pos: int) -> int:
    """The offset of the first character at or after ``pos`` that is not whitespace or comment."""
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
        elif text.startswith("--", pos):
            newline = text.find("\n", pos)
            pos = len(text) if newline == -1 else newline + 1
        elif text.startswith("/*", pos):
            close = text.find("*/", pos + 2)
            pos = len(text) if close == -1 else close + 2
        else:
            break
    return pos
