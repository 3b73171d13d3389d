"""In-file markers and transaction rules: what decides whether a migration file runs inside a
transaction, in one place for the formats (which run the files) and lint (which judges them).

Markers tell one framework's files from another's and opt a file out of its wrapping
transaction: goose's ``-- +goose NO TRANSACTION``, dbmate's ``-- migrate:up
transaction:false``, sqlx's ``-- no-transaction`` first line. The rules are SQLite's: which
statements begin or end a transaction (``BEGIN``/``COMMIT``/``END``/``ROLLBACK``, but not
``ROLLBACK TO``), which cannot run inside one (``VACUUM``, ``ATTACH``, ``DETACH``), and which
PRAGMAs are ignored or refused there (``CONNECTION_PRAGMAS``). Statements are read with the
one lexer (``harness.sql``), so a keyword in a comment or a string never counts.
"""

from __future__ import annotations

import re
from typing import Sequence

from harness.sql import Statement, pragma

#: sqlx: the file's text starts with ``-- no-transaction`` (sqlx's ``starts_with``).
SQLX_NO_TX = "-- no-transaction"
#: The reference engine's convention: a first line by which its runner is told to switch
#: foreign keys off before the file's transaction (a PRAGMA foreign_keys inside is then moot).
REFERENCE_FOREIGN_KEYS_OFF = "-- reference: foreign_keys=off"

#: Statements that begin or end a transaction (``ROLLBACK TO`` excepted: it ends none).
TRANSACTION_CONTROL = frozenset({"BEGIN", "COMMIT", "END", "ROLLBACK"})
#: Statements SQLite refuses inside a transaction.
NOT_IN_TRANSACTION = frozenset({"VACUUM", "ATTACH", "DETACH"})
#: PRAGMAs whose assignment is ignored (foreign_keys) or refused inside a transaction.
#: Verified on SQLite 3.40: foreign_keys stays unchanged; journal_mode to or from WAL fails
#: ("cannot change into wal mode from within a transaction") and other changes are ignored
#: once the transaction has written; synchronous fails ("Safety level may not be changed
#: inside a transaction").
CONNECTION_PRAGMAS = frozenset({"foreign_keys", "journal_mode", "synchronous"})


def _goose(annotation: str) -> re.Pattern[str]:
    """``-- +goose <annotation>`` on a line of its own: goose matches annotations
    case-insensitively and refuses indented ones."""
    return re.compile(r"(?im)^--\s*\+goose\s+" + r"\s+".join(annotation.split()) + r"\s*$")


def _dbmate(direction: str) -> re.Pattern[str]:
    """``-- migrate:<direction>`` optionally followed by options (dbmate's own ``upRegExp``)."""
    return re.compile(rf"(?m)^--\s*migrate:{direction}(\s*$|\s+\S+)")


GOOSE_UP = _goose("Up")
GOOSE_DOWN = _goose("Down")
GOOSE_NO_TX = _goose("NO TRANSACTION")  # the file runs outside a transaction
DBMATE_UP = _dbmate("up")
DBMATE_DOWN = _dbmate("down")
_DBMATE_DIRECTIVE = re.compile(r"^--\s*migrate:(up|down)")


# -- markers ----------------------------------------------------------------------------------


def goose_up(text: str) -> bool:
    return GOOSE_UP.search(text.removeprefix("\ufeff")) is not None


def dbmate_up(text: str) -> bool:
    return DBMATE_UP.search(text.removeprefix("\ufeff")) is not None


def sqlx_no_tx(text: str) -> bool:
    """As sqlx tests it: on the text as read, so a byte-order mark hides the marker."""
    return text.startswith(SQLX_NO_TX)


def any_framework_marker(text: str) -> bool:
    """Whether ``text`` carries a marker that only one framework's runner understands."""
    return goose_up(text) or dbmate_up(text) or sqlx_no_tx(text)


