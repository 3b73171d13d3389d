"""The sqlfiles adapter: the harness itself applies a directory of SQL migration files.

The directory is applied with the semantics of the framework that wrote it (``format``:
plain, refinery, flyway, sqlx, golang-migrate, goose, dbmate, prisma, drizzle, diesel, atlas,
numbered, or ``auto`` to detect it; see
``harness.engines.formats``): its file names and numeric order, the "up" part of each file,
its no-transaction markers, and its own history table, written exactly as the framework
writes it so that a database migrated here and one migrated by the application look alike.

Continuity is validated read-only before anything is written: a failed or dirty history row,
an applied version without a file, a gap below the newest applied version (reported even for
frameworks that allow out-of-order migrations: the harness is stricter) and an edited file
(where the framework records checksums) are refused with their error codes, the database
untouched. Pending files then run one statement at a time, each file in a transaction
exactly when its framework wraps it (``MigrationFile.transaction``: goose, sqlx, refinery,
dbmate and Flyway wrap unless their own opt-out says otherwise; see each format). Inside
that transaction a ``PRAGMA foreign_keys`` is a no-op and a file's own ``BEGIN`` fails, as
with the framework: the harness reproduces it, it does not repair it. Only the plain format
(the harness's own runner) runs a file that manages its own transactions or needs to be
outside one (``PRAGMA foreign_keys``, ``VACUUM`` ...) unwrapped, statement by statement as
written, with its history row inserted after it.

Connections have foreign keys ON (``foreign_keys=False``: OFF), as most applications set
them, before ``setup`` runs. While a file runs, ``random()`` and ``randomblob(n)`` are
pseudo-random streams seeded by the file (version and checksum), so applying the same file
to the same data gives the same values, in one run or step by step.

``setup`` is called with every connection the adapter opens, including the read-only ones
used for validation and diagnostics, to register the SQL functions the application would
(it must therefore not write).
"""

from __future__ import annotations

import hashlib
import random
import sqlite3
import time
from pathlib import Path
from typing import Callable, Sequence

from harness.engines.faults import InProcessFaults
from harness.engines.formats import REGISTRY, HistorySpec, history_of
from harness.engines.formats.base import (
    CODE_CHECKSUM, CODE_DIRTY, CODE_GAP, CODE_UNKNOWN, MigrationFile, cannot_be_wrapped,
)
from harness.engines.formats.history import HistoryLayoutError, HistoryRow
from harness.engines.protocol import (
    CODE_TIMEOUT, CODE_UNSPECIFIED, OP_CRASH, OP_DIAGNOSTICS, OP_MIGRATE, OP_OPEN, OP_POSTURE, Diagnostics, Migration,
    Outcome,
)
from harness.engines.sqlfile_formats import discover, resolve
from harness.engines.statements import Statement, split
from harness.sqlite.guard import DEFAULT_BUDGET_SECONDS, Guard

__all__ = [
    "CODE_CHECKSUM", "CODE_DIRTY", "CODE_FAILED", "CODE_GAP", "CODE_UNKNOWN", "Setup", "SqlFilesEngine",
    "continuity", "runs_unwrapped",
]

CODE_FAILED = "migration_failed"

Setup = Callable[[sqlite3.Connection], object]
Applied = tuple[HistoryRow, ...]  # history rows, as the format reads them


class _ConnectionFailed(Exception):
    """The database could not be opened, or the setup hook failed on it."""


def continuity(applied: Sequence[HistoryRow | tuple[int, str]], files: Sequence[MigrationFile],
               fmt: str = "plain") -> tuple[str, str] | None:
    """``(error code, explanation)`` when the applied history does not lead up to ``files``.

    ``applied`` is the format's history rows (or, for the plain format, ``(version,
    checksum)`` pairs).
    """
    rows = tuple(r if isinstance(r, HistoryRow) else HistoryRow(str(r[0]), r[1]) for r in applied)
    return REGISTRY[fmt].applied(rows, files)[1]


