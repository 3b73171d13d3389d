"""The start a killed application leaves a WAL database in: its last commit only in the -wal.

An application that dies (or is killed) with its connection open never checkpoints: the
transactions it committed last live only in ``-wal`` until the next connection replays them.
That is the start a migration most often meets on a real device, and the one that tells a
snapshot taken from the main file alone (a plain file copy, no checkpoint) from a correct
one: the copy lacks those transactions. From a copy of a WAL fixture this makes the same
logical content with the last row of one table committed only in the WAL: that row is
deleted in rollback-journal mode (so the main file lacks it), then inserted back with the
same rowid and values by ``corruption.wal.make_wal_state`` (a process that commits in WAL
mode and ends without closing).

The table is the first by name that has rows, a rowid, no trigger and is no virtual table
or one of its shadow tables, so deleting and re-inserting the row changes nothing else
(foreign keys are not enforced on this connection, so nothing cascades). If the result does
not read as the same logical state, the copy is put back and nothing is said.
"""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

from harness.checks.states import state_of
from harness.corruption.catalogue import Unsupported
from harness.corruption.wal import make_wal_state

WAL_MODE = 2  # the file format bytes (offsets 18 and 19) of a WAL database


def is_wal(db: Path) -> bool:
    with open(db, "rb") as handle:
        header = handle.read(20)
    return len(header) == 20 and header[18] == header[19] == WAL_MODE


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _pick(conn: sqlite3.Connection) -> tuple[str, int, list[str], list[str]] | None:
    """(table, rowid, columns, values as SQL literals) of the row to move into the WAL."""
    rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_schema").fetchall()
    virtual = [name for kind, name, _, sql in rows if kind == "table" and (sql or "").upper().startswith("CREATE VIRTUAL")]
    triggered = {table for kind, _, table, _ in rows if kind == "trigger"}
    for kind, name, _, _ in sorted(rows, key=lambda row: row[1]):
        if kind != "table" or name.startswith("sqlite_") or name in virtual or name in triggered \
                or any(name.startswith(v + "_") for v in virtual):
            continue
        columns = [row[1] for row in conn.execute(f"PRAGMA table_xinfo({_quote(name)})") if not row[6]]
        literals = ", ".join(f"quote({_quote(column)})" for column in columns)
        try:
            found = conn.execute(f"SELECT rowid, {literals} FROM {_quote(name)} ORDER BY rowid DESC LIMIT 1").fetchone()
        except sqlite3.Error:  # WITHOUT ROWID
            continue
        if found is not None:
            return name, found[0], columns, list(found[1:])
    return None


def _move_into_wal(db: Path) -> str:
    """Delete the picked row in rollback mode, re-insert it committed only in the WAL; what
    was done ("" when nothing fits or SQLite refuses)."""
    try:
        with closing(sqlite3.connect(db, isolation_level=None)) as conn:
            picked = _pick(conn)
            if picked is None:
                return ""
            table, rowid, columns, values = picked
            conn.execute("PRAGMA journal_mode=DELETE").fetchall()
            conn.execute(f"DELETE FROM {_quote(table)} WHERE rowid = ?", (rowid,))
        names = ", ".join(["rowid", *(_quote(c) for c in columns)])
        make_wal_state(db, statements=[f"INSERT INTO {_quote(table)} ({names}) VALUES ({rowid}, {', '.join(values)})"])
    except (sqlite3.Error, Unsupported):
        return ""
    return f"row {rowid} of {table} committed only in {db.name}-wal"


def leave_last_commit_in_wal(db: Path, history_format: str | None = None) -> str:
    """Turn ``db`` (a WAL database, alone in its directory) into that start; what was done,
    or "" when it is no WAL database or no table fits (then ``db`` is unchanged)."""
    if not is_wal(db):
        return ""
    before = state_of(db, history_format)
    original = db.with_name(db.name + ".harness-original")
    shutil.copyfile(db, original)
    try:
        done = _move_into_wal(db)
        if done and state_of(db, history_format) == before:
            return done
        for suffix in ("-wal", "-shm", "-journal"):
            db.with_name(db.name + suffix).unlink(missing_ok=True)
        shutil.copyfile(original, db)
        return ""
    finally:
        original.unlink()
