"""The sqlfiles adapter: the harness itself applies a directory of SQL migration files.

For applications whose migrations are plain ``.sql`` files, the harness is the runner, so
it behaves like a careful one: continuity is validated read-only before anything is
written (applied versions must be a prefix of the files, with the same checksums); each
pending file then runs in its own transaction, one statement at a time, and its history
row is inserted in that same transaction, so a file is either wholly applied and recorded
or not at all. A file that manages its own transactions (``BEGIN``/``COMMIT``) or runs
statements that do nothing or fail inside one (``PRAGMA foreign_keys``, ``VACUUM`` ...)
cannot be wrapped: it runs statement by statement as written, and its history row is
inserted after it.

``setup`` is called with every connection the adapter opens, including the read-only ones
used for validation and diagnostics, to register the SQL functions the application would
(it must therefore not write).
"""

from __future__ import annotations

import re
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

from harness.engines.protocol import (
    CODE_UNSPECIFIED, OP_CRASH, OP_DIAGNOSTICS, OP_MIGRATE, OP_OPEN, OP_POSTURE, Diagnostics, Migration,
    Outcome,
)
from harness.engines.sqlfile_formats import MigrationFile, discover, resolve_format
from harness.engines.statements import Statement, split

CODE_FAILED = "migration_failed"
CODE_GAP = "migration_gap"
CODE_UNKNOWN = "migration_unknown_version"
CODE_CHECKSUM = "migration_checksum_mismatch"

Setup = Callable[[sqlite3.Connection], object]
Applied = tuple[tuple[int, str], ...]  # (version, checksum) rows in version order

_TRANSACTION_CONTROL = frozenset({"BEGIN", "COMMIT", "END", "ROLLBACK"})
_NOT_IN_TRANSACTION = frozenset({"VACUUM", "ATTACH", "DETACH"})
# PRAGMAs that are silently ignored (foreign_keys) or refused inside a transaction.
_CONNECTION_PRAGMAS = frozenset({"foreign_keys", "journal_mode", "synchronous"})
_PRAGMA_NAME = re.compile(r"PRAGMA\s+(?:\w+\s*\.\s*)?[\"'`\[]?(\w+)", re.IGNORECASE)


@dataclass(frozen=True)
class HistoryTable:
    """Where a migration format records what it applied, and how to read and write it."""

    name: str
    create: str
    select: str  # -> (version, checksum) ordered by version
    insert: str  # parameters: version, name, checksum, applied_at

    def read(self, conn: sqlite3.Connection) -> Applied:
        exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                              (self.name,)).fetchone()
        if not exists:
            return ()
        return tuple((int(version), str(checksum)) for version, checksum in conn.execute(self.select))

    def record(self, conn: sqlite3.Connection, migration: MigrationFile) -> None:
        applied_at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        conn.execute(self.create)
        conn.execute(self.insert, (migration.version, migration.name, migration.checksum, applied_at))


#: The same table as the reference engine's.
PLAIN_HISTORY = HistoryTable(
    name="schema_migrations",
    create="CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
           "name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)",
    select="SELECT version, checksum FROM schema_migrations ORDER BY version",
    insert="INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)",
)
HISTORY_TABLES = {"plain": PLAIN_HISTORY}


class _ConnectionFailed(Exception):
    """The database could not be opened, or the setup hook failed on it."""


def continuity(applied: Applied, files: Sequence[MigrationFile]) -> tuple[str, str] | None:
    """``(error code, explanation)`` when the applied history does not lead up to ``files``."""
    by_version = {f.version: f for f in files}
    for index, (version, checksum) in enumerate(applied):
        known = by_version.get(version)
        if known is None:
            return CODE_UNKNOWN, f"version {version} is applied but there is no file for it"
        if files[index].version != version:  # applied versions are known, distinct, sorted
            return CODE_GAP, f"version {version} is applied but {files[index].path.name} is not"
        if known.checksum != checksum:
            return CODE_CHECKSUM, f"{known.path.name} has changed since it was applied"
    return None


def runs_unwrapped(statements: Sequence[Statement]) -> bool:
    """Whether a file must run without the wrapping transaction (see the module docstring)."""
    for statement in statements:
        keyword = statement.keyword
        if keyword in _TRANSACTION_CONTROL or keyword in _NOT_IN_TRANSACTION:
            return True
        pragma = _PRAGMA_NAME.match(statement.text) if keyword == "PRAGMA" else None
        if pragma and pragma.group(1).lower() in _CONNECTION_PRAGMAS:
            return True
    return False


