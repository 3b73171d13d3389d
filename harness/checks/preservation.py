"""Data preservation across an upgrade: no row lost, no surviving value changed.

Rows are matched by primary key (by the full row where a table has none). A value may
change only where the scenario says a migration normalises orphan references
(``orphan_fixes = ["runs.project_id -> talk_projects.id"]``) AND the old value really had
no parent in the legacy database; any other change is data loss. New rows are allowed
(seed data, placeholder parents) and reported.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from harness.sqlite import inspect

_FIX = re.compile(r"^\s*(\w+)\.(\w+)\s*->\s*(\w+)\.(\w+)\s*$")
MAX_LISTED = 3


@dataclass(frozen=True)
class OrphanFix:
    table: str
    column: str
    parent_table: str
    parent_column: str


def parse_fixes(raw: Iterable[str]) -> tuple[OrphanFix, ...]:
    fixes = []
    for item in raw:
        match = _FIX.match(item)
        if not match:
            raise ValueError(f"orphan_fixes entry {item!r}: expected 'table.column -> parent_table.column'")
        fixes.append(OrphanFix(*match.groups()))
    return tuple(fixes)


@dataclass(frozen=True)
class Declared:
    """Changes the migrations' own SQL states it makes: not data loss, whatever they do."""

    columns: frozenset[tuple[str, str]] = frozenset()  # (table, column), column "*" = any
    tables: frozenset[str] = frozenset()  # rows may go (DELETE) or the table may be dropped

    def column(self, table: str, column: str) -> bool:
        return (table, column) in self.columns or (table, "*") in self.columns


_STRINGS = re.compile(r"'(?:[^']|'')*'")
_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)
_NAME_RE = r'[\w$]+|"(?:[^"]|"")+"|`[^`]+`|\[[^\]]+\]'
_UPDATE = re.compile(rf"^\s*UPDATE\s+(?:OR\s+\w+\s+)?(?:(?:{_NAME_RE})\.)?({_NAME_RE})\s+(?:AS\s+\w+\s+)?SET\s+(.*?)"
                     r"(?:\s+FROM\s+|\s+WHERE\s+|\s+RETURNING\s+|$)", re.I | re.S)
_DELETE = re.compile(rf"^\s*DELETE\s+FROM\s+(?:(?:{_NAME_RE})\.)?({_NAME_RE})", re.I)
_REPLACE = re.compile(rf"^\s*(?:REPLACE|INSERT\s+OR\s+REPLACE)\s+INTO\s+(?:(?:{_NAME_RE})\.)?({_NAME_RE})", re.I)
_DROP_TABLE = re.compile(rf"^\s*DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:(?:{_NAME_RE})\.)?({_NAME_RE})", re.I)
_DROP_COLUMN = re.compile(rf"^\s*ALTER\s+TABLE\s+(?:(?:{_NAME_RE})\.)?({_NAME_RE})\s+DROP\s+(?:COLUMN\s+)?({_NAME_RE})",
                          re.I)
_ASSIGNED = re.compile(rf"(?:^|,)\s*\(?\s*({_NAME_RE}(?:\s*,\s*{_NAME_RE})*)\s*\)?\s*=")


def _unquote(name: str) -> str:
    if name[:1] in "\"`[" and len(name) > 1:
        return name[1:-1].replace('""', '"')
    return name


def declared_mutations(sql_texts: Iterable[str]) -> Declared:
    """What ``UPDATE … SET``, ``DELETE``, ``REPLACE``, ``DROP TABLE`` and ``DROP COLUMN`` name."""
    from harness.engines.statements import split

    columns: set[tuple[str, str]] = set()
    tables: set[str] = set()
    for text in sql_texts:
        for statement in split(text):
            plain = _STRINGS.sub("''", _COMMENTS.sub(" ", statement.text))
            if match := _UPDATE.match(plain):
                table = _unquote(match.group(1))
                depth, start, parts = 0, 0, []
                assignments = match.group(2)
                for i, ch in enumerate(assignments):  # split SET a = f(x, y), b = 2 at top-level commas
                    depth += ch == "("
                    depth -= ch == ")"
                    if ch == "," and depth == 0:
                        parts.append(assignments[start:i])
                        start = i + 1
                parts.append(assignments[start:])
                for part in parts:
                    if "=" in part:
                        for name in re.split(r"\s*,\s*", part.split("=", 1)[0].strip().strip("()")):
                            columns.add((table, _unquote(name.strip())))
            elif match := _DELETE.match(plain):
                tables.add(_unquote(match.group(1)))
            elif match := _REPLACE.match(plain):
                columns.add((_unquote(match.group(1)), "*"))
            elif match := _DROP_TABLE.match(plain):
                tables.add(_unquote(match.group(1)))
            elif match := _DROP_COLUMN.match(plain):
                columns.add((_unquote(match.group(1)), _unquote(match.group(2))))
    return Declared(frozenset(columns), frozenset(tables))


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    new_rows: dict[str, int] = field(default_factory=dict)
    checked_rows: int = 0
    fixed_orphans: int = 0


