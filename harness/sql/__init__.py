"""SQL text as SQLite reads it: the one lexer and statement splitter of the harness.

``tokenize`` (or ``scan``, lazily) gives SQLite's tokens with their spans (offsets, line,
parenthesis depth) and their values (``Token.name``, ``Token.unquoted``, ``Token.value``);
``split`` cuts text into ``Statement``s the way ``sqlite3_complete`` does, trigger bodies
kept whole, each with its line and its tokens; ``pragma`` reads a PRAGMA's name and value.
Lint, schema reading, plan aliases, index checks, data preservation, commit counting and the
migration formats read SQL through these, so they agree on what a string, a name, a number
or a comment is.
"""

from harness.sql.keywords import KEYWORDS, is_keyword
from harness.sql.statements import Statement, pragma, split
from harness.sql.tokens import (
    BLOB, COMMENT, IDENT, NUMBER, OP, PARAM, SPACE, STRING, TRIVIA, WORD, Token, is_plain_word, scan, tokenize,
)

__all__ = [
    "BLOB", "COMMENT", "IDENT", "KEYWORDS", "NUMBER", "OP", "PARAM", "SPACE", "STRING", "TRIVIA", "WORD",
    "Statement", "Token", "is_keyword", "is_plain_word", "pragma", "scan", "split", "tokenize",
]
