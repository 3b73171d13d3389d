"""The startup path's parts: telling corruption from a passing fault, quarantine, restore.

Nothing here deletes user data. A damaged database is evidence: it is moved (never copied
and deleted) together with its ``-wal``/``-shm``/``-journal`` into a directory of its own,
because a WAL separated from its database is lost or, worse, replayed into another one.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from harness.reference import snapshots
from harness.reference.connection import SIDECAR_SUFFIXES, connect_readonly, sidecar
from harness.reference.durable import fsync_directory, make_dirs
from harness.reference.errors import (
    DB_CORRUPT,
    DB_IO_ERROR,
    DB_RESTORE_FAILED,
    StorageError,
    sqlite_errors,
)

SQLITE_MAGIC = b"SQLite format 3\x00"


def looks_corrupt(db: Path, open_connection: Callable[[], sqlite3.Connection]) -> bool:
    """One look: the header's magic string, then ``quick_check`` on a new connection.

    CORRUPT / NOTADB / "malformed" (raised, often before quick_check even runs) or a row
    other than ``ok`` means corrupt; busy, full, read-only and I/O errors say nothing about
    the file and are raised as their own StorageError.
    """
    if has_foreign_header(db):
        return True
    try:
        with closing(open_connection()) as conn, sqlite_errors("quick_check"):
            return conn.execute("PRAGMA quick_check").fetchall() != [("ok",)]
    except StorageError as exc:
        if exc.code == DB_CORRUPT:
            return True
        raise


def has_foreign_header(db: Path) -> bool:
    """The file does not start with SQLite's magic string (SQLite would say NOTADB).

    Checked on the bytes because SQLite, when a ``-wal`` exists, opens it and writes read
    marks into ``-shm`` before it reads the header: the evidence would change.
    """
    if not db.is_file():
        return False  # a directory or device: SQLite's CANTOPEN says it better
    try:
        with open(db, "rb") as file:
            head = file.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise StorageError(DB_IO_ERROR, f"read header of {db.name}: {exc}") from exc
    return len(head) == len(SQLITE_MAGIC) and head != SQLITE_MAGIC  # shorter: SQLite decides


EVIDENCE_DIRNAME = ".startup-evidence"


def keep_hot_journal(db: Path) -> Path | None:
    """Copy the database and its hot journal aside before SQLite rolls the journal back.

    Rolling back deletes the journal, and a damaged one leaves a damaged database: if the
    file then has to be quarantined, the journal as it was must go with it. A copy we make
    ourselves is ours to drop when the file turns out fine.
    """
    journal = sidecar(db, "-journal")
    if not (db.is_file() and journal.is_file() and journal.stat().st_size > 0):
        return None
    into = db.parent / EVIDENCE_DIRNAME
    make_dirs(into)
    for source in (db, journal):
        shutil.copy2(source, into / source.name)
        with open(into / source.name, "rb+") as copy:
            os.fsync(copy.fileno())
    fsync_directory(into)
    return into


def discard_evidence(evidence: Path | None) -> None:
    if evidence is not None:
        shutil.rmtree(evidence, ignore_errors=True)


def file_evidence(evidence: Path | None, quarantined: Path) -> None:
    """Move the pre-rollback copies into the quarantine, as ``before-rollback/``."""
    if evidence is not None:
        os.replace(evidence, quarantined / "before-rollback")
        fsync_directory(quarantined)
        fsync_directory(evidence.parent)


def holds_no_tables(db: Path) -> bool:
    """An existing database with no table at all (a zero-length file is a valid, empty one)."""
    if db.stat().st_size == 0:
        return True
    with closing(connect_readonly(db)) as conn:
        return conn.execute("SELECT count(*) FROM sqlite_schema WHERE type = 'table'").fetchone()[0] == 0


def make_quarantine_dir(root: Path, stem: str, stamp: str) -> Path:
    """A new directory ``root/<stem>-<stamp>-<n>``: mkdir is exclusive, so n is bumped
    until one is created and two quarantines never share (or overwrite) a directory."""
    make_dirs(root)
    n = 0
    while True:
        path = root / f"{stem}-{stamp}-{n}"
        try:
            os.mkdir(path)
        except FileExistsError:
            n += 1
            continue
        fsync_directory(root)  # else the quarantine, and the files moved into it, vanish in a power cut
        return path


def move_together(db: Path, into: Path) -> None:
    """Rename ``db`` and its sidecars into ``into`` (same file system), names unchanged.

    The database goes first: if this is interrupted, what is left behind is sidecars
    without a database, which the next start quarantines too.
    """
    for source in (db, *(sidecar(db, suffix) for suffix in SIDECAR_SUFFIXES)):
        if source.exists():
            os.replace(source, into / source.name)  # ``into`` is new: nothing is overwritten
    fsync_directory(db.parent)
    fsync_directory(into)


def restore(snapshot: Path, db: Path) -> None:
    """Copy ``snapshot`` to ``db`` via the backup API and a verified temp file, then rename.

    The rename is atomic, so ``db`` is either absent or a complete, verified copy.
    """
    fd, name = tempfile.mkstemp(dir=db.parent, prefix=f".{db.name}.", suffix=".restoring")
    os.close(fd)
    temp = Path(name)
    try:
        with closing(connect_readonly(snapshot)) as source, closing(sqlite3.connect(temp)) as target:
            source.backup(target)
        if not snapshots.verify(temp):
            raise StorageError(DB_RESTORE_FAILED, f"copy of {snapshot.name} failed verification")
        os.replace(temp, db)
    except BaseException:
        temp.unlink(missing_ok=True)  # our own partial copy; the snapshot is untouched
        raise
    fsync_directory(db.parent)
