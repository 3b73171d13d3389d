"""SQLite's tokens, each with its span (offsets and line) in the text it came from.

The rules are SQLite's own tokenizer's (``tokenize.c``), so a keyword inside a string, a
quoted identifier or a comment never matches, and every consumer of SQL text in the harness
(lint, schema reading, plans, data preservation, data generation, the statement splitter)
sees the same tokens:

* whitespace is SQLite's: space, tab, newline, vertical tab, form feed, carriage return (any
  other character, a non-breaking space or a byte-order mark included, is part of a word);
* ``-- comment`` runs to the end of the line (the newline is not part of it); ``/* comment */``
  runs to ``*/``, or to the end of the text when unclosed;
* ``'string'`` with ``''`` for a quote; ``"identifier"`` with ``""``, ```identifier``` with
  doubled backticks, ``[identifier]`` with no escape at all;
* ``x'0A1b'`` is a blob;
* a number is digits with an optional fraction and exponent (``1``, ``1.``, ``.5``, ``1e3``,
  ``1.5E-3``), or ``0x`` and hex digits; ``_`` between digits is a separator (SQLite 3.46);
  letters glued to a number belong to it (``12abc`` is one, malformed, token, as in SQLite);
* a word starts with a letter, ``_`` or any non-ASCII character and goes on with those,
  digits and ``$``;
* parameters: ``?`` and ``?NNN``, ``:name``, ``@name``, ``$name`` and ``#name`` (with
  Tcl-style ``::`` and a ``(...)`` suffix, which SQLite accepts);
* the operators ``->>`` ``->`` ``||`` ``<<`` ``>>`` ``<=`` ``>=`` ``<>`` ``!=`` ``==``; any other
  character is a one-character token of its own.

Nothing is rejected: text SQLite would refuse (an unterminated string, ``x'zz'``, ``12abc``)
still becomes tokens with the spans SQLite gives them, so that running it reports SQLite's
error and reading it never crashes or loops. Joining every token's text, trivia included,
gives back the input exactly.
"""

from __future__ import annotations

import re
from typing import Final, Iterator, NamedTuple

#: Token kinds.
WORD: Final = "word"  # a keyword or an unquoted identifier
IDENT: Final = "ident"  # a "quoted", `quoted` or [quoted] identifier
STRING: Final = "string"
BLOB: Final = "blob"
NUMBER: Final = "number"
PARAM: Final = "param"
OP: Final = "op"  # an operator or punctuation, or a character SQLite does not know
SPACE: Final = "space"  # trivia: only kept when asked for
COMMENT: Final = "comment"  # trivia: only kept when asked for
TRIVIA: Final = frozenset({SPACE, COMMENT})

_ID_CHAR = r"[A-Za-z0-9_$\u0080-\U0010ffff]"
_WORD = re.compile(r"[A-Za-z_\u0080-\U0010ffff]" + _ID_CHAR + "*")
_SPACE = r"[ \t\n\v\f\r]+"
_COMMENT = r"--[^\n]*|/\*(?:.*?\*/|.*)"
_SIGNIFICANT = (
    r"(?P<blob>[xX]'[^']*'?)"
    r"|(?P<string>'[^']*(?:''[^']*)*'?)"
    r'|(?P<ident>"[^"]*(?:""[^"]*)*"?|`[^`]*(?:``[^`]*)*`?|\[[^\]]*\]?)'
    r"|(?P<number>(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)(?:[eE][+-]?[0-9][0-9_]*)?" + _ID_CHAR + "*)"
    r"|(?P<word>" + _WORD.pattern + ")"
    r"|(?P<param>\?[0-9]*|[:@$#](?:::)*" + _ID_CHAR + r"(?:" + _ID_CHAR + r"|::)*(?:\([^ \t\n\v\f\r)]*\)?)?)"
    r"|(?P<op>->>|->|\|\||<<|>>|<=|>=|<>|!=|==|.)"
)
#: Every token, trivia included.
_ALL = re.compile(rf"(?P<space>{_SPACE})|(?P<comment>{_COMMENT})|{_SIGNIFICANT}", re.DOTALL)
#: One significant token with the trivia before it (or the trivia at the end): half as many
#: matches when trivia is dropped. Possessive, so trivia is never read twice.
_AFTER_TRIVIA = re.compile(rf"(?:{_SPACE}|{_COMMENT})*+(?:{_SIGNIFICANT}|\Z)", re.DOTALL)
#: Well-formed numbers: ``_`` only between two digits.
_DIGITS = r"[0-9]+(?:_[0-9]+)*"
_DECIMAL = re.compile(rf"(?:{_DIGITS}(?:\.(?:{_DIGITS})?)?|\.{_DIGITS})(?:[eE][+-]?{_DIGITS})?")
_HEX = re.compile(r"0[xX][0-9a-fA-F]+(?:_[0-9a-fA-F]+)*")
_CLOSERS = {"'": "'", '"': '"', "`": "`", "[": "]"}
_INT64 = 1 << 63


