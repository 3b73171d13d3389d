"""Reference-engine variants that differ only in how they copy or make names durable.

Each is what a real application might write: snapshots with the idiomatic file copies
(``shutil.copyfile`` = sendfile, ``os.copy_file_range`` = what Rust's ``std::fs::copy``
uses), with and without the care a power cut needs.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

from harness.engines.protocol import Migration
from harness.reference import ReferenceEngine, migrator
from harness.reference.durable import fsync_directory, make_dirs


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _CopySnapshot(ReferenceEngine):
    """Snapshots by copying the file: checkpoint (or not), copy to a temporary name, fsync,
    rename into ``backups/``, fsync the directory."""

    checkpoint = True

    def copy(self, source: Path, target: Path) -> None:
        shutil.copyfile(source, target)

    def take_snapshot(self, db: Path) -> Path:
        backups = db.parent / self.backups_dirname
        make_dirs(backups)
        with closing(sqlite3.connect(db, isolation_level=None)) as conn:
            if self.checkpoint:  # every committed page into the main file before copying it
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            final = backups / f"{db.stem}-{self._stamp()}-000-v{version:04d}{db.suffix}"
            temp = backups / (final.name + ".part")
            self.copy(db, temp)
        _fsync(temp)
        os.replace(temp, final)
        fsync_directory(backups)
        return final


class CopyfileSnapshot(_CopySnapshot):
    """Correct: a checkpoint, then ``shutil.copyfile`` (sendfile in the kernel)."""


class CopyFileRangeSnapshot(_CopySnapshot):
    """Correct: a checkpoint, then ``copy_file_range`` from the descriptors' positions, as
    Rust's ``std::fs::copy`` does."""

    def copy(self, source: Path, target: Path) -> None:
        with open(source, "rb") as src, open(target, "wb") as dst:
            while os.copy_file_range(src.fileno(), dst.fileno(), 1 << 20):
                pass


class WalBlindSnapshot(_CopySnapshot):
    """Copies the main file alone, without a checkpoint: commits still in the -wal are
    missing from the snapshot."""

    checkpoint = False


class UnsyncedSnapshotName(CopyfileSnapshot):
    """Copies and fsyncs the snapshot but never syncs a directory: ``backups/`` and the
    snapshot's entry in it are lost in a power cut."""

    def take_snapshot(self, db: Path) -> Path:
        backups = db.parent / self.backups_dirname
        backups.mkdir(exist_ok=True)
        with closing(sqlite3.connect(db, isolation_level=None)) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        final = backups / f"{db.stem}-{self._stamp()}-000-v{version:04d}{db.suffix}"
        shutil.copyfile(db, final)
        _fsync(final)
        return final


class UnsyncedBackupsDir(ReferenceEngine):
    """The online backup API into a new ``backups/`` without a directory sync afterwards:
    SQLite deletes the backup's rollback journal to commit it, and that deletion is lost in
    a power cut, so the copy rolls back to nothing."""

    def take_snapshot(self, db: Path) -> Path:
        backups = db.parent / self.backups_dirname
        backups.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(db)) as source:
            version = source.execute("PRAGMA user_version").fetchone()[0]
            path = backups / f"{db.stem}-{self._stamp()}-000-v{version:04d}{db.suffix}"
            with closing(sqlite3.connect(path)) as target:
                source.backup(target)
        return path


class UnsyncedQuarantineDir(ReferenceEngine):
    """Creates each quarantine directory without syncing ``corrupted/``: the damaged
    original, moved into it, is unreachable after a power cut."""

    def quarantine_dir(self, db: Path) -> Path:
        root = db.parent / self.corrupted_dirname
        root.mkdir(exist_ok=True)
        path = root / f"{db.stem}-{self._stamp()}-0"
        path.mkdir()
        return path


class MemoryJournal(ReferenceEngine):
    """Keeps its rollback journal in memory: a crash mid-commit leaves half a migration."""

    def connect(self, db: Path) -> sqlite3.Connection:
        conn = sqlite3.connect(db, isolation_level=None, timeout=0)
        conn.execute("PRAGMA journal_mode=MEMORY").fetchall()
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn


class SplitCommits(ReferenceEngine):
    """Commits each migration, then records it in a second transaction: a crash between the
    two leaves a migrated schema the history does not show (refinery's default)."""

    def apply_migration(self, conn: sqlite3.Connection, migration: Migration) -> None:
        with migrator.transaction(conn, migrator.label(migration)):
            conn.execute(migrator.HISTORY_DDL)
            for statement in migrator.split_statements(migration):
                conn.execute(statement).fetchall()
            conn.execute(f"PRAGMA user_version = {migration.version}")
        with migrator.transaction(conn, "history"):
            self.record_history(conn, migration)


class FlakyUntilKilled(SplitCommits):
    """Splits its commits until it has once been killed between them (or in the first), then
    never again: the fault point that caught it passes when run again (a flaky engine).
    ``state`` is a directory of its own, outside any data directory, where it notices that."""

    def __init__(self, state: str, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.state = Path(state)

    def migrate(self, db: Path, target: int | None = None) -> None:
        between = self.state / "between"
        if between.exists():  # the last run died between a migration and its history row
            (self.state / "burned").touch()
            between.unlink()
        super().migrate(db, target)

    def apply_migration(self, conn: sqlite3.Connection, migration: Migration) -> None:
        if (self.state / "burned").exists():
            ReferenceEngine.apply_migration(self, conn, migration)
            return
        between = self.state / "between"
        between.touch()  # from before the first commit to after the second
        super().apply_migration(conn, migration)
        between.unlink()
