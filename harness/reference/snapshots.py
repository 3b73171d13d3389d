"""Pre-migration snapshots: online-backup copies that only count once verified.

A name is ``<stem>-<UTC stamp, microseconds>-<counter>-v<user_version><suffix>``: fixed-width
fields, so name order is age order, and the counter is bumped until the name is free (the
file is then created with O_EXCL), so two snapshots never share one. An unverifiable
snapshot is renamed ``….invalid``: never kept as valid, never deleted. Retention is the
only place the engine deletes anything a user could need, and only old snapshots.
"""

from __future__ import annotations

import glob
import os
import re
import sqlite3
from collections import defaultdict
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from harness.reference.connection import connect_readonly
from harness.reference.durable import fsync_directory, make_dirs

INVALID_SUFFIX = ".invalid"
_NAME = re.compile(
    r"^(?P<stem>.+)-(?P<stamp>\d{8}T\d{12}Z)-(?P<counter>\d{3,})-v(?P<version>\d{4,})"
    r"(?P<suffix>(?:\.[^.-]*)?)$"
)


def create(db: Path, backups: Path, stamp: str, timeout_ms: int) -> Path:
    """Copy ``db`` with SQLite's online backup API (consistent even mid-WAL) into ``backups``."""
    make_dirs(backups)
    with closing(sqlite3.connect(db, timeout=timeout_ms / 1000)) as source:
        (version,) = source.execute("PRAGMA user_version").fetchone()
        path = _claim_name(backups, db, stamp, version)
        try:
            with closing(sqlite3.connect(path)) as target:
                source.backup(target)  # SQLite fsyncs the copy when the backup commits
        except BaseException:
            set_aside(path)
            raise
    fsync_directory(backups)  # the snapshot's name: without it a power cut loses the file
    return path


def _claim_name(backups: Path, db: Path, stamp: str, version: int) -> Path:
    counter = 0
    while True:
        prefix = f"{db.stem}-{stamp}-{counter:03d}-"
        counter += 1
        if any(backups.glob(glob.escape(prefix) + "*")):  # taken, whatever its version
            continue
        path = backups / f"{prefix}v{version:04d}{db.suffix}"
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            continue
        return path


def verify(path: Path) -> bool:
    """integrity_check ok, foreign_key_check clean, and not empty; read without changing it.

    Emptiness matters: a backup interrupted right after its name was claimed leaves an
    empty file, which SQLite reads as a perfectly healthy database of nothing.
    """
    try:
        with closing(connect_readonly(path)) as conn:
            return (
                conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
                and not conn.execute("PRAGMA foreign_key_check").fetchall()
                and conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0] > 0
            )
    except sqlite3.Error:
        return False


def set_aside(path: Path) -> Path:
    """Rename ``path`` to ``<name>.invalid`` (``<name>.<n>.invalid`` if taken)."""
    target = path.with_name(path.name + INVALID_SUFFIX)
    n = 0
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.{n}{INVALID_SUFFIX}")
    os.replace(path, target)
    return target


def of_database(backups: Path, db: Path) -> list[Path]:
    """The snapshots of ``db`` (not set aside), newest first."""
    return _families(backups).get((db.stem, db.suffix), [])


def prune(backups: Path, keep: int, is_valid: Callable[[Path], bool]) -> None:
    """Delete, per database, every snapshot older than its ``keep``-th newest valid one.

    Invalid snapshots among the newest are left in place and do not count: retention must
    never leave fewer than ``keep`` restorable generations because some have rotted.
    """
    for snapshots in _families(backups).values():
        valid = 0
        for path in snapshots:
            if valid >= keep:
                path.unlink()
            elif is_valid(path):
                valid += 1


def _families(backups: Path) -> dict[tuple[str, str], list[Path]]:
    if not backups.is_dir():
        return {}
    found: dict[tuple[str, str], list[tuple[str, int, Path]]] = defaultdict(list)
    for path in backups.iterdir():
        match = _NAME.match(path.name)
        if match and path.is_file():
            key = (match["stem"], match["suffix"])
            found[key].append((match["stamp"], int(match["counter"]), path))
    return {key: [p for *_, p in sorted(items, reverse=True)] for key, items in found.items()}
