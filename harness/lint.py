"""Lint migrations for SQLite-specific hazards, from their SQL text alone.

Each rule names a mistake that passes every test on a developer's machine and breaks on
users' databases: a ``PRAGMA foreign_keys`` that is silently ignored because a transaction
is open, a ``NOT NULL`` column SQLite refuses to add to a table that has rows, syntax the
oldest supported system SQLite does not know... (see ``RULES``).

The SQL is cut into statements and tokens by ``harness.sql`` (so line numbers are the
statements' first lines in the file): strings, quoted identifiers, blobs and comments are
single tokens or dropped, so a keyword inside a literal or a comment never matches. The only
database used is an in-memory one, to let SQLite itself say whether an ``ADD COLUMN`` is
refused on a table with rows.

Transactions: a migration read by a format (the sqlfiles adapter) says itself whether its
framework runs it in a transaction (``Migration.transaction``). For any other, ``wrapped=True``
means the runner runs each migration inside one transaction (the reference engine does), and
the markers of ``harness.engines.formats.markers`` opt a file out: ``-- no-transaction``
(sqlx, first line), ``-- +goose NO TRANSACTION``, or dbmate's ``-- migrate:up
transaction:false``. Either way a file that manages its own transactions
(``BEGIN``/``COMMIT``/``END``/``ROLLBACK``) runs unwrapped, and statements between its own
``BEGIN`` (or outermost ``SAVEPOINT``) and its ``COMMIT`` are in a transaction. The reference
engine's ``-- reference: foreign_keys=off`` first line keeps the wrapping transaction but
switches foreign keys off before it, so a ``PRAGMA foreign_keys`` inside such a file is
harmless. Line numbers are the file's (``Migration.first_line``: a goose or dbmate up section
starts below its marker).

For goose and dbmate files only the up section (``-- +goose Up`` / ``-- migrate:up`` up to
the down marker) is linted.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping, Sequence

from harness.engines.formats import history_tables, markers
from harness.engines.protocol import Migration
from harness.sql import OP, Statement, Token, pragma, split

ERROR = "error"
WARN = "warn"

PRAGMA_IN_TRANSACTION = "pragma-in-transaction"
REBUILD_WITHOUT_FK_CHECK = "rebuild-without-fk-check"
DROP_COLUMN_VERSION = "drop-column-version"
VACUUM_IN_TRANSACTION = "vacuum-in-transaction"
NOT_NULL_WITHOUT_DEFAULT = "not-null-without-default"
SCHEMA_HISTORY_TOUCH = "schema-history-touch"

#: Rule id -> one-line description (``harness list --checks``, the README).
RULES: Mapping[str, str] = MappingProxyType({
    PRAGMA_IN_TRANSACTION:
        "PRAGMA foreign_keys / journal_mode / synchronous set while a transaction is open: "
        "foreign_keys is silently ignored, journal_mode (WAL) and synchronous are refused",
    REBUILD_WITHOUT_FK_CHECK:
        "a table rebuild (drop + rename) with no PRAGMA foreign_key_check after it, "
        "neither in the migration nor by its runner",
    DROP_COLUMN_VERSION:
        "SQL newer than the oldest supported SQLite (min_sqlite): DROP/RENAME COLUMN, RETURNING, "
        "STRICT, ->/->>, UPSERT, UPDATE FROM, iif(), unixepoch(), window functions...",
    VACUUM_IN_TRANSACTION:
        "VACUUM while a transaction is open: SQLite refuses it and the migration fails",
    NOT_NULL_WITHOUT_DEFAULT:
        "ADD COLUMN that SQLite refuses on a table with rows (NOT NULL without a non-NULL "
        "default, or a non-constant default): passes a fresh install, fails every upgrade",
    SCHEMA_HISTORY_TOUCH:
        "a migration writes to a migration framework's history table (any table a known format "
        "keeps its history in: schema_migrations, _sqlx_migrations ...)",
})

SEVERITIES: Mapping[str, str] = MappingProxyType({
    PRAGMA_IN_TRANSACTION: ERROR,
    REBUILD_WITHOUT_FK_CHECK: WARN,
    DROP_COLUMN_VERSION: ERROR,
    VACUUM_IN_TRANSACTION: ERROR,
    NOT_NULL_WITHOUT_DEFAULT: ERROR,
    SCHEMA_HISTORY_TOUCH: WARN,
})

HISTORY_TABLES = history_tables()  # the formats' registry owns the list

Version = tuple[int, int, int]

#: Built-in functions newer than some still-shipped system SQLites.
_FUNCTIONS: Mapping[str, Version] = MappingProxyType({
    "IIF": (3, 32, 0),
    "UNIXEPOCH": (3, 38, 0),
})


@dataclass(frozen=True)
class Finding:
    rule: str  # a key of RULES
    severity: str  # "error" | "warn"
    migration: str  # "0007_fk_constraints"
    source: str | None  # the migration's file, for annotations
    line: int  # 1-based line of the statement's first character in that file
    message: str  # one line: what and why
    runbook: str  # "lint-<rule>"


def lint(
    migrations: Sequence[Migration],
    *,
    min_sqlite: str = "3.31.0",
    wrapped: bool = True,
    runner_checks_fks: bool = False,
) -> list[Finding]:
    """Every hazard in ``migrations``, in migration order, then line order.

    ``min_sqlite`` is the oldest SQLite the application runs on; ``wrapped`` whether its
    runner wraps each migration in a transaction; ``runner_checks_fks`` whether the runner
    runs ``PRAGMA foreign_key_check`` after each migration (the reference engine does).
    Migrations without SQL text (command engines) are skipped.
    """
    floor = parse_version(min_sqlite)
    findings: list[Finding] = []
    for migration in migrations:
        if migration.sql is None:
            continue
        findings += _MigrationLint(migration, floor, min_sqlite, wrapped, runner_checks_fks).run()
    return findings


def parse_version(text: str) -> Version:
    """``"3.31"`` -> ``(3, 31, 0)``."""
    parts = text.strip().split(".")
    if not 1 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"not a SQLite version: {text!r} (expected e.g. 3.31.0)")
    numbers = [int(p) for p in parts] + [0] * (3 - len(parts))
    return numbers[0], numbers[1], numbers[2]


def _show(version: Version) -> str:
    return ".".join(str(n) for n in version)


# --- tokens --------------------------------------------------------------------------------


class _Tokens:
    """One statement's tokens, with the look-ups the rules need."""

    def __init__(self, statement: Statement) -> None:
        self.statement = statement
        self.text = statement.text
        self.tokens: tuple[Token, ...] = statement.tokens

    def __len__(self) -> int:
        return len(self.tokens)

    def word(self, i: int) -> str | None:
        return self.tokens[i].word if 0 <= i < len(self.tokens) else None

    def op(self, i: int, text: str) -> bool:
        return 0 <= i < len(self.tokens) and self.tokens[i].is_op(text)

    def matching(self, i: int) -> int:
        """The index of the ``)`` closing the ``(`` at ``i`` (the last token if unclosed)."""
        depth = self.tokens[i].depth
        for j in range(i + 1, len(self.tokens)):
            if self.tokens[j].is_op(")") and self.tokens[j].depth == depth:
                return j
        return len(self.tokens) - 1

    def qualified_name(self, i: int) -> tuple[str | None, int]:
        """``name`` or ``schema.name`` at ``i``: (the name, the index after it)."""
        if i >= len(self.tokens) or self.tokens[i].name is None:
            return None, i
        if self.op(i + 1, ".") and i + 2 < len(self.tokens) and self.tokens[i + 2].name is not None:
            return self.tokens[i + 2].name, i + 3
        return self.tokens[i].name, i + 1

    def slice_text(self, first: int, last: int) -> str:
        return self.text[self.tokens[first].start:self.tokens[last].end]

    def starts_statement(self, i: int) -> bool:
        """Whether the word at ``i`` begins a (sub-)statement: the first token, after ``;``
        or a trigger's ``BEGIN``, or after the ``)`` that ends a ``WITH`` clause."""
        if i == 0:
            return True
        before = self.tokens[i - 1]
        return before.is_op(";") or before.is_op(")") or before.word == "BEGIN"

    def table_after(self, i: int) -> tuple[str | None, int]:
        """The table named after ``TABLE`` at ``i``, skipping ``IF [NOT] EXISTS``."""
        j = i + 1
        if self.word(j) == "IF":
            j += 3 if self.word(j + 1) == "NOT" else 2
        return self.qualified_name(j)

    def create_table(self) -> tuple[str | None, int]:
        """For ``CREATE [TEMP] TABLE``: (name, index after it); else (None, -1)."""
        if self.word(0) != "CREATE":
            return None, -1
        j = 1
        if self.word(j) in ("TEMP", "TEMPORARY"):
            j += 1
        if self.word(j) != "TABLE":
            return None, -1
        return self.table_after(j)

    def alter_table(self) -> tuple[str | None, int]:
        """For ``ALTER TABLE``: (name, index of the action word); else (None, -1)."""
        if self.word(0) != "ALTER" or self.word(1) != "TABLE":
            return None, -1
        return self.qualified_name(2)