class Token(NamedTuple):
    """One token: what it is, its text as written, and where it is (a tuple: cheap to make)."""

    kind: str  # one of the kinds above
    text: str  # exactly as written
    start: int  # offset of its first character in the text given to ``tokenize``
    end: int  # offset just past it
    line: int  # 1-based line of its first character
    depth: int  # parenthesis depth; "(" and ")" carry the depth outside them

    @property
    def word(self) -> str | None:
        """The upper-cased keyword, for an unquoted word; None for anything else."""
        return self.text.upper() if self.kind == WORD else None

    @property
    def terminated(self) -> bool:
        """False for a string, quoted identifier, blob or block comment left open at the end."""
        if self.kind in (STRING, IDENT):
            closer = _CLOSERS[self.text[0]]
            return len(self.text) >= 2 and self.text.endswith(closer) and (
                closer == "]" or _doubled_quotes_close(self.text, closer))
        if self.kind == BLOB:
            return len(self.text) >= 3 and self.text.endswith("'")
        if self.kind == COMMENT and self.text.startswith("/*"):
            return len(self.text) >= 4 and self.text.endswith("*/")
        return True

    @property
    def unquoted(self) -> str | None:
        """The name or string this token spells, quotes removed and doubled quotes undone,
        case kept: for a word, a quoted identifier or a string (which SQLite also accepts as a
        name in many places); None for anything else."""
        if self.kind == WORD:
            return self.text
        if self.kind not in (IDENT, STRING):
            return None
        opener, text = self.text[0], self.text
        closer = _CLOSERS[opener]
        body = text[1:-1] if self.terminated else text[1:]
        return body if opener == "[" else body.replace(closer * 2, closer)

    @property
    def name(self) -> str | None:
        """``unquoted``, lower-cased: the key under which SQLite compares names."""
        unquoted = self.unquoted
        return unquoted.lower() if unquoted is not None else None

    @property
    def value(self) -> str | bytes | int | float | None:
        """The literal's value as SQLite reads it: str for a string, bytes for a blob, int or
        float for a number (a decimal integer too big for 64 bits is a float; a hex literal is
        a 64-bit two's-complement integer); None for a malformed literal or anything else."""
        if self.kind == STRING:
            return self.unquoted
        if self.kind == BLOB:
            digits = self.text[2:-1]
            if not self.terminated or len(digits) % 2:
                return None
            try:
                return bytes.fromhex(digits)
            except ValueError:
                return None
        if self.kind == NUMBER:
            return _number(self.text)
        return None

    def is_op(self, text: str) -> bool:
        return self.kind == OP and self.text == text


def tokenize(sql: str, *, trivia: bool = False, first_line: int = 1) -> list[Token]:
    """The tokens of ``sql`` in order; whitespace and comments only when ``trivia``.

    ``first_line`` is the line ``sql`` starts on in its file (for a statement cut from one).
    """
    return list(scan(sql, trivia=trivia, first_line=first_line))


def scan(sql: str, *, trivia: bool = False, first_line: int = 1) -> Iterator[Token]:
    """``tokenize``, one token at a time: for a reader that needs only the first few (the
    leading keyword of a statement that may carry megabytes of literals)."""
    depth = 0
    line = first_line
    counted = 0  # newlines are counted up to this offset
    for match in (_ALL if trivia else _AFTER_TRIVIA).finditer(sql):
        kind = match.lastgroup
        if kind is None:
            continue  # trailing trivia
        start, end = match.span(kind)
        line += sql.count("\n", counted, start)
        counted = start
        text = match.group(kind)
        if kind == OP:
            if text == "(":
                yield Token(kind, text, start, end, line, depth)
                depth += 1
                continue
            if text == ")":
                depth = max(depth - 1, 0)
        yield Token(kind, text, start, end, line, depth)


def is_plain_word(text: str) -> bool:
    """Whether ``text`` reads back as one unquoted word (it may still be a keyword)."""
    return _WORD.fullmatch(text) is not None


def _doubled_quotes_close(text: str, quote: str) -> bool:
    """Whether the quote at the end of ``text`` closes it rather than being half of a ``''``."""
    run = len(text) - len(text.rstrip(quote))  # trailing quotes, the opener excluded below
    if run == len(text):
        run -= 1  # every character is a quote: the first one opens
    return run % 2 == 1


def _number(text: str) -> int | float | None:
    if text[:2] in ("0x", "0X"):
        if not _HEX.fullmatch(text):
            return None
        digits = text[2:].replace("_", "").lstrip("0")
        if len(digits) > 16:
            return None  # SQLite: "hex literal too big"
        value = int(digits or "0", 16)
        return value - (1 << 64) if value >= _INT64 else value
    if not _DECIMAL.fullmatch(text):
        return None
    plain = text.replace("_", "")
    if plain.isdigit():
        value = int(plain)
        return value if value < _INT64 else float(plain)
    return float(plain)