def _key_columns(conn: sqlite3.Connection, table: str) -> list[str]:
    info = conn.execute(f"PRAGMA table_info({inspect.quote_ident(table)})").fetchall()
    keyed = sorted((row[5], row[1]) for row in info if row[5])
    return [name for _, name in keyed]


def _rows(conn: sqlite3.Connection, table: str, columns: Sequence[str]) -> list[tuple]:
    return list(inspect.table_rows(conn, table, list(columns)))


def _same(a: object, b: object) -> bool:
    return type(a) is type(b) and a == b or (a is None and b is None)


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def compare(before: Path, after: Path, fixes: Sequence[OrphanFix] = (), *,
            ignore_tables: Iterable[str] = (), declared: Declared = Declared()) -> Report:
    """Everything in ``before`` that does not survive into ``after``, table by table."""
    report = Report()
    ignored = set(ignore_tables)
    with inspect.reading(before) as old, inspect.reading(after) as new:
        new_tables = set(inspect.user_tables(new))
        for table in inspect.user_tables(old):
            if table in ignored:
                continue
            if table not in new_tables:
                if table in declared.tables:
                    continue
                count = old.execute(f"SELECT count(*) FROM {inspect.quote_ident(table)}").fetchone()[0]
                if count:
                    report.problems.append(f"table {table}: dropped by the upgrade with its {count} rows")
                continue
            _compare_table(old, new, table, fixes, report, declared)
    return report


def _compare_table(old: sqlite3.Connection, new: sqlite3.Connection, table: str,
                   fixes: Sequence[OrphanFix], report: Report, declared: Declared) -> None:
    old_cols = inspect.columns(old, table)
    new_cols = set(inspect.columns(new, table))
    lost_cols = [c for c in old_cols if c not in new_cols and not declared.column(table, c)]
    if lost_cols:
        report.problems.append(f"table {table}: column(s) {', '.join(lost_cols)} dropped with their data")
    cols = [c for c in old_cols if c in new_cols]
    if not cols:
        return
    keys = [k for k in _key_columns(old, table) if k in cols] or cols
    before_rows = {tuple(r[cols.index(k)] for k in keys): r for r in _rows(old, table, cols)}
    after_rows = {tuple(r[cols.index(k)] for k in keys): r for r in _rows(new, table, cols)}
    report.checked_rows += len(before_rows)
    missing = [k for k in before_rows if k not in after_rows]
    if missing and table not in declared.tables and not declared.column(table, "*"):
        shown = ", ".join(_show(k if len(k) > 1 else k[0]) for k in missing[:MAX_LISTED])
        report.problems.append(f"table {table}: {len(missing)} of {len(before_rows)} rows lost "
                               f"(by {', '.join(keys)}: {shown}{' …' if len(missing) > MAX_LISTED else ''})")
    fixable = {f.column: f for f in fixes if f.table == table}
    parents = {f.column: _parent_keys(old, f) for f in fixable.values()}
    changed: list[str] = []
    for key, row in before_rows.items():
        now = after_rows.get(key)
        if now is None:
            continue
        for i, col in enumerate(cols):
            if _same(row[i], now[i]):
                continue
            if col in fixable and row[i] is not None and row[i] not in parents[col]:
                report.fixed_orphans += 1
                continue
            if declared.column(table, col):
                continue
            changed.append(f"{_show(key if len(key) > 1 else key[0])}.{col}: {_show(row[i])} -> {_show(now[i])}")
    if changed:
        report.problems.append(f"table {table}: {len(changed)} values changed, first: "
                               + "; ".join(changed[:MAX_LISTED]))
    added = len(after_rows) - (len(before_rows) - len(missing))
    if added > 0:
        report.new_rows[table] = added


def _parent_keys(conn: sqlite3.Connection, fix: OrphanFix) -> set[object]:
    tables = set(inspect.user_tables(conn))
    if fix.parent_table not in tables:
        return set()
    return {r[0] for r in conn.execute(
        f"SELECT {inspect.quote_ident(fix.parent_column)} FROM {inspect.quote_ident(fix.parent_table)}")}


def invariants(db: Path, checks: Iterable[tuple[str, str, object]]) -> list[str]:
    """Run each (name, sql, expected) on ``db``; one line per invariant that does not hold."""
    problems = []
    with inspect.reading(db) as conn:
        for name, sql, expected in checks:
            try:
                row = conn.execute(sql).fetchone()
            except sqlite3.Error as exc:
                problems.append(f"invariant '{name}': query failed: {exc}")
                continue
            value = row[0] if row and len(row) == 1 else (list(row) if row else None)
            if value != expected:
                problems.append(f"invariant '{name}': {sql} gave {value!r}, expected {expected!r}")
    return problems


def mapping_of(params: Mapping[str, object], key: str) -> list[str]:
    raw = params.get(key, [])
    return [str(x) for x in raw] if isinstance(raw, list) else []