# --- per-migration analysis --------------------------------------------------------------


@dataclass(frozen=True)
class _Rebuild:
    table: str
    line: int  # where the rebuild starts to destroy the old table (DROP, or the first RENAME)
    done: int  # index of the statement that completes it
    pattern: str


class _MigrationLint:
    def __init__(self, migration: Migration, floor: Version, floor_text: str, wrapped: bool,
                 runner_checks_fks: bool) -> None:
        self.migration = migration
        self.floor = floor
        self.floor_text = floor_text
        self.runner_checks_fks = runner_checks_fks
        sql = migration.sql or ""
        statements = [s.shifted(migration.first_line - 1)
                      for s in markers.up_section(sql, split(sql))]
        self.statements = [_Tokens(s) for s in statements]
        self.fks_off_by_runner = markers.foreign_keys_off_first(sql)
        if migration.transaction is not None:  # the format that read the file knows
            wrapped = migration.transaction
        else:
            wrapped = wrapped and not markers.opts_out_of_transaction(sql)
        self.wrapped = wrapped and not markers.controls_transactions(statements)
        self.findings: list[Finding] = []

    def run(self) -> list[Finding]:
        self._transactions()
        self._rebuilds()
        for stmt in self.statements:
            self._versions(stmt)
            self._add_column(stmt)
            self._history_writes(stmt)
        order = list(RULES)
        unique = {(f.line, order.index(f.rule), f.message): f for f in self.findings}
        return [unique[key] for key in sorted(unique)]

    def _add(self, rule: str, line: int, message: str) -> None:
        m = self.migration
        self.findings.append(Finding(
            rule=rule, severity=SEVERITIES[rule], migration=f"{m.version:04d}_{m.name}",
            source=m.source, line=line, message=message, runbook=f"lint-{rule}",
        ))

    # rules 1 and 4: statements that must not run inside a transaction

    def _transactions(self) -> None:
        in_transaction = self.wrapped
        opened_at: int | None = None  # line of the file's own BEGIN / outermost SAVEPOINT
        savepoints: list[str] = []
        by_savepoint = False  # the open transaction was begun by a SAVEPOINT: RELEASE ends it
        for index, stmt in enumerate(self.statements):
            keyword = stmt.word(0)
            if keyword == "BEGIN":
                in_transaction, opened_at, savepoints, by_savepoint = True, stmt.statement.line, [], False
            elif keyword in ("COMMIT", "END") or (keyword == "ROLLBACK" and not markers.is_rollback_to(stmt.statement)):
                in_transaction, opened_at, savepoints, by_savepoint = False, None, [], False
            elif keyword == "SAVEPOINT":
                if not in_transaction:
                    in_transaction, opened_at, by_savepoint = True, stmt.statement.line, True
                savepoints.append(stmt.qualified_name(1)[0] or "")
            elif keyword == "RELEASE":
                name, _ = stmt.qualified_name(2 if stmt.word(1) == "SAVEPOINT" else 1)
                if name in savepoints:
                    del savepoints[len(savepoints) - 1 - savepoints[::-1].index(name):]
                    if not savepoints and by_savepoint:
                        in_transaction, opened_at, by_savepoint = False, None, False
            elif not in_transaction:
                continue
            elif keyword == "PRAGMA":
                self._pragma_in_transaction(index, stmt, opened_at)
            elif keyword == "VACUUM":
                self._add(VACUUM_IN_TRANSACTION, stmt.statement.line,
                          f"VACUUM {_where(opened_at)}: SQLite refuses it (\"cannot VACUUM from "
                          f"within a transaction\") and the migration fails; run it outside a "
                          f"transaction (a no-transaction migration) or not in a migration at all")

    def _pragma_in_transaction(self, index: int, stmt: _Tokens, opened_at: int | None) -> None:
        name, value = pragma(stmt.statement)
        if name not in markers.CONNECTION_PRAGMAS or value is None:
            return  # reading a PRAGMA inside a transaction is fine
        where = _where(opened_at)
        if name == "foreign_keys":
            if self.fks_off_by_runner:
                return  # the runner switched foreign keys off before its transaction
            consequence = "foreign keys stay as the connection had them"
            if value.lower() in ("off", "0", "false", "no"):
                drop = next((s for s in self.statements[index + 1:] if s.word(0) == "DROP"
                             and s.word(1) == "TABLE"), None)
                consequence = (f"the DROP TABLE at line {drop.statement.line} runs with foreign keys "
                               f"still ON (child rows cascade away, or the drop fails)"
                               if drop else "the statements after it run with foreign keys still ON")
            message = (f"PRAGMA foreign_keys = {value} is a no-op {where}: {consequence}; set it "
                       f"before BEGIN (a no-transaction migration)")
        elif name == "journal_mode":
            message = (f"PRAGMA journal_mode = {value} {where}: SQLite refuses to change into or out "
                       f"of WAL mode there (the migration fails) and ignores other changes once the "
                       f"transaction has written; set the journal mode on the connection")
        else:
            message = (f"PRAGMA synchronous = {value} {where}: SQLite refuses it (\"Safety level may "
                       f"not be changed inside a transaction\") and the migration fails; set it on the "
                       f"connection")
        self._add(PRAGMA_IN_TRANSACTION, stmt.statement.line, message)

    # rule 2: table rebuilds

    def _rebuilds(self) -> None:
        if self.runner_checks_fks:
            return
        dropped: dict[str, int] = {}  # table -> line of its DROP TABLE
        renamed_away: dict[str, int] = {}  # old name -> line of ALTER TABLE old RENAME TO other
        rebuilds: list[_Rebuild] = []
        last_check = -1
        for index, stmt in enumerate(self.statements):
            if _runs_fk_check(stmt):
                last_check = index
            if stmt.word(0) == "DROP" and stmt.word(1) == "TABLE":
                table, _ = stmt.table_after(1)
                if table:
                    dropped[table] = stmt.statement.line
                continue
            created, _ = stmt.create_table()
            if created and created in renamed_away:
                rebuilds.append(_Rebuild(created, renamed_away.pop(created), index,
                                         "ALTER TABLE … RENAME TO, CREATE TABLE"))
                continue
            table, action = stmt.alter_table()
            if table and stmt.word(action) == "RENAME" and stmt.word(action + 1) == "TO":
                new_name, _ = stmt.qualified_name(action + 2)
                if new_name in dropped:
                    rebuilds.append(_Rebuild(new_name, dropped.pop(new_name), index,
                                             "DROP TABLE, ALTER TABLE … RENAME TO"))
                else:
                    renamed_away[table] = stmt.statement.line
        unchecked = [r for r in rebuilds if r.done > last_check]
        if not unchecked:
            return
        first = unchecked[0]
        tables = ", ".join(dict.fromkeys(r.table for r in unchecked))
        subject = f"table {tables} is" if len(unchecked) == 1 else f"tables {tables} are"
        checked_before = " (only before the rebuild)" if last_check >= 0 else ""
        self._add(REBUILD_WITHOUT_FK_CHECK, first.line,
                  f"{subject} rebuilt ({first.pattern}) and nothing runs PRAGMA foreign_key_check "
                  f"after it{checked_before}: rows left pointing at a missing parent go unnoticed; "
                  f"run it at the end of the migration and fail when it returns rows")

    # rule 3: syntax and functions newer than min_sqlite

    def _versions(self, stmt: _Tokens) -> None:
        for feature, needed in _features(stmt).items():
            if needed > self.floor:
                self._add(DROP_COLUMN_VERSION, stmt.statement.line,
                          f"{feature} needs SQLite {_show(needed)} or later but min_sqlite is "
                          f"{self.floor_text}: on an older system SQLite this migration fails and "
                          f"the user cannot upgrade")

    # rule 5: ADD COLUMN refused on a table with rows

    def _add_column(self, stmt: _Tokens) -> None:
        table, action = stmt.alter_table()
        if not table or stmt.word(action) != "ADD":
            return
        start = action + 2 if stmt.word(action + 1) == "COLUMN" else action + 1
        if start >= len(stmt) or stmt.tokens[start].name is None:
            return
        column = stmt.tokens[start].name
        base = stmt.tokens[start].depth
        not_null = False
        default: str | None = None
        i = start + 1
        while i < len(stmt):
            token = stmt.tokens[i]
            if token.depth == base:
                if token.word == "NOT" and stmt.word(i + 1) == "NULL":
                    not_null = True
                elif token.word == "GENERATED" or (token.word == "AS" and stmt.op(i + 1, "(")):
                    return  # a generated column has no default; not this rule's business
                elif token.word == "DEFAULT" and i + 1 < len(stmt):
                    last = i + 1
                    if stmt.op(i + 1, "("):
                        last = stmt.matching(i + 1)
                    elif stmt.op(i + 1, "+") or stmt.op(i + 1, "-"):
                        last = min(i + 2, len(stmt) - 1)
                    default = stmt.slice_text(i + 1, last)
                    i = last
            i += 1
        if not not_null and default is None:
            return
        refusal = _refused_on_rows(not_null, default)
        if refusal:
            self._add(NOT_NULL_WITHOUT_DEFAULT, stmt.statement.line,
                      f"ALTER TABLE {table} ADD COLUMN {column}: SQLite refuses it on a table that has "
                      f"rows (\"{refusal}\"), so it passes on a fresh install and fails on every "
                      f"existing database; give it a constant non-NULL DEFAULT or rebuild the table")

    # rule 6: writes to a migration framework's history table

    def _history_writes(self, stmt: _Tokens) -> None:
        for verb, table in _writes(stmt):
            if table in HISTORY_TABLES:
                self._add(SCHEMA_HISTORY_TOUCH, stmt.statement.line,
                          f"{verb} {table}: the migration writes to a migration runner's history "
                          f"table; the runner owns it, and edits from a migration desynchronise the "
                          f"recorded versions and checksums from what is applied")


