"""Reading the migration history tables that real frameworks leave in a database.

The harness reads history itself, whatever engine wrote it, so continuity is judged from
the file. Formats (``../shared`` reference: migration-frameworks.md): the reference
engine's ``schema_migrations(version, name, checksum, applied_at)``, refinery, sqlx,
Flyway, goose, golang-migrate and dbmate.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from typing import Callable, Sequence

from harness.sqlite.inspect import quote_ident


@dataclass(frozen=True)
class HistoryRow:
    version: int
    name: str | None = None
    checksum: str | None = None
    applied_at: str | None = None
    success: bool = True  # False for a failed (sqlx / Flyway) or dirty (golang-migrate) row


@dataclass(frozen=True)
class History:
    format: str  # "reference", "refinery", "sqlx", "flyway", "goose", "golang-migrate", "dbmate", "none"
    table: str | None
    rows: tuple[HistoryRow, ...]  # in the order they were written (rowid / rank)
    cumulative: bool = False  # one row saying "at version V" (golang-migrate), not one row per migration

    @property
    def versions(self) -> tuple[int, ...]:
        return tuple(r.version for r in self.rows if r.success)

    def applied(self, known: Sequence[int]) -> tuple[int, ...]:
        """The versions this history says are applied, given the engine's versions in order."""
        if not self.cumulative:
            return self.versions
        at = max(self.versions, default=0)
        return tuple(v for v in known if v <= at)


NO_HISTORY = History("none", None, ())


def _cols(conn: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in conn.execute(f"PRAGMA table_info({quote_ident(table)})")}


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}


def _int(value: object) -> int:
    return int(str(value).strip())


def detect(conn: sqlite3.Connection, prefer: str | None = None) -> History:
    """Find and read whichever history table the database has (``prefer`` a format first)."""
    tables = _tables(conn)
    known = [*_READERS, *_REGISTERED.items()]
    readers = [(name, fn) for name, fn in known if prefer is None or name == prefer]
    readers += [(name, fn) for name, fn in known if prefer is not None and name != prefer]
    for name, reader in readers:
        history = reader(conn, tables)
        if history is not None:
            return history
    return NO_HISTORY


def _reference(conn: sqlite3.Connection, tables: set[str]) -> History | None:
    if "schema_migrations" not in tables or not {"version", "name", "checksum"} <= _cols(conn, "schema_migrations"):
        return None
    # Applied order: version is usually the INTEGER PRIMARY KEY (so rowid order is version order).
    rows = conn.execute("SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY applied_at, rowid")
    return History("reference", "schema_migrations",
                   tuple(HistoryRow(_int(v), n, str(c), a) for v, n, c, a in rows))


def _golang_migrate(conn: sqlite3.Connection, tables: set[str]) -> History | None:
    if "schema_migrations" not in tables or _cols(conn, "schema_migrations") != {"version", "dirty"}:
        return None
    rows = conn.execute("SELECT version, dirty FROM schema_migrations ORDER BY rowid")
    return History("golang-migrate", "schema_migrations",
                   tuple(HistoryRow(_int(v), success=not bool(d)) for v, d in rows), cumulative=True)


def _dbmate(conn: sqlite3.Connection, tables: set[str]) -> History | None:
    if "schema_migrations" not in tables or _cols(conn, "schema_migrations") != {"version"}:
        return None
    rows = conn.execute("SELECT version FROM schema_migrations ORDER BY rowid")
    return History("dbmate", "schema_migrations", tuple(HistoryRow(_int(v)) for (v,) in rows))


def _refinery(conn: sqlite3.Connection, tables: set[str]) -> History | None:
    if "refinery_schema_history" not in tables:
        return None
    rows = conn.execute("SELECT version, name, checksum, applied_on FROM refinery_schema_history ORDER BY rowid")
    return History("refinery", "refinery_schema_history",
                   tuple(HistoryRow(_int(v), n, str(c), a) for v, n, c, a in rows))


