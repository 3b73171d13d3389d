"""Deliberately broken variants of the reference engine: each has the one bug a check exists for.

Each class overrides one small step of ``ReferenceEngine``; the tests gate it and expect
exactly the named case to go red (and the same case to be green on the correct engine).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

from harness.engines.protocol import Diagnostics, Migration
from harness.reference import ReferenceEngine
from harness.reference import migrator


class AcceptsGappedHistory(ReferenceEngine):
    """Trusts the newest recorded version: a history of 1,2,3,5 is taken as 'at 5'."""

    def validate_history(self, conn_ro: sqlite3.Connection) -> int:
        return max((row.version for row in migrator.read_history(conn_ro)), default=0)


class HistoryCommittedSeparately(ReferenceEngine):
    """Commits the migration, then records it in a second transaction (refinery's default)."""

    def apply_migration(self, conn: sqlite3.Connection, migration: Migration) -> None:
        keys_off = migrator.needs_foreign_keys_off(migration)
        if keys_off:
            migrator.set_foreign_keys(conn, False)
        try:
            with migrator.transaction(conn, migrator.label(migration)):
                conn.execute(migrator.HISTORY_DDL)
                for statement in migrator.split_statements(migration):
                    conn.execute(statement).fetchall()
                conn.execute(f"PRAGMA user_version = {migration.version}")
        finally:
            if keys_off:
                migrator.set_foreign_keys(conn, True)
        with migrator.transaction(conn, "history"):
            self.record_history(conn, migration)


class NoPosture(ReferenceEngine):
    """Opens the application's connection with SQLite's defaults and never checks them."""

    def connect(self, db: Path) -> sqlite3.Connection:
        return sqlite3.connect(db, isolation_level=None)


class LyingDiagnostics(ReferenceEngine):
    """Reports one migration fewer than it applied."""

    def diagnostics(self, db: Path) -> Diagnostics:
        real = super().diagnostics(db)
        count = real.applied_migrations - 1
        return Diagnostics(real.schema_version, count, count, real.continuity, real.integrity,
                           real.foreign_key_violations)


class NoSnapshot(ReferenceEngine):
    """Migrates without taking a snapshot first."""

    def take_snapshot(self, db: Path) -> Path:
        return self.snapshot_placeholder(db)

    def verify_snapshot(self, path: Path) -> bool:
        return True

    def snapshot_placeholder(self, db: Path) -> Path:
        return db  # "the snapshot is the database": nothing is copied

    def prune_snapshots(self, data_dir: Path) -> None:
        return None


class DeletingRecovery(ReferenceEngine):
    """Deletes the damaged database and its sidecars instead of quarantining them."""

    def quarantine(self, db: Path) -> Path:
        for path in (db, *(db.with_name(db.name + s) for s in ("-wal", "-shm", "-journal"))):
            if path.exists():
                path.unlink()
        return db.parent


class ForgetsWal(ReferenceEngine):
    """Quarantines the database file but leaves its -wal and -shm behind."""

    def quarantine(self, db: Path) -> Path:
        into = self.quarantine_dir(db)
        os.replace(db, into / db.name)
        return into


class UnverifiedRestore(ReferenceEngine):
    """Restores the newest snapshot without checking it."""

    def verify_snapshot(self, path: Path) -> bool:
        return True

    def restore(self, snapshot: Path, db: Path) -> None:
        shutil.copyfile(snapshot, db)


class OverwritingQuarantine(ReferenceEngine):
    """Quarantines into corrupted/<name>, the same place every time."""

    def quarantine_dir(self, db: Path) -> Path:
        path = db.parent / self.corrupted_dirname / db.stem
        path.mkdir(parents=True, exist_ok=True)
        return path


class ResetsToEmpty(ReferenceEngine):
    """With no snapshot to restore, starts over with an empty database and reports success."""

    def open(self, db: Path) -> None:
        try:
            super().open(db)
        except Exception as exc:  # noqa: BLE001 - the bug: any failure becomes a fresh start
            if getattr(exc, "code", None) != "db_recovery_no_snapshot":
                raise
            self.connect(db).close()


class QuarantinesOnTransientError(ReferenceEngine):
    """Treats any error while checking the file (busy, read error) as corruption."""

    def is_corrupt(self, db: Path) -> bool:
        try:
            return super().is_corrupt(db)
        except Exception:  # noqa: BLE001 - the bug
            return True


class SecondResolutionQuarantine(ReferenceEngine):
    """Names the quarantine directory after the current second: two recoveries within one
    second share it, and the second overwrites the first's files."""

    def quarantine_dir(self, db: Path) -> Path:
        import time

        path = db.parent / self.corrupted_dirname / f"{db.stem}-{time.strftime('%Y%m%dT%H%M%S')}"
        path.mkdir(parents=True, exist_ok=True)
        return path


class NoStartupCheck(ReferenceEngine):
    """Opens whatever is there without checking it."""

    def is_corrupt(self, db: Path) -> bool:
        return False