def _where(opened_at: int | None) -> str:
    if opened_at is None:
        return "inside the transaction the runner wraps the migration in"
    return f"inside the transaction begun at line {opened_at}"


def _runs_fk_check(stmt: _Tokens) -> bool:
    if stmt.word(0) == "PRAGMA" and stmt.qualified_name(1)[0] == "foreign_key_check":
        return True
    return any(t.word == "PRAGMA_FOREIGN_KEY_CHECK" for t in stmt.tokens)


def _features(stmt: _Tokens) -> dict[str, Version]:
    """Syntax and built-ins in ``stmt`` added in SQLite 3.24 or later, with the version they need
    (older additions, e.g. partial indexes, are not looked for)."""
    found: dict[str, Version] = {}
    tokens = stmt.tokens

    def need(feature: str, version: Version) -> None:
        found.setdefault(feature, version)

    table, action = stmt.alter_table()
    if table:
        if stmt.word(action) == "DROP":
            need("ALTER TABLE … DROP COLUMN", (3, 35, 0))
        elif stmt.word(action) == "RENAME" and stmt.word(action + 1) != "TO":
            need("ALTER TABLE … RENAME COLUMN", (3, 25, 0))
        elif stmt.word(action) == "ADD" and any(
            t.word == "AS" and t.depth == 0 and stmt.op(i + 1, "(") for i, t in enumerate(tokens)
        ):
            need("a generated column", (3, 31, 0))
    created, after_name = stmt.create_table()
    if created and stmt.op(after_name, "("):
        close = stmt.matching(after_name)
        inner = tokens[after_name].depth + 1
        if any(t.word == "AS" and t.depth == inner and stmt.op(i + 1, "(")
               for i, t in enumerate(tokens[after_name + 1:close], after_name + 1)):
            need("a generated column", (3, 31, 0))
        if any(t.word == "STRICT" and t.depth == tokens[close].depth for t in tokens[close + 1:]):
            need("a STRICT table", (3, 37, 0))
    if stmt.word(0) == "VACUUM" and any(t.word == "INTO" for t in tokens):
        need("VACUUM INTO", (3, 27, 0))

    upserts = 0  # ON CONFLICT … DO clauses in the current INSERT
    for i, token in enumerate(tokens):
        if token.kind == OP:
            if token.text in ("->", "->>"):
                need(f"the {token.text} JSON operator", (3, 38, 0))
            elif token.text == ";":
                upserts = 0
            continue
        word = token.word
        if word is None:
            continue
        if word == "INSERT":
            upserts = 0
        elif word == "RETURNING":  # a reserved word since 3.35: never a bare identifier
            need("RETURNING", (3, 35, 0))
        elif word == "ON" and stmt.word(i + 1) == "CONFLICT":
            kind = _upsert(stmt, i)
            if kind:
                upserts += 1
                need("UPSERT (INSERT … ON CONFLICT … DO)", (3, 24, 0))
                if kind == "update-without-target":
                    need("UPSERT DO UPDATE without a conflict target", (3, 35, 0))
                if upserts > 1:
                    need("several ON CONFLICT clauses in one INSERT", (3, 35, 0))
        elif word in _FUNCTIONS and stmt.op(i + 1, "(") and _is_call(stmt, i):
            need(f"{word.lower()}()", _FUNCTIONS[word])
        elif word == "UPDATE" and stmt.starts_statement(i) and _update_from(stmt, i):
            need("UPDATE … FROM", (3, 33, 0))
        elif word == "OVER" and i and stmt.op(i - 1, ")") and i + 1 < len(tokens) and (
                stmt.op(i + 1, "(") or tokens[i + 1].name is not None):
            need("a window function (OVER)", (3, 25, 0))
        elif word == "WINDOW" and i + 2 < len(tokens) and tokens[i + 1].name is not None \
                and stmt.word(i + 2) == "AS" and stmt.op(i + 3, "("):
            need("a WINDOW clause", (3, 25, 0))
        elif word == "FILTER" and i and stmt.op(i - 1, ")") and stmt.op(i + 1, "(") \
                and stmt.word(i + 2) == "WHERE":
            need("an aggregate FILTER clause", (3, 30, 0))
        elif word == "NULLS" and stmt.word(i + 1) in ("FIRST", "LAST"):
            need("NULLS FIRST / NULLS LAST", (3, 30, 0))
        elif word == "GENERATED" and stmt.word(i + 1) == "ALWAYS":
            need("a generated column", (3, 31, 0))
        elif word == "MATERIALIZED" and stmt.word(i - 1) in ("AS", "NOT") and stmt.op(i + 1, "("):
            need("a MATERIALIZED / NOT MATERIALIZED hint", (3, 35, 0))
        elif word in ("RIGHT", "FULL") and (stmt.word(i + 1) == "JOIN" or (
                stmt.word(i + 1) == "OUTER" and stmt.word(i + 2) == "JOIN")):
            need(f"{word} JOIN", (3, 39, 0))
        elif word == "IS" and _is_distinct_from(stmt, i):
            need("IS [NOT] DISTINCT FROM", (3, 39, 0))
    return found