def _sqlx(conn: sqlite3.Connection, tables: set[str]) -> History | None:
    if "_sqlx_migrations" not in tables:
        return None
    rows = conn.execute(
        "SELECT version, description, hex(checksum), installed_on, success FROM _sqlx_migrations ORDER BY rowid")
    return History("sqlx", "_sqlx_migrations",
                   tuple(HistoryRow(_int(v), d, c.lower(), i, bool(s)) for v, d, c, i, s in rows))


def _flyway(conn: sqlite3.Connection, tables: set[str]) -> History | None:
    if "flyway_schema_history" not in tables:
        return None
    rows = conn.execute(
        "SELECT version, description, checksum, installed_on, success FROM flyway_schema_history "
        "WHERE version IS NOT NULL ORDER BY installed_rank").fetchall()
    ranks = _flyway_ranks([str(r[0]) for r in rows])
    return History("flyway", "flyway_schema_history",
                   tuple(HistoryRow(ranks[str(v)], d, None if c is None else str(c), i, bool(s))
                         for v, d, c, i, s in rows))


def _flyway_ranks(versions: list[str]) -> dict[str, int]:
    """Flyway versions as the harness numbers them: integers as they are; if any is dotted
    ("1.1"), every version by its rank in Flyway's numeric part-by-part order, as the sqlfiles
    adapter numbers the files (equal whenever the history is a gap-free prefix)."""
    if all(v.isdigit() for v in versions):
        return {v: int(v) for v in versions}
    def parts(v: str) -> tuple[int, ...]:
        numbers = [int(p) for p in v.replace("_", ".").split(".") if p.isdigit()]
        while len(numbers) > 1 and numbers[-1] == 0:
            numbers.pop()
        return tuple(numbers)
    ordered = sorted(set(versions), key=parts)
    return {v: ordered.index(v) + 1 for v in versions}


def _goose(conn: sqlite3.Connection, tables: set[str]) -> History | None:
    if "goose_db_version" not in tables:
        return None
    rows = conn.execute("SELECT version_id, is_applied, tstamp FROM goose_db_version WHERE version_id > 0 ORDER BY id")
    return History("goose", "goose_db_version",
                   tuple(HistoryRow(_int(v), applied_at=t, success=bool(a)) for v, a, t in rows))


_READERS: Sequence = (
    ("reference", _reference),
    ("refinery", _refinery),
    ("sqlx", _sqlx),
    ("flyway", _flyway),
    ("goose", _goose),
    ("golang-migrate", _golang_migrate),
    ("dbmate", _dbmate),
)
FORMATS = tuple(name for name, _ in _READERS)
#: Every table name a supported framework keeps its history in.
TABLES = frozenset({"schema_migrations", "refinery_schema_history", "_sqlx_migrations", "flyway_schema_history",
                    "goose_db_version", "alembic_version"})
#: Readers adapters add for the tables of the tools they run (``register_revisions``).
_REGISTERED: dict[str, Callable[[sqlite3.Connection, set[str]], "History | None"]] = {}


def register_revisions(table: str, revisions: Sequence[str]) -> str:
    """Read ``table``, a one-row "at revision X" history (alembic's ``alembic_version``), with
    revision ids numbered 1..N in the order given (an unknown id reads as version 0).

    Returns the format name to prefer when reading (``detect(conn, name)``): one per order,
    so two projects in one process never share a numbering.
    """
    name = f"{table}:" + hashlib.sha256("\0".join(revisions).encode()).hexdigest()[:12]
    order = {revision: i + 1 for i, revision in enumerate(revisions)}

    def read(conn: sqlite3.Connection, tables: set[str]) -> History | None:
        if table not in tables:
            return None
        column = conn.execute(f"PRAGMA table_info({quote_ident(table)})").fetchone()[1]
        rows = conn.execute(f"SELECT {quote_ident(column)} FROM {quote_ident(table)} ORDER BY rowid").fetchall()
        return History(name, table, tuple(HistoryRow(order.get(str(v), 0)) for (v,) in rows),
                       cumulative=True)

    _REGISTERED[name] = read
    return name