def runs_unwrapped(statements: Sequence[Statement]) -> bool:
    """Whether the plain format runs a file without its wrapping transaction (see the module docstring)."""
    return cannot_be_wrapped(statements)


class SqlFilesEngine(InProcessFaults):
    """A directory of migration files, applied and diagnosed by the harness itself.

    It runs in the harness's process through stdlib ``sqlite3``, so it can be killed or
    interrupted at chosen points (``operations`` has "crash"; ``faults``, ``count_points``
    and ``migrate_with_fault`` come from ``InProcessFaults``).
    """

    operations = frozenset({OP_MIGRATE, OP_DIAGNOSTICS, OP_CRASH})

    def __init__(self, directory: Path, fmt: str = "plain", setup: Setup | None = None, *,
                 foreign_keys: bool = True, history: HistorySpec = None,
                 timeout: float = DEFAULT_BUDGET_SECONDS) -> None:
        choice = resolve(fmt, directory)
        self.format = choice.format
        discovery = discover(directory, self.format)
        self.name = directory.name
        self.directory = directory
        self.files = discovery.files
        self.repeatables = discovery.repeatables  # Flyway R__ files, run after the versioned ones
        self.ignored = discovery.ignored  # for the report: misnamed files are easy to miss
        #: how an ambiguous directory's format was chosen, then files recognised but not run
        self.notes = ((choice.note,) if choice.note else ()) + discovery.notes
        self._format = REGISTRY[self.format]
        #: The history table written and read: the format's own, or one the scenario declares
        #: (a home-made runner's table, so databases it wrote are read as they are).
        self.history_format: HistorySpec = history if history is not None else self.format
        self._history = history_of(history) or self._format.history
        self._setup = setup
        self.foreign_keys = foreign_keys
        self.timeout = timeout  # seconds each file's SQL may run (harness.sqlite.guard)
        #: Whether the framework wraps the files in transactions; each migration also says it
        #: for itself (``Migration.transaction``), which lint follows.
        self.wraps = not self._format.own_runner and any(f.transaction for f in self.files)

    @property
    def history_table(self) -> str:
        """The table this directory's history is written to (its framework's, or the declared one)."""
        return self._history.name

    def migrations(self) -> Sequence[Migration]:
        base = self.directory.parent
        return tuple(Migration(f.version, f.name, f.checksum, f.sql, _relative(f.path, base),
                               transaction=f.transaction, first_line=_first_line(f),
                               key=None if f.history_key == str(f.version) else f.history_key) for f in self.files)

    def migrate(self, db: Path, target: int | None = None) -> Outcome:
        start = time.perf_counter()
        try:
            rows = self._read_applied(db) if db.exists() else ()
        except (sqlite3.Error, _ConnectionFailed) as exc:
            return _outcome(OP_MIGRATE, start, CODE_UNSPECIFIED, str(exc))
        applied, broken = self._applied(rows)
        if broken:
            return _outcome(OP_MIGRATE, start, *broken)
        pending = [f for f in self.files[len(applied):] if target is None or f.version <= target]
        pending += self._format.pending_repeatables(rows, self.repeatables)
        if not pending:  # not even opened for writing, so a WAL is not checkpointed either
            return _outcome(OP_MIGRATE, start, message="nothing to apply")
        guard = Guard(db.parent, self.timeout)  # confined to the database's directory, bounded in time
        try:
            conn = self._connect(db, guard=guard)
        except _ConnectionFailed as exc:
            return _outcome(OP_MIGRATE, start, CODE_UNSPECIFIED, str(exc))
        try:
            if self._history.created_first:  # before the first migration's transaction, in its own
                try:
                    self._history.ensure(conn)
                except sqlite3.Error as exc:
                    return _outcome(OP_MIGRATE, start, CODE_FAILED, f"creating {self._history.name}: {exc}")
            if self._format.batch:
                failure = self._run_batch(conn, pending)
                if failure:
                    return _outcome(OP_MIGRATE, start, CODE_FAILED, failure)
            for migration in pending if not self._format.batch else ():
                guard.restart()
                failure = self._apply(conn, migration, guard)
                if failure and guard.expired:
                    return Outcome(OP_MIGRATE, ok=False, error_code=CODE_TIMEOUT, message=failure, timed_out=True,
                                   seconds=time.perf_counter() - start)
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
                rows = self._read(conn)
                integrity = str(conn.execute("PRAGMA integrity_check").fetchone()[0])
                violations = len(conn.execute("PRAGMA foreign_key_check").fetchall())
            finally:
                conn.close()
        except (sqlite3.Error, _ConnectionFailed) as exc:
            return _outcome(OP_DIAGNOSTICS, start, CODE_UNSPECIFIED, f"cannot read {db.name}: {exc}")
        applied, broken = self._applied(rows)
        if broken:  # say what the history holds, as far as it can be matched to files
            applied = self._matched(rows)
        return Diagnostics(
            schema_version=applied[-1].version if applied else None,
            applied_migrations=len(applied),
            expected_migrations=len(self.files),
            continuity=broken[0] if broken else "ok",
            integrity=integrity,
            foreign_key_violations=violations,
        )

    def posture(self, db: Path) -> Outcome:
        return Outcome(OP_POSTURE, ok=False, error_code=CODE_UNSPECIFIED,
                       message=f"{self.name} has no posture operation")

    def _applied(self, rows: Applied) -> tuple[tuple[MigrationFile, ...], tuple[str, str] | None]:
        """The format judges its own history; a declared table is judged by the plain rules on its keys."""
        if self._history is self._format.history:
            return self._format.applied(rows, self.files)
        rule = "golang-migrate" if self._history.layout.cumulative else "plain"  # one row per migration, or one
        return REGISTRY[rule].applied(rows, self.files)

    def _matched(self, rows: Applied) -> tuple[MigrationFile, ...]:
        """The files whose versions a broken history records, in order (for diagnostics)."""
        keys = {self._format.normalize_key(r.key) for r in rows if r.success and not r.repeatable}
        return tuple(f for f in self.files if self._format.normalize_key(f.history_key) in keys)

    def _read_applied(self, db: Path) -> Applied:
        conn = self._connect(db, read_only=True)
        try:
            return self._read(conn)
        finally:
            conn.close()

    def _read(self, conn: sqlite3.Connection) -> Applied:
        try:
            return self._history.read(conn)
        except HistoryLayoutError:
            raise
        except sqlite3.Error as exc:
            raise sqlite3.DatabaseError(f"cannot read {self._history.name} as {self.format}'s history "
                                        f"table: {exc}") from exc

    def _connect(self, db: Path, *, read_only: bool = False, guard: Guard | None = None) -> sqlite3.Connection:
        """A connection in autocommit mode (the runner issues BEGIN itself), set up."""
        try:
            if read_only:
                conn = sqlite3.connect(_read_only_uri(db), uri=True, isolation_level=None)
            else:
                conn = sqlite3.connect(db, isolation_level=None)
        except sqlite3.Error as exc:
            raise _ConnectionFailed(f"cannot open {db.name}: {exc}") from exc
        try:
            conn.execute(f"PRAGMA foreign_keys = {'ON' if self.foreign_keys else 'OFF'}")
            if self._setup is not None:
                self._setup(conn)
        except Exception as exc:  # noqa: BLE001 - a broken hook is reported, not raised
            conn.close()
            raise _ConnectionFailed(f"the setup hook failed: {exc}") from exc
        return guard.install(conn) if guard is not None else conn

    def _apply(self, conn: sqlite3.Connection, migration: MigrationFile, guard: Guard | None = None) -> str | None:
        """Apply one file and record it as its framework does; the failure message, or None."""
        statements = migration.statements()
        wrapped = migration.transaction
        _seed_random(conn, migration)
        keys_off = migration.foreign_keys_off and self.foreign_keys
        if keys_off:
            conn.execute("PRAGMA foreign_keys = OFF")
        try:
            return self._run(conn, migration, statements, wrapped, guard)
        finally:
            if keys_off:
                conn.execute("PRAGMA foreign_keys = ON")

    def _run(self, conn: sqlite3.Connection, migration: MigrationFile, statements: Sequence[Statement],
             wrapped: bool, guard: Guard | None = None) -> str | None:
        history = self._history
        name = migration.shown
        where = f"marking {name} in {history.name}"
        start = time.perf_counter()
        try:
            history.before(conn, migration)
            where = name
            if wrapped:  # the framework creates its table before the first migration runs
                conn.execute("BEGIN")
                history.ensure(conn)
            ensured = wrapped
            for statement in statements:
                where = f"{name} line {statement.line}"
                conn.execute(statement.text).fetchall()
            if not wrapped and conn.in_transaction:
                conn.execute("ROLLBACK")
                return f"{name}: ends inside a transaction it began (no COMMIT)"
            if wrapped and migration.check_foreign_keys and self.foreign_keys:
                where = f"{name} (foreign_key_check before COMMIT)"
                violation = conn.execute("PRAGMA foreign_key_check").fetchone()
                if violation is not None:
                    raise sqlite3.IntegrityError(f"foreign key mismatch: {violation[0]} row {violation[1]} "
                                                 f"refers to a missing {violation[2]} row")
            where = f"recording {name} in {history.name}"
            if wrapped and history.separate_record:
                conn.execute("COMMIT")
                wrapped = False
            if not ensured:
                history.ensure(conn)
            history.record(conn, migration, time.perf_counter() - start)
            if wrapped:
                conn.execute("COMMIT")
            history.after(conn, migration, time.perf_counter() - start)
        except (sqlite3.Error, sqlite3.Warning) as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if not wrapped and where.startswith(name):
                try:
                    history.failed(conn, migration, time.perf_counter() - start, str(exc))
                except sqlite3.Error:
                    pass  # the failure itself is what is reported
            return f"{where}: {(guard.explain(exc) if guard else None) or exc}"
        return None


    def _run_batch(self, conn: sqlite3.Connection, pending: Sequence[MigrationFile]) -> str | None:
        """Every pending file and its row in one transaction (Drizzle): all of them, or none."""
        history = self._history
        where = f"creating {history.name}"
        try:
            history.ensure(conn)
            conn.execute("BEGIN")
            for migration in pending:
                _seed_random(conn, migration)
                started = time.perf_counter()
                for statement in migration.statements():
                    where = f"{migration.shown} line {statement.line}"
                    conn.execute(statement.text).fetchall()
                where = f"recording {migration.shown} in {history.name}"
                history.record(conn, migration, time.perf_counter() - started)
            where = "COMMIT"
            conn.execute("COMMIT")
        except (sqlite3.Error, sqlite3.Warning) as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            return f"{where}: {exc} (the whole batch is rolled back)"
        return None


def _seed_random(conn: sqlite3.Connection, migration: MigrationFile) -> None:
    """``random()`` and ``randomblob(n)`` as streams seeded by the file (not deterministic
    functions: SQLite would evaluate those once per statement)."""
    seed = f"{migration.version}\0{migration.checksum or migration.sql}"
    rng = random.Random(hashlib.sha256(seed.encode("utf-8")).digest())

    def random_int() -> int:
        return rng.getrandbits(64) - (1 << 63)

    def random_blob(n: object) -> bytes:
        try:
            size = int(n)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            size = 0
        return rng.randbytes(max(1, size))

    conn.create_function("random", 0, random_int)
    conn.create_function("randomblob", 1, random_blob)


def _first_line(migration: MigrationFile) -> int:
    """The line of its file on which ``migration.sql`` begins: the format's statements carry
    their lines in the file, the same statements split from ``sql`` their lines in it."""
    in_file, in_sql = migration.statements(), split(migration.sql)
    return in_file[0].line - in_sql[0].line + 1 if in_file and in_sql else 1


def _relative(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return str(path)


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