def _upsert(stmt: _Tokens, on: int) -> str | None:
    """For ``ON CONFLICT`` at ``on``: None when it is a constraint's conflict clause, else
    ``"update-without-target"`` or ``"upsert"``."""
    j = on + 2
    has_target = False
    if stmt.op(j, "("):
        has_target = True
        j = stmt.matching(j) + 1
        if stmt.word(j) == "WHERE":
            depth = stmt.tokens[on].depth
            while j < len(stmt) and not (stmt.tokens[j].depth == depth and (
                    stmt.tokens[j].word == "DO" or stmt.tokens[j].is_op(";"))):
                j += 1
    if stmt.word(j) != "DO":
        return None
    return "update-without-target" if stmt.word(j + 1) == "UPDATE" and not has_target else "upsert"


def _is_call(stmt: _Tokens, i: int) -> bool:
    """Whether ``name(`` at ``i`` calls a function (not a table, index column list or CTE)."""
    before = stmt.tokens[i - 1] if i else None
    if before is not None and (before.is_op(".") or before.word in (
            "TABLE", "INTO", "EXISTS", "ON", "REFERENCES", "VIEW", "INDEX", "TRIGGER", "WITH",
            "RECURSIVE", "UPDATE", "JOIN", "FROM")):
        return False
    close = stmt.matching(i + 1)
    is_cte = stmt.word(close + 1) == "AS" and (
        stmt.op(close + 2, "(") or stmt.word(close + 2) in ("MATERIALIZED", "NOT"))
    return not is_cte