class SqlFilesEngine:
    """A directory of migration files, applied and diagnosed by the harness itself."""

    operations = frozenset({OP_MIGRATE, OP_DIAGNOSTICS, OP_CRASH})

    def __init__(self, directory: Path, fmt: str = "plain", setup: Setup | None = None) -> None:
        fmt = resolve_format(fmt, directory)
        discovery = discover(directory, fmt)
        self.name = directory.name
        self.files = discovery.files
        self.ignored = discovery.ignored  # for the report: misnamed files are easy to miss
        self._history = HISTORY_TABLES[fmt]
        self._setup = setup

    def migrations(self) -> Sequence[Migration]:
        return tuple(Migration(f.version, f.name, f.checksum, f.sql, str(f.path)) for f in self.files)

    def migrate(self, db: Path, target: int | None = None) -> Outcome:
        start = time.perf_counter()
        try:
            applied = self._read_applied(db) if db.exists() else ()
        except (sqlite3.Error, _ConnectionFailed) as exc:
            return _outcome(OP_MIGRATE, start, CODE_UNSPECIFIED, str(exc))
        broken = continuity(applied, self.files)
        if broken:
            return _outcome(OP_MIGRATE, start, *broken)
        pending = [f for f in self.files[len(applied):] if target is None or f.version <= target]
        if not pending:  # not even opened for writing, so a WAL is not checkpointed either
            return _outcome(OP_MIGRATE, start, message="nothing to apply")
        try:
            conn = self._connect(db)
        except _ConnectionFailed as exc:
            return _outcome(OP_MIGRATE, start, CODE_UNSPECIFIED, str(exc))
        try:
            for migration in pending:
                failure = self._apply(conn, migration)
                if failure:
                    return _outcome(OP_MIGRATE, start, CODE_FAILED, failure)
        finally:
            conn.close()
        return _outcome(OP_MIGRATE, start, message=f"applied {len(pending)} migration(s)")

    def open(self, db: Path) -> Outcome:
        return Outcome(OP_OPEN, ok=False, error_code=CODE_UNSPECIFIED,
                       message=f"{self.name} has no open operation")

    def diagnostics(self, db: Path) -> Diagnostics | Outcome:
        """Computed by the harness from the database, opened read-only."""
        start = time.perf_counter()
        try:
            conn = self._connect(db, read_only=True)
            try:
                applied = self._history.read(conn)
                integrity = str(conn.execute("PRAGMA integrity_check").fetchone()[0])
                violations = len(conn.execute("PRAGMA foreign_key_check").fetchall())
            finally:
                conn.close()
        except (sqlite3.Error, _ConnectionFailed) as exc:
            return _outcome(OP_DIAGNOSTICS, start, CODE_UNSPECIFIED, f"cannot read {db.name}: {exc}")
        broken = continuity(applied, self.files)
        return Diagnostics(
            schema_version=applied[-1][0] if applied else None,
            applied_migrations=len(applied),
            expected_migrations=len(self.files),
            continuity=broken[0] if broken else "ok",
            integrity=integrity,
            foreign_key_violations=violations,
        )

    def posture(self, db: Path) -> Outcome:
        return Outcome(OP_POSTURE, ok=False, error_code=CODE_UNSPECIFIED,
                       message=f"{self.name} has no posture operation")

    def _read_applied(self, db: Path) -> Applied:
        conn = self._connect(db, read_only=True)
        try:
            return self._history.read(conn)
        finally:
            conn.close()

    def _connect(self, db: Path, *, read_only: bool = False) -> sqlite3.Connection:
        """A connection in autocommit mode (the runner issues BEGIN itself), set up."""
        try:
            if read_only:
                conn = sqlite3.connect(_read_only_uri(db), uri=True, isolation_level=None)
            else:
                conn = sqlite3.connect(db, isolation_level=None)
        except sqlite3.Error as exc:
            raise _ConnectionFailed(f"cannot open {db.name}: {exc}") from exc
        try:
            if self._setup is not None:
                self._setup(conn)
        except Exception as exc:  # noqa: BLE001 - a broken hook is reported, not raised
            conn.close()
            raise _ConnectionFailed(f"the setup hook failed: {exc}") from exc
        return conn

    def _apply(self, conn: sqlite3.Connection, migration: MigrationFile) -> str | None:
        """Apply one file and record it; the failure message, or None when it was applied."""
        statements = split(migration.sql)
        wrapped = not runs_unwrapped(statements)
        where = migration.path.name
        try:
            if wrapped:
                conn.execute("BEGIN")
            for statement in statements:
                where = f"{migration.path.name} line {statement.line}"
                conn.execute(statement.text).fetchall()
            if not wrapped and conn.in_transaction:
                conn.execute("ROLLBACK")
                return f"{migration.path.name}: ends inside a transaction it began (no COMMIT)"
            where = f"recording {migration.path.name} in {self._history.name}"
            self._history.record(conn, migration)
            if wrapped:
                conn.execute("COMMIT")
        except (sqlite3.Error, sqlite3.Warning) as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            return f"{where}: {exc}"
        return None


def _read_only_uri(db: Path) -> str:
    """A URI that opens ``db`` without changing anything beside it either.

    ``mode=ro`` never writes the database nor checkpoints a WAL on close, but on a WAL-mode
    database it still creates empty ``-wal``/``-shm`` files. When there is no WAL or journal
    to read, the main file is the whole database, so ``immutable=1`` reads it creating
    nothing (safe because the harness never runs the engine while it reads).
    """
    uri = f"{db.resolve().as_uri()}?mode=ro"
    companions = (db.with_name(db.name + suffix) for suffix in ("-wal", "-journal"))
    return uri if any(p.exists() for p in companions) else uri + "&immutable=1"


def _outcome(operation: str, start: float, error_code: str | None = None, message: str = "") -> Outcome:
    return Outcome(operation, ok=error_code is None, error_code=error_code, message=message,
                   seconds=time.perf_counter() - start)
