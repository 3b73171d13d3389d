"""Naming the migration that did it: the root-cause key of a matrix failure.

An upgrade that fails is located by the engine's own words when they name a migration file
(``0021_notes.sql line 4: NOT NULL constraint failed: …``), else by applying the pending
migrations one at a time on a copy until one fails. The mechanism is the error without its
location, so the same bug on twenty fixtures is one key.

A schema difference or a data loss is located by applying the pending migrations one at a
time (each a separate engine call, as ``path-equivalent`` does) and comparing after each:
the first migration after which the copy differs is the one named, and within it the
statement that removes the rows (or names the object): a cascade that empties a child table
when its parent is rebuilt is ``rows of X deleted by `DROP TABLE Y` (ON DELETE CASCADE from
X.y_id, foreign_keys on)`` at that file and line (the file's line: a goose or dbmate up
section starts below its marker, ``Migration.first_line``).
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path, PurePosixPath
from typing import Callable, Sequence

from harness.checks.context import CaseContext
from harness.checks.verdict import Cause
from harness.engines.protocol import CODE_UNSPECIFIED, Migration, Outcome
from harness.sql import Statement, Token, split
from harness.sqlite import schema
from harness.sqlite.schema import Schema

GENERIC_CODES = frozenset({CODE_UNSPECIFIED, "migration_failed"})  # say nothing the message does not


def migration_label(migration: Migration) -> str:
    """How a report names a migration: its file when the engine has one, else version_name."""
    return migration.source or f"{migration.version}_{migration.name}"


def _basename(migration: Migration) -> str | None:
    return PurePosixPath(migration.source).name if migration.source else None


def _located(message: str, migrations: tuple[Migration, ...]) -> tuple[Migration, int | None, str] | None:
    """The migration a failure message names, the line it gives and the message after them."""
    for migration in migrations:
        name = _basename(migration)
        if not name or name not in message:
            continue
        found = re.search(re.escape(name) + r"(?: line (\d+))?:\s*", message)
        if found is None:
            continue
        rest = message[found.end():].strip() or message
        return migration, int(found.group(1)) if found.group(1) else None, rest
    return None


def _mechanism(outcome: Outcome, text: str, workdir: Path) -> str:
    text = text.replace(str(workdir), "").strip()
    code = outcome.error_code
    return f"upgrade fails ({code}): {text}" if code and code not in GENERIC_CODES else f"upgrade fails: {text}"


def upgrade_cause(ctx: CaseContext, copy: Path, start: int, failure: Outcome) -> Cause:
    """The cause of ``failure`` (an upgrade of the case's start to head): which migration, at
    which line, failing how. ``copy`` is a fresh copy of the start to step on if need be."""
    migrations = ctx.migrations()
    pending = tuple(m for m in migrations if m.version > start)
    named = _located(failure.message, pending) or _located(failure.message, migrations)
    if named:
        migration, line, rest = named
        return Cause(_mechanism(failure, rest, ctx.workdir), migration_label(migration), line)
    for migration in pending:
        step = ctx.engine.migrate(copy, migration.version)
        if not step.ok:
            return step_cause(ctx, migration, step)
    return Cause(_mechanism(failure, failure.message or failure.describe(), ctx.workdir)
                 + " (one run fails; one migration at a time does not)")


def step_cause(ctx: CaseContext, migration: Migration, step: Outcome, prefix: str = "") -> Cause:
    """The cause of ``migration`` failing when applied on its own (``migrate(db, version)``)."""
    named = _located(step.message, (migration,))
    line, rest = (named[1], named[2]) if named else (None, step.message or step.describe())
    return Cause(prefix + _mechanism(step, rest, ctx.workdir), migration_label(migration), line)


# --- the first migration after which the upgraded copy differs -----------------------------------

_TABLE_OF_PROBLEM = re.compile(r"^table ([^\s:]+)")
SHOWN_STATEMENT = 60  # characters of a statement quoted in a cause


def tables_of(problems: Sequence[str]) -> list[str]:
    """The legacy tables data-preservation problems name (``table X: …``), in order."""
    found = (_TABLE_OF_PROBLEM.match(p) for p in problems)
    return list(dict.fromkeys(m.group(1).lower() for m in found if m))


def first_divergence(ctx: CaseContext, copy: Path, start: int,
                     differs: Callable[[Path, Migration], bool]) -> tuple[Migration, Schema] | None:
    """Apply the pending migrations to ``copy`` one at a time; the first after which
    ``differs(copy, migration)`` holds, with the schema just before it (None: none, or a step failed)."""
    for migration in (m for m in ctx.migrations() if m.version > start):
        before = schema.read_file(copy) if copy.exists() else None
        if not ctx.engine.migrate(copy, migration.version).ok:
            return None
        if differs(copy, migration):
            return migration, before if before is not None else _empty_schema()
    return None


def _empty_schema() -> Schema:
    conn = sqlite3.connect(":memory:")
    try:
        return schema.read(conn)
    finally:
        conn.close()


def _names(statement: Statement) -> Sequence[Token]:
    return statement.tokens


def _statements(migration: Migration) -> tuple[Statement, ...]:
    """The migration's statements, with their lines in its file (a section may start lower)."""
    return tuple(s.shifted(migration.first_line - 1) for s in split(migration.sql or ""))


def _shown(statement: Statement) -> str:
    text = " ".join(statement.text.rstrip().rstrip(";").split())
    return text if len(text) <= SHOWN_STATEMENT else text[:SHOWN_STATEMENT - 1] + "…"


def _written_table(tokens: Sequence[Token]) -> tuple[str, str] | None:
    """(verb, table) of a statement that removes or replaces rows of one table: DROP TABLE,
    DELETE FROM, REPLACE INTO, INSERT OR REPLACE INTO (a replaced row is deleted first)."""
    words = [t.word for t in tokens[:4]]
    if words[:2] == ["DROP", "TABLE"]:
        verb, i = "DROP TABLE", 2
        if [t.word for t in tokens[2:4]] == ["IF", "EXISTS"]:
            i = 4
    elif words[:2] == ["DELETE", "FROM"]:
        verb, i = "DELETE", 2
    elif words[:2] == ["REPLACE", "INTO"]:
        verb, i = "REPLACE", 2
    elif words[:4] == ["INSERT", "OR", "REPLACE", "INTO"]:
        verb, i = "REPLACE", 4
    else:
        return None
    if i + 2 < len(tokens) and tokens[i + 1].is_op("."):
        i += 2  # schema-qualified: main.t
    name = tokens[i].name if i < len(tokens) else None
    return (verb, name) if name else None


def _copies_from(tokens: Sequence[Token], table: str) -> bool:
    """An ``INSERT … SELECT … FROM table`` (a rebuild copying the table's rows elsewhere)."""
    if not tokens or tokens[0].word not in ("INSERT", "REPLACE"):
        return False
    return any(t.word == "FROM" and i + 1 < len(tokens) and tokens[i + 1].name == table
               for i, t in enumerate(tokens))


def loss_cause(migration: Migration, table: str, before: Schema) -> Cause:
    """Which statement of ``migration`` took rows of ``table``: one that deletes them, or one
    that deletes rows of a parent they reference ON DELETE CASCADE / SET NULL."""
    label = migration_label(migration)
    by_name = {name.lower(): t for name, t in before.tables.items()}
    child = by_name.get(table.lower())
    actions = {}
    for fk in child.foreign_keys if child else ():
        if fk.on_delete in ("CASCADE", "SET NULL", "SET DEFAULT"):
            actions.setdefault(fk.table.lower(), fk)
    copy: Statement | None = None  # a rebuild's INSERT … SELECT … FROM table, before the table is dropped
    for statement in _statements(migration):
        tokens = _names(statement)
        if copy is None and _copies_from(tokens, table.lower()):
            copy = statement
        written = _written_table(tokens)
        if written is None:
            continue
        verb, name = written
        if name == table.lower() and verb != "REPLACE":
            if copy is not None and verb == "DROP TABLE":
                return Cause(f"rows of {table} not carried over by `{_shown(copy)}` before `{_shown(statement)}`",
                             label, copy.line)
            return Cause(f"rows of {table} deleted by `{_shown(statement)}`", label, statement.line)
        fk = actions.get(name)
        if fk is not None:
            what = "deleted" if fk.on_delete == "CASCADE" else "orphaned and changed"
            columns = ", ".join(f"{table}.{c}" for c in fk.columns)
            return Cause(f"rows of {table} {what} by `{_shown(statement)}` (ON DELETE {fk.on_delete} from "
                         f"{columns}, foreign_keys on)", label, statement.line)
    return Cause(f"rows of {table} lost", label, None)


def schema_line(migration: Migration, difference: str) -> int | None:
    """The line of the first statement of ``migration`` that names the object (and column) a
    schema difference is about (``table notes: column x …``)."""
    head = difference.split(":", 1)[0].split()
    name = head[-1].lower() if head else ""
    column = re.search(r"column (\S+)", difference)
    best = None
    for statement in _statements(migration):
        names = {t.name for t in _names(statement)}
        if name in names:
            if column is None or column.group(1).lower() in names:
                return statement.line
            best = best or statement.line
    return best
