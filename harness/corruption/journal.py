"""Rollback journals: hot, damaged, and left beside a missing database.

``make_hot_journal`` produces the starting state: a child process in ``journal_mode=DELETE``
with a tiny page cache grows values in the largest text/blob column (so pages split and the
cache spills half-written pages into the database file after syncing the journal) and dies
mid-transaction. SQLite rolls such a journal back on the next open; without it (deleted,
header zeroed, first record's checksum wrong, cut after its header) the half-applied
transaction stays visible, which quick_check reports (the growth took pages from the
freelist or past the end that page 1 does not account for).
"""

from __future__ import annotations

import os
import random
import sqlite3
from pathlib import Path

from harness.corruption.catalogue import (
    BENIGN, CORRUPT, NEED_JOURNAL, SILENT, DamageSetup, Done, Unsupported, kind, write_at, xor_at,
)
from harness.sqlite.pages import JournalMap, read_journal
from harness.tracing import fork


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _growth_statement(conn: sqlite3.Connection) -> str | None:
    """An UPDATE doubling the largest text/blob column of the largest user table."""
    best: tuple[int, str] | None = None
    for (table,) in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite%'"):
        for column in [row[1] for row in conn.execute(f"PRAGMA table_info({_q(table)})")]:
            total = conn.execute(f"SELECT total(length({_q(column)})) FROM {_q(table)} "
                                 f"WHERE typeof({_q(column)}) IN ('text', 'blob')").fetchone()[0]
            if total and (best is None or total > best[0]):
                best = (int(total), f"UPDATE {_q(table)} SET {_q(column)} = {_q(column)} || {_q(column)} "
                                    f"WHERE typeof({_q(column)}) IN ('text', 'blob')")
    return best[1] if best else None


def make_hot_journal(db: Path, statements: list[str] | None = None, *, cache_pages: int = 8) -> JournalMap:
    """Leave ``db`` with a hot rollback journal: a writer killed after a cache spill.

    The child switches the database to ``journal_mode=DELETE`` (a WAL database has no
    rollback journal), sets ``cache_size`` to ``cache_pages``, runs ``statements`` (default:
    one UPDATE doubling the largest text/blob column) in one transaction, and exits with
    ``os._exit`` before COMMIT. Raises ``Unsupported`` if nothing spilled.
    """
    db = Path(db)
    if statements is None:
        from harness.corruption.pages_damage import schema_connection

        with schema_connection(db) as conn:
            statement = _growth_statement(conn)
        if statement is None:
            raise Unsupported(f"{db.name} has no text or blob values to grow")
        statements = [statement]

    def write_and_die() -> None:
        conn = sqlite3.connect(db, isolation_level=None)
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(f"PRAGMA cache_size={int(cache_pages)}")
        conn.execute("BEGIN IMMEDIATE")
        for statement in statements:
            conn.execute(statement)
        os._exit(0)  # before COMMIT, without closing: the journal stays hot

    report = fork.run_forked(write_and_die, timeout=60)
    journal = db.with_name(db.name + "-journal")
    if report.status != fork.EXITED or report.exit_code != 0 or not journal.is_file():
        raise Unsupported(f"the writer on {db.name} failed before leaving a journal (the child {report.describe()})")
    found = read_journal(journal)
    if not found.hot_candidate:
        raise Unsupported(f"the transaction on {db.name} did not spill: the journal has no synced records")
    return found


JOURNAL_RECORDS_READ = 12


def _journal(setup: DamageSetup) -> JournalMap:
    if not setup.journal.is_file():
        raise Unsupported(f"{setup.journal.name} does not exist")
    # the first segment's first records are enough: every damage here acts on the header or record 0
    found = read_journal(setup.journal, verify=False, segments=1, records=JOURNAL_RECORDS_READ)
    if not found.hot_candidate:
        raise Unsupported(f"{setup.journal.name} is no hot journal (no header or no records)")
    return found


def _pages(j: JournalMap) -> str:
    """The journal's first segment (later ones, one per sync, are not read)."""
    pages = sorted(set(j.record_pages))
    segment = j.segments[0]
    count = segment.records if segment.records != 0xFFFFFFFF else "to-the-end"
    shown = ", ".join(map(str, pages[:12])) + (", ..." if segment.records > len(j.record_pages) else "")
    return (f"{j.file_size} bytes; first segment: {count} records (first pages {shown}), the database had "
            f"{j.segments[0].initial_pages} pages before the transaction")


@kind("journal-hot", symptom=BENIGN, reports=("ok",), needs=(NEED_JOURNAL,), seeded=False,
      description="a hot rollback journal from a writer killed after a cache spill: SQLite rolls it back "
                  "on the next open (with mode=ro: SQLITE_READONLY_ROLLBACK)")
def journal_hot(setup: DamageSetup, rng: random.Random) -> Done:
    found = _journal(setup)
    return Done(f"{setup.journal.name} left hot by a killed writer: {_pages(found)}; the database has "
                f"half-written pages (nothing changed by this step: the crash was the damage)")


@kind("journal-damaged", symptom=CORRUPT, reports=("rows", "SQLITE_CORRUPT"), needs=(NEED_JOURNAL,),
      description="a hot journal deleted, its header zeroed, its first record's checksum wrong, or cut after "
                  "its header: the half-applied transaction stays visible")
def journal_damaged(setup: DamageSetup, rng: random.Random) -> Done:
    found = _journal(setup)
    variant = rng.choice(["deleted", "header-zeroed", "first-record-checksum", "truncated"])
    first_offset, first_page = found.record_offsets[0], found.record_pages[0]
    segment = found.segments[0]
    if variant == "deleted":
        setup.journal.unlink()
        return Done(f"{setup.journal.name} deleted ({_pages(found)})", deleted=(setup.journal,))
    if variant == "header-zeroed":
        write_at(setup.journal, 0, bytes(28))
        what = "header (magic, record count, checksum seed, sizes) zeroed: no longer a journal"
    elif variant == "first-record-checksum":
        at = first_offset + 4 + segment.page_size + rng.randrange(4)
        xor_at(setup.journal, at, rng.randrange(1, 256))
        what = f"checksum of the first record (page {first_page}) altered at offset {at}: playback stops there"
    else:
        os.truncate(setup.journal, segment.sector_size)
        what = f"cut to {segment.sector_size} bytes (the header alone): no record to play back"
    return Done(f"{setup.journal.name}: {what} ({_pages(found)})", changed=(setup.journal,))


@kind("journal-orphan", symptom=SILENT, reports=("ok",), needs=(NEED_JOURNAL,), seeded=False,
      description="the database deleted, its hot journal left behind: SQLite creates a new empty database "
                  "and deletes the journal")
def journal_orphan(setup: DamageSetup, rng: random.Random) -> Done:
    found = _journal(setup)
    setup.db.unlink()
    return Done(f"{setup.db.name} deleted; {setup.journal.name} left ({_pages(found)})", deleted=(setup.db,),
                expected={"database_missing": True, "content_changed_silently": True})

