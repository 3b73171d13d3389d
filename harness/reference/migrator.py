"""Migrations: the shipped files, a database's history judged against them, and applying them.

Each migration runs in one ``BEGIN IMMEDIATE`` transaction together with its history row, so
a crash leaves it either fully applied and recorded or not there at all. Statements run one
at a time: ``executescript`` would COMMIT first and break that guarantee.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from harness.engines.protocol import Migration
from harness.reference.errors import (
    MIGRATION_CHECKSUM_MISMATCH,
    MIGRATION_FAILED,
    MIGRATION_FK_VIOLATION,
    MIGRATION_GAP,
    MIGRATION_HISTORY_INVALID,
    MIGRATION_LEGACY_UNRECOGNISED,
    MIGRATION_OUT_OF_ORDER,
    MIGRATION_SET_INVALID,
    MIGRATION_UNKNOWN_VERSION,
    StorageError,
    sqlite_errors,
)

HISTORY_TABLE = "schema_migrations"
HISTORY_DDL = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
    "checksum TEXT NOT NULL, applied_at TEXT NOT NULL)"
)
#: First line of a migration that rebuilds tables: PRAGMA foreign_keys is a no-op inside a
#: transaction, so the migrator switches it off on the connection before BEGIN.
FOREIGN_KEYS_OFF = "-- reference: foreign_keys=off"
DEFAULT_DIRECTORY = Path(__file__).resolve().parent / "migrations"

_FILE_NAME = re.compile(r"^(?P<version>\d+)_(?P<name>[a-z0-9_]+)\.sql$")
_PROJECT_ROOT = Path(__file__).resolve().parents[2]

Record = Callable[[sqlite3.Connection, Migration], None]
Fingerprint = tuple[object, ...]


@dataclass(frozen=True)
class AppliedMigration:
    """One row of ``schema_migrations``."""

    version: int
    name: str
    checksum: str
    applied_at: str


def label(migration: Migration) -> str:
    return f"migration {migration.version:04d}_{migration.name}"


# --- the shipped set ---------------------------------------------------------------------


def load(directory: Path) -> tuple[Migration, ...]:
    """Every ``<version>_<name>.sql`` in ``directory``; versions must run 1..n.

    A misnamed ``.sql`` file is an error rather than skipped: silently ignoring a migration
    is how a database ends up on a schema no install can reproduce.
    """
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if not match:
            raise StorageError(MIGRATION_SET_INVALID, f"{path.name}: not <version>_<name>.sql")
        version = int(match["version"])
        if version in found:
            raise StorageError(MIGRATION_SET_INVALID, f"{path.name}: version {version} twice")
        raw = path.read_bytes()
        migration = Migration(
            version=version,
            name=match["name"],
            checksum=hashlib.sha256(raw).hexdigest(),
            sql=raw.decode("utf-8"),
            source=_source(path),
        )
        split_statements(migration)  # a malformed file fails at load, not half-way through
        found[version] = migration
    if not found:
        raise StorageError(MIGRATION_SET_INVALID, f"no migrations in {directory}")
    if sorted(found) != list(range(1, len(found) + 1)):
        raise StorageError(
            MIGRATION_SET_INVALID, f"{directory.name}: versions {sorted(found)} are not 1..n"
        )
    return tuple(found[v] for v in sorted(found))


def _source(path: Path) -> str:
    try:
        return path.resolve().relative_to(_PROJECT_ROOT).as_posix()
    except ValueError:
        return str(path)


def needs_foreign_keys_off(migration: Migration) -> bool:
    first_line = (migration.sql or "").lstrip().partition("\n")[0]
    return first_line.strip() == FOREIGN_KEYS_OFF


def split_statements(migration: Migration) -> list[str]:
    """The migration's statements, cut where ``sqlite3.complete_statement`` says one ends."""
    sql = migration.sql or ""
    statements: list[str] = []
    start = 0
    for end, char in enumerate(sql, 1):
        if char == ";" and sqlite3.complete_statement(sql[start:end]):
            statements.append(sql[start:end].strip())
            start = end
    if any(line.strip() and not line.strip().startswith("--") for line in sql[start:].splitlines()):
        raise StorageError(MIGRATION_SET_INVALID, f"{label(migration)}: text after the last ';'")
    return statements


# --- history -----------------------------------------------------------------------------


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    query = "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?"
    return conn.execute(query, (name,)).fetchone() is not None


