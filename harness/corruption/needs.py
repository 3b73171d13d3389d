"""Starting states: whether a setup meets a kind's ``needs``, and making the ones that can be made."""

from __future__ import annotations

import random
import sqlite3
from dataclasses import replace
from pathlib import Path

from harness.corruption import catalogue as c
from harness.sqlite.pages import Reader, read_journal, read_wal

FREE_TABLE = "harness_free_pages"


def met(need: str, setup: c.DamageSetup) -> bool:
    db = setup.db
    if need == c.NEED_WAL:
        return setup.wal.is_file() and bool(read_wal(setup.wal, verify=False).commits)
    if need == c.NEED_JOURNAL:
        return setup.journal.is_file() and read_journal(setup.journal).hot_candidate
    if need == c.NEED_OTHER:
        if setup.other is None:
            return False
        wal = setup.other.with_name(setup.other.name + "-wal")
        return wal.is_file() and bool(read_wal(wal, verify=False).commits)
    if need == c.NEED_SNAPSHOT:
        return len(setup.snapshots or ()) >= 1
    if need == c.NEED_SNAPSHOTS_2:
        return len(setup.snapshots or ()) >= 2
    if need == c.NEED_STRACE:
        from harness.tracing.strace import strace_reason

        return not strace_reason()
    if need == c.NEED_IMMUTABLE:
        from harness.corruption.faults import immutable_reason

        return db.is_file() and not immutable_reason(db.parent)
    if not db.is_file():
        return False
    with Reader(db) as r:
        if need == c.NEED_FREELIST:
            return bool(r.freelist().pages)
        if need == c.NEED_FREE_TAIL:
            return r.file_size % r.page_size == 0 and r.page_count in r.freelist().leaves
        if need == c.NEED_INTERIOR:
            from harness.corruption.pages_damage import _user_roots

            return any(not r.btree_page(root, cells=False).is_leaf for _, root in _user_roots(r, "table"))
        if need == c.NEED_OVERFLOW:
            from harness.corruption.pages_damage import find_overflow

            return find_overflow(r, random.Random(0)) is not None
    if need in (c.NEED_INDEX, c.NEED_UNINDEXED):
        from harness.corruption.pages_damage import tables

        infos = tables(db)
        if need == c.NEED_INDEX:
            return any(t.indexes for t in infos)
        return any(i != t.ipk and i not in t.indexed for t in infos for i in range(len(t.columns)))
    if need == c.NEED_FK:
        from harness.corruption.pages_damage import foreign_keys

        return bool(foreign_keys(db))
    raise ValueError(f"unknown need {need!r}")


def make(need: str, setup: c.DamageSetup, *, workdir: Path, commits: int = 3) -> c.DamageSetup:
    """Give ``setup`` what ``need`` asks for; returns the (possibly new) setup."""
    if need == c.NEED_WAL:
        from harness.corruption.wal import make_wal_state

        make_wal_state(setup.db, commits)
        return setup
    if need == c.NEED_JOURNAL:
        from harness.corruption.journal import make_hot_journal

        make_hot_journal(setup.db)
        return setup
    if need == c.NEED_OTHER:
        from harness.corruption.wal import make_foreign_database

        other = make_foreign_database(setup.db, Path(workdir) / f"other-{setup.db.name}", max(1, commits - 1))
        return replace(setup, other=other)
    if need in (c.NEED_SNAPSHOT, c.NEED_SNAPSHOTS_2):
        from harness.corruption.snapshots import make_snapshots

        have = len(setup.snapshots or ())
        return make_snapshots(setup, (1 if need == c.NEED_SNAPSHOT else 2) - have)
    if need in (c.NEED_FREELIST, c.NEED_FREE_TAIL):
        free_tail_pages(setup.db)
        return setup
    raise c.Unsupported(f"'{need}' cannot be made: the database's schema or this machine must provide it")


def free_tail_pages(db: Path, pages: int = 4) -> None:
    """Append a few pages (a table of the harness's own with a blob) and drop it again: the
    freed pages are at the end of the file, and the last is a freelist leaf. The blob is
    larger than the free pages the file already has, which SQLite would reuse first."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        conn.execute(f"CREATE TABLE {FREE_TABLE}(x BLOB)")
        conn.execute(f"INSERT INTO {FREE_TABLE} VALUES (zeroblob(?))", (size * (free + pages),))
        conn.execute(f"DROP TABLE {FREE_TABLE}")
    finally:
        conn.close()
