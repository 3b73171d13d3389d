"""The engine's structured self-report, read without changing a byte of the database.

A damaged file still gets a report: each part that cannot be read says so (integrity
carries SQLite's message, continuity the error code, foreign-key violations -1) rather
than the whole report failing. Only passing conditions (busy, I/O…) raise.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from contextlib import closing
from pathlib import Path
from typing import TypeVar

from harness.engines.protocol import Diagnostics, Migration
from harness.reference import migrator
from harness.reference.connection import connect_readonly
from harness.reference.errors import DB_NOT_FOUND, TRANSIENT, StorageError, classify

T = TypeVar("T")


def collect(
    db: Path,
    migrations: Sequence[Migration],
    validate: Callable[[sqlite3.Connection], int],
    timeout_ms: int,
) -> Diagnostics:
    if not db.exists():
        raise StorageError(DB_NOT_FOUND, f"{db.name} does not exist")
    with closing(connect_readonly(db, timeout_ms)) as conn:
        integrity = _safely(lambda: _integrity(conn), "integrity_check")
        history = _safely(lambda: migrator.read_history(conn), "read history")
        continuity = _safely(lambda: validate(conn), "check continuity")
        violations = _safely(lambda: _count(conn, "PRAGMA foreign_key_check"), "foreign_key_check")
        user_version = _safely(lambda: conn.execute("PRAGMA user_version").fetchone()[0], "user_version")
    rows = history if isinstance(history, tuple) else ()
    return Diagnostics(
        schema_version=max((row.version for row in rows), default=None),
        applied_migrations=len(rows),
        expected_migrations=len(migrations),
        continuity="ok" if isinstance(continuity, int) else continuity.code,
        integrity=integrity if isinstance(integrity, str) else integrity.message,
        foreign_key_violations=violations if isinstance(violations, int) else -1,
        extra={
            "user_version": user_version if isinstance(user_version, int) else None,
            "sqlite_version": sqlite3.sqlite_version,
        },
    )


def _integrity(conn: sqlite3.Connection) -> str:
    rows = conn.execute("PRAGMA integrity_check").fetchall()
    return "ok" if rows == [("ok",)] else str(rows[0][0])


def _count(conn: sqlite3.Connection, sql: str) -> int:
    return len(conn.execute(sql).fetchall())


def _safely(read: Callable[[], T], what: str) -> T | StorageError:
    """``read()``, or the StorageError that stopped it; transient conditions are raised."""
    try:
        return read()
    except sqlite3.Error as exc:
        error = classify(exc, what)
    except StorageError as exc:
        error = exc
    if error.code in TRANSIENT:
        raise error
    return error