def read_history(conn: sqlite3.Connection) -> tuple[AppliedMigration, ...]:
    """History rows in the order they were applied (applied_at, then rowid); () if none."""
    if not _has_table(conn, HISTORY_TABLE):
        return ()
    columns = {row[1] for row in conn.execute("SELECT * FROM pragma_table_info(?)", (HISTORY_TABLE,))}
    if not {"version", "name", "checksum", "applied_at"} <= columns:
        raise StorageError(
            MIGRATION_HISTORY_INVALID,
            f"{HISTORY_TABLE} has columns {sorted(columns)}: not this engine's history table",
        )
    rows = conn.execute(
        "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY applied_at, rowid"
    ).fetchall()
    if any(not isinstance(version, int) for version, *_ in rows):
        raise StorageError(MIGRATION_HISTORY_INVALID, f"{HISTORY_TABLE} holds non-integer versions")
    return tuple(AppliedMigration(*row) for row in rows)


def check_continuity(history: Sequence[AppliedMigration], migrations: Sequence[Migration]) -> int:
    """The applied version if ``history`` is an unaltered, in-order prefix; else raise."""
    known = {m.version: m for m in migrations}
    versions = [row.version for row in history]
    unknown = [v for v in versions if v not in known]
    if unknown:
        raise StorageError(
            MIGRATION_UNKNOWN_VERSION,
            f"history records version(s) {unknown} this engine does not ship (head is {len(known)})",
        )
    missing = sorted(set(range(1, max(versions, default=0) + 1)) - set(versions))
    if missing:
        raise StorageError(MIGRATION_GAP, f"history records {sorted(versions)}: missing {missing}")
    if versions != sorted(versions):
        raise StorageError(MIGRATION_OUT_OF_ORDER, f"history was applied in the order {versions}")
    for row in history:
        shipped = known[row.version]
        if (row.name, row.checksum) != (shipped.name, shipped.checksum):
            raise StorageError(
                MIGRATION_CHECKSUM_MISMATCH,
                f"version {row.version} was applied as '{row.name}' {row.checksum[:12]}…, "
                f"the engine ships '{shipped.name}' {shipped.checksum[:12]}…",
            )
    return len(versions)


def insert_history(conn: sqlite3.Connection, migration: Migration, applied_at: str) -> None:
    conn.execute(
        "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)",
        (migration.version, migration.name, migration.checksum, applied_at),
    )


# --- applying ----------------------------------------------------------------------------