def _update_from(stmt: _Tokens, update: int) -> bool:
    """Whether the UPDATE at ``update`` has a FROM clause (at its own depth, before WHERE)."""
    depth = stmt.tokens[update].depth
    cases = 0
    for j in range(update + 1, len(stmt)):
        token = stmt.tokens[j]
        if token.depth != depth:
            continue
        if token.is_op(";"):
            return False
        word = token.word
        if word == "CASE":
            cases += 1
        elif word == "END":
            if not cases:
                return False
            cases -= 1
        elif word in ("WHERE", "RETURNING", "ORDER", "LIMIT"):
            return False
        elif word == "FROM" and stmt.word(j - 1) != "DISTINCT":
            return True
    return False


def _is_distinct_from(stmt: _Tokens, i: int) -> bool:
    j = i + 2 if stmt.word(i + 1) == "NOT" else i + 1
    return stmt.word(j) == "DISTINCT" and stmt.word(j + 1) == "FROM"


def _writes(stmt: _Tokens) -> list[tuple[str, str]]:
    """(verb, table) for every table ``stmt`` writes rows or schema of, trigger bodies included."""
    writes: list[tuple[str, str]] = []

    def add(verb: str, name: str | None) -> None:
        if name:
            writes.append((verb, name))

    created, _ = stmt.create_table()
    add("CREATE TABLE", created)
    for i, token in enumerate(stmt.tokens):
        word = token.word
        if word == "INTO" and (stmt.word(i - 1) in ("INSERT", "REPLACE") or (
                stmt.word(i - 2) == "OR" and stmt.word(i - 3) == "INSERT")):
            add("INSERT INTO", stmt.qualified_name(i + 1)[0])
        elif word == "UPDATE" and stmt.starts_statement(i):
            j = i + 3 if stmt.word(i + 1) == "OR" else i + 1
            add("UPDATE", stmt.qualified_name(j)[0])
        elif word == "DELETE" and stmt.word(i + 1) == "FROM" and stmt.starts_statement(i):
            add("DELETE FROM", stmt.qualified_name(i + 2)[0])
        elif word == "DROP" and stmt.word(i + 1) == "TABLE" and i == 0:
            add("DROP TABLE", stmt.table_after(i + 1)[0])
        elif word == "ALTER" and stmt.word(i + 1) == "TABLE" and i == 0:
            add("ALTER TABLE", stmt.qualified_name(i + 2)[0])
    return writes


def _refused_on_rows(not_null: bool, default: str | None) -> str | None:
    """SQLite's error when adding such a column to a table with rows, or None.

    Asked of SQLite itself, in memory: the same column clause is added to an empty and to a
    one-row table. A clause refused even on the empty table is broken everywhere and left to
    the install check; one refused only with rows is this rule's hazard.
    """
    clause = "c" + (" NOT NULL" if not_null else "") + (f" DEFAULT {default}" if default else "")
    with closing(sqlite3.connect(":memory:", isolation_level=None)) as conn:
        conn.execute("CREATE TABLE empty_table (x)")
        conn.execute("CREATE TABLE filled_table (x)")
        conn.execute("INSERT INTO filled_table VALUES (1)")
        try:
            conn.execute(f"ALTER TABLE empty_table ADD COLUMN {clause}")
        except (sqlite3.Error, sqlite3.Warning):
            return None
        try:
            conn.execute(f"ALTER TABLE filled_table ADD COLUMN {clause}")
        except (sqlite3.Error, sqlite3.Warning) as exc:
            return str(exc)
    return None
