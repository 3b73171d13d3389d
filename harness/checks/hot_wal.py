"""The start a killed application leaves a WAL database in: its last commit only in the -wal.

An application that dies (or is killed) with its connection open never checkpoints: the
transactions it committed last live only in ``-wal`` until the next connection replays them.
That is the start a migration most often meets on a real device, and the one that tells a
snapshot taken from the main file alone (a plain file copy, no checkpoint) from a correct
one: the copy lacks those transactions. From a copy of a WAL fixture this makes the same
logical content with the last row of one table committed only in the WAL: that row is
deleted in rollback-journal mode (so the main file lacks it), then, in WAL mode, inserted
back with the same rowid and values by a forked process that ends without closing.

The table is the first by name that has rows, a rowid, no trigger and is no virtual table
or one of its shadow tables, so deleting and re-inserting the row changes nothing else
(foreign keys are not enforced on this connection, so nothing cascades). If the result does
not read as the same logical state, the copy is put back and nothing is said.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

from harness.checks.states import state_of
from harness.tracing import fork

WAL_MODE = 2  # the file format bytes (offsets 18 and 19) of a WAL database


def is_wal(db: Path) -> bool:
    with open(db, "rb") as handle:
        header = handle.read(20)
    return len(header) == 20 and header[18] == header[19] == WAL_MODE


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _pick(conn: sqlite3.Connection) -> tuple[str, int, list[str], tuple[object, ...]] | None:
    rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_schema").fetchall()
    virtual = [name for kind, name, _, sql in rows if kind == "table" and (sql or "").upper().startswith("CREATE VIRTUAL")]
    triggered = {table for kind, _, table, _ in rows if kind == "trigger"}
    for kind, name, _, sql in sorted(rows, key=lambda row: row[1]):
        if kind != "table" or name.startswith("sqlite_") or name in virtual or name in triggered \
                or any(name.startswith(v + "_") for v in virtual):
            continue
        try:
            found = conn.execute(f"SELECT rowid, * FROM {_quote(name)} ORDER BY rowid DESC LIMIT 1").fetchone()
        except sqlite3.Error:  # WITHOUT ROWID
            continue
        if found is None:
            continue
        columns = [row[1] for row in conn.execute(f"PRAGMA table_xinfo({_quote(name)})")]
        hidden = {row[1] for row in conn.execute(f"PRAGMA table_xinfo({_quote(name)})") if row[6]}
        keep = [i for i, column in enumerate(columns) if column not in hidden]
        return name, found[0], [columns[i] for i in keep], tuple(found[1:][i] for i in keep)
    return None


def _leave_in_wal(db: Path) -> str:
    """In a forked child: the row moved into the WAL; the process then ends without closing."""
    conn = sqlite3.connect(db, isolation_level=None)
    picked = _pick(conn)
    if picked is None:
        return ""
    table, rowid, columns, values = picked
    conn.execute("PRAGMA journal_mode=DELETE").fetchall()
    conn.execute(f"DELETE FROM {_quote(table)} WHERE rowid = ?", (rowid,))
    conn.execute("PRAGMA journal_mode=WAL").fetchall()
    conn.execute("PRAGMA wal_autocheckpoint=0")
    names = ", ".join(["rowid", *(_quote(c) for c in columns)])
    conn.execute(f"INSERT INTO {_quote(table)} ({names}) VALUES ({', '.join('?' * (len(columns) + 1))})",
                 (rowid, *values))
    fork.note(f"row {rowid} of {table} committed only in {db.name}-wal")
    os._exit(0)  # no close, so no checkpoint: the WAL keeps the commit


def leave_last_commit_in_wal(db: Path, history_format: str | None = None) -> str:
    """Turn ``db`` (a WAL database, alone in its directory) into that start; what was done,
    or "" when it is no WAL database or no table fits (then ``db`` is unchanged)."""
    if not is_wal(db):
        return ""
    before = state_of(db, history_format)
    original = db.with_name(db.name + ".harness-original")
    shutil.copyfile(db, original)
    try:
        report = fork.run_forked(lambda: _leave_in_wal(db), timeout=60)
        done = str(report.notes[-1]) if report.notes else ""
        if done and state_of(db, history_format) == before:
            return done
        for suffix in ("-wal", "-shm", "-journal"):
            db.with_name(db.name + suffix).unlink(missing_ok=True)
        shutil.copyfile(original, db)
        return ""
    finally:
        original.unlink()