@contextmanager
def transaction(conn: sqlite3.Connection, what: str) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``; any failure rolls back.

    Failing to start is classified (``db_busy``…): nothing began. A SQLite error once begun
    is ``migration_failed``; StorageErrors raised inside keep their code.
    """
    with sqlite_errors(f"{what}: cannot begin"):
        conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        _rollback(conn)
        name = getattr(exc, "sqlite_errorname", None) or type(exc).__name__
        raise StorageError(MIGRATION_FAILED, f"{what}: {name}: {exc}") from exc
    except BaseException:
        _rollback(conn)
        raise


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:  # some errors (FULL, IOERR) have already rolled back
        conn.execute("ROLLBACK")


def set_foreign_keys(conn: sqlite3.Connection, enabled: bool) -> None:
    conn.execute(f"PRAGMA foreign_keys = {'ON' if enabled else 'OFF'}")
    (actual,) = conn.execute("PRAGMA foreign_keys").fetchone()
    if actual != int(enabled):
        raise StorageError(MIGRATION_FAILED, f"PRAGMA foreign_keys stayed {actual} (inside a transaction?)")


def apply(conn: sqlite3.Connection, migration: Migration, record: Record) -> None:
    """Run ``migration`` and ``record`` its history row in one transaction."""
    keys_off = needs_foreign_keys_off(migration)
    if keys_off:
        set_foreign_keys(conn, False)
    try:
        with transaction(conn, label(migration)):
            conn.execute(HISTORY_DDL)
            for statement in split_statements(migration):
                conn.execute(statement).fetchall()
            _check_foreign_keys(conn, migration)
            conn.execute(f"PRAGMA user_version = {migration.version}")
            record(conn, migration)
    finally:
        if keys_off:
            set_foreign_keys(conn, True)


def _check_foreign_keys(conn: sqlite3.Connection, migration: Migration) -> None:
    violations = conn.execute("PRAGMA foreign_key_check").fetchall()
    if violations:
        table, rowid, parent, _ = violations[0]
        raise StorageError(
            MIGRATION_FK_VIOLATION,
            f"{label(migration)}: {len(violations)} row(s) break a foreign key, "
            f"first {table} rowid {rowid} -> {parent}; rolled back",
        )


def baseline(
    conn: sqlite3.Connection, applied: Sequence[Migration], record: Record, expected: Fingerprint
) -> None:
    """Record the migrations a legacy (history-less) database already has, data untouched.

    The schema is re-fingerprinted under the write lock: it was recognised on another
    connection, and another writer may have changed it since.
    """
    with transaction(conn, f"baseline at version {len(applied)}"):
        if fingerprint(conn) != expected:
            raise StorageError(MIGRATION_LEGACY_UNRECOGNISED, "schema changed while being recognised")
        conn.execute(HISTORY_DDL)
        for migration in applied:
            record(conn, migration)
        conn.execute(f"PRAGMA user_version = {len(applied)}")


# --- legacy recognition ------------------------------------------------------------------


def fingerprint(conn: sqlite3.Connection) -> Fingerprint:
    """The schema, normalised: tables (columns, keys, indexes incl. partial WHERE), views, triggers.

    Column order and whitespace are ignored; SQLite's automatic index names are replaced by
    their definition. The history table is not part of the schema being recognised.
    """
    tables = [
        name
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite!_%' ESCAPE '!' "
            "AND name != ? ORDER BY name",
            (HISTORY_TABLE,),
        )
    ]
    others = tuple(
        (kind, name, _normalise(sql))
        for kind, name, sql in conn.execute(
            "SELECT type, name, sql FROM sqlite_schema WHERE type IN ('view', 'trigger') ORDER BY name"
        )
    )
    return (tuple(_describe_table(conn, table) for table in tables), others)


def _describe_table(conn: sqlite3.Connection, table: str) -> tuple[object, ...]:
    columns = sorted(
        (name, decl.upper(), notnull, _normalise(default), pk)
        for _, name, decl, notnull, default, pk in conn.execute(
            "SELECT * FROM pragma_table_info(?)", (table,)
        )
    )
    keys = sorted(
        tuple(row[2:])
        for row in conn.execute("SELECT * FROM pragma_foreign_key_list(?)", (table,))
    )
    indexes = sorted(
        _describe_index(conn, name, unique, origin, partial)
        for _, name, unique, origin, partial in conn.execute(
            "SELECT * FROM pragma_index_list(?)", (table,)
        )
    )
    return (table, tuple(columns), tuple(keys), tuple(indexes))


def _describe_index(
    conn: sqlite3.Connection, name: str, unique: int, origin: str, partial: int
) -> tuple[object, ...]:
    columns = tuple(  # an expression column has no name
        column or "<expr>"
        for _, _, column in conn.execute("SELECT * FROM pragma_index_info(?)", (name,))
    )
    where = None
    if partial:
        (sql,) = conn.execute("SELECT sql FROM sqlite_schema WHERE name = ?", (name,)).fetchone()
        where = _normalise(re.split(r"\bWHERE\b", sql, maxsplit=1, flags=re.IGNORECASE)[1])
    return (name if origin == "c" else origin, unique, columns, where)


def _normalise(text: str | None) -> str | None:
    if text is None:
        return None
    return re.sub(r"\s*([^\w\s])\s*", r"\1", " ".join(text.split())).lower()


def schema_fingerprints(migrations: Sequence[Migration]) -> tuple[Fingerprint, ...]:
    """Fingerprint after the first k migrations, for k = 0..n, built in an in-memory database."""
    with closing(sqlite3.connect(":memory:", isolation_level=None)) as conn:
        prints = [fingerprint(conn)]
        for migration in migrations:
            try:
                for statement in split_statements(migration):
                    conn.execute(statement).fetchall()
            except sqlite3.Error as exc:
                raise StorageError(
                    MIGRATION_SET_INVALID, f"{label(migration)} fails on a new database: {exc}"
                ) from exc
            prints.append(fingerprint(conn))
    return tuple(prints)


def recognise(current: Fingerprint, prints: Sequence[Fingerprint]) -> int:
    """How many migrations a history-less schema already has.

    Data-only migrations leave the schema unchanged, so several k can match; the lowest is
    chosen and the later ones run again, which is why data migrations must be idempotent
    (``INSERT OR IGNORE``).
    """
    for applied, expected in enumerate(prints):
        if expected == current:
            return applied
    raise StorageError(
        MIGRATION_LEGACY_UNRECOGNISED,
        "the schema matches no prefix of this engine's migrations; left untouched",
    )
