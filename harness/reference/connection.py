"""Connections: the application's posture (applied, then proven) and a look that changes nothing.

A PRAGMA that SQLite cannot honour fails silently (``journal_mode=WAL`` on a read-only
medium answers ``delete``), so the posture is only trusted once each value is read back.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from harness.reference.errors import DB_POSTURE_MISMATCH, StorageError

#: Files SQLite keeps beside a database; they belong to it and move with it.
SIDECAR_SUFFIXES = ("-wal", "-shm", "-journal")


@dataclass(frozen=True)
class Posture:
    """The pragma values every application connection must run with."""

    busy_timeout_ms: int = 5000

    def statements(self) -> tuple[str, ...]:
        # busy_timeout first, so switching to WAL already waits for other connections.
        return (
            f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}",
            "PRAGMA journal_mode = WAL",
            "PRAGMA synchronous = NORMAL",
            "PRAGMA foreign_keys = ON",
        )

    def expected(self) -> dict[str, str | int]:
        return {
            "journal_mode": "wal",
            "synchronous": 1,
            "foreign_keys": 1,
            "busy_timeout": int(self.busy_timeout_ms),
        }


def sidecar(db: Path, suffix: str) -> Path:
    return db.with_name(db.name + suffix)


def existing_sidecars(db: Path) -> list[Path]:
    return [p for p in (sidecar(db, s) for s in SIDECAR_SUFFIXES) if p.exists()]


def open_autocommit(db: Path) -> sqlite3.Connection:
    """A bare connection in autocommit mode: transactions are always explicit.

    ``timeout=0`` so that the waiting done is the posture's ``busy_timeout``, not a default.
    """
    return sqlite3.connect(db, isolation_level=None, timeout=0)


def open_plain(db: Path, busy_timeout_ms: int) -> sqlite3.Connection:
    """A connection that changes nothing about the file (no journal-mode switch): for looking
    at a database that may be damaged. SQLite's own recovery (a hot journal rolled back, a
    WAL replayed) still happens, as it must before the content can be judged."""
    return sqlite3.connect(db, isolation_level=None, timeout=busy_timeout_ms / 1000)


def apply_posture(conn: sqlite3.Connection, posture: Posture) -> None:
    for statement in posture.statements():
        conn.execute(statement).fetchall()


def read_posture(conn: sqlite3.Connection) -> dict[str, str | int]:
    """The values in force, as SQLite reports them (synchronous as its number)."""
    values: dict[str, str | int] = {}
    for pragma in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout"):
        (value,) = conn.execute(f"PRAGMA {pragma}").fetchone()
        values[pragma] = value.lower() if isinstance(value, str) else int(value)
    return values


def verify_posture(conn: sqlite3.Connection, posture: Posture) -> None:
    actual = read_posture(conn)
    for pragma, expected in posture.expected().items():
        if actual[pragma] != expected:
            raise StorageError(
                DB_POSTURE_MISMATCH,
                f"PRAGMA {pragma}: expected {expected!r}, got {actual[pragma]!r}",
            )


def connect_readonly(db: Path, timeout_ms: int = 0) -> sqlite3.Connection:
    """Open ``db`` so that neither it nor its directory can change.

    ``mode=ro`` alone is not enough: on a WAL database without a ``-wal`` file it creates
    ``-wal`` and ``-shm`` and leaves them behind. Without ``-wal`` (or a hot ``-journal``)
    the main file holds every committed page, so ``immutable=1`` reads it exactly and
    creates nothing. With one present, only ``mode=ro`` sees the committed state.
    """
    unreplayed = sidecar(db, "-wal").exists() or sidecar(db, "-journal").exists()
    params = "mode=ro" if unreplayed else "mode=ro&immutable=1"
    uri = f"{db.resolve().as_uri()}?{params}"
    return sqlite3.connect(uri, uri=True, isolation_level=None, timeout=timeout_ms / 1000)