def dbmate_options(block: str) -> dict[str, str]:
    """``-- migrate:up transaction:false`` -> ``{"transaction": "false"}`` (dbmate's parser)."""
    head = _DBMATE_DIRECTIVE.sub("", block.split("\n", 1)[0]).strip()
    options = {}
    for pair in head.split():
        parts = pair.split(":")
        if len(parts) == 2:
            options[parts[0]] = parts[1]
    return options


def opts_out_of_transaction(text: str) -> bool:
    """Whether a marker in ``text`` says its runner must not wrap it in a transaction: sqlx's
    first line, goose's annotation, or dbmate's up-marker option. For text whose format is not
    known (a Python engine's migrations); a format that read the file says it itself
    (``MigrationFile.transaction``)."""
    if sqlx_no_tx(text):
        return True
    text = text.removeprefix("\ufeff")
    if GOOSE_NO_TX.search(text):
        return True
    up = DBMATE_UP.search(text)
    return up is not None and dbmate_options(text[up.start():]).get("transaction") == "false"


def foreign_keys_off_first(text: str) -> bool:
    """Whether ``text`` starts (after blank lines) with the reference engine's
    ``-- reference: foreign_keys=off`` line."""
    return text.lstrip().split("\n", 1)[0].strip().lower() == REFERENCE_FOREIGN_KEYS_OFF


def up_section(text: str, statements: Sequence[Statement]) -> list[Statement]:
    """The statements of the up section of a goose or dbmate file (from the up marker to the
    down marker); all of any other file."""
    text = text.removeprefix("\ufeff")
    up = GOOSE_UP.search(text) or DBMATE_UP.search(text)
    down = GOOSE_DOWN.search(text) or DBMATE_DOWN.search(text)
    if up is None and down is None:
        return list(statements)
    low = text.count("\n", 0, up.start()) + 1 if up else 0
    high = text.count("\n", 0, down.start()) + 1 if down else None
    if high is not None and high <= low:
        high = None
    return [s for s in statements if low < s.line and (high is None or s.line < high)]


# -- statements -------------------------------------------------------------------------------


def is_rollback_to(statement: Statement) -> bool:
    """``ROLLBACK [TRANSACTION] TO [SAVEPOINT] x``: undoes to a savepoint, ends no transaction."""
    words = [t.word for t in statement.tokens[:3]] + [None] * 3
    return words[0] == "ROLLBACK" and words[2 if words[1] == "TRANSACTION" else 1] == "TO"


def ends_or_begins_transaction(statement: Statement) -> bool:
    return statement.keyword in TRANSACTION_CONTROL and not is_rollback_to(statement)


def pragma_name(statement: Statement) -> str | None:
    """``foreign_keys`` for ``PRAGMA main.foreign_keys = OFF``; None for any other statement."""
    return pragma(statement)[0]


def controls_transactions(statements: Sequence[Statement]) -> bool:
    """Whether the text begins or ends transactions of its own (``BEGIN`` ... ``COMMIT``)."""
    return any(ends_or_begins_transaction(s) for s in statements)


def cannot_be_wrapped(statements: Sequence[Statement]) -> bool:
    """Whether the text manages its own transactions, or runs a statement that does nothing or
    fails inside one (``PRAGMA foreign_keys``, ``VACUUM`` ...). Only the plain format (the
    harness's own runner) decides from this; the frameworks wrap what they wrap."""
    return any(ends_or_begins_transaction(s) or s.keyword in NOT_IN_TRANSACTION
               or pragma_name(s) in CONNECTION_PRAGMAS for s in statements)


__all__ = [
    "CONNECTION_PRAGMAS", "DBMATE_DOWN", "DBMATE_UP", "GOOSE_DOWN", "GOOSE_NO_TX", "GOOSE_UP",
    "NOT_IN_TRANSACTION", "REFERENCE_FOREIGN_KEYS_OFF", "SQLX_NO_TX", "TRANSACTION_CONTROL",
    "any_framework_marker", "cannot_be_wrapped", "controls_transactions", "dbmate_options", "dbmate_up",
    "ends_or_begins_transaction", "foreign_keys_off_first", "goose_up", "is_rollback_to", "opts_out_of_transaction",
    "pragma_name", "sqlx_no_tx", "up_section",
]
