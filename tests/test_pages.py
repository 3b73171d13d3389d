"""The page map (harness.sqlite.pages) against what SQLite itself says about the same file.

A purpose-built database (4 KiB pages, a few thousand rows in an indexed table, overflow
blobs, deleted rows leaving free pages at the end, a foreign key) is mapped from its bytes
and compared with ``dbstat`` (available in this build), ``sqlite_schema``, the rows SQLite
returns, and a WAL and a rollback journal SQLite wrote.
"""

from __future__ import annotations

import random
import shutil
import sqlite3
import struct
from collections import defaultdict
from pathlib import Path

import pytest

from harness.corruption.journal import make_hot_journal
from harness.corruption.wal import make_wal_state
from harness.sqlite.pages import (
    INTERIOR_INDEX, INTERIOR_TABLE, LEAF_INDEX, LEAF_TABLE, Reader, map_pages, read_journal, read_wal,
    record_values, wal_checksum,
)

PAGE_SIZE = 4096


def build_database(path: Path, rows: int = 3000, *, journal_mode: str = "WAL", seed: int = 1) -> Path:
    """The purpose-built database: indexed table, overflow blobs, a foreign key, free pages
    at the end (deleted rows of the last table written), closed (no -wal left)."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
        conn.execute(f"PRAGMA journal_mode={journal_mode}")
        conn.executescript("""
            CREATE TABLE parent(id INTEGER PRIMARY KEY, name TEXT NOT NULL);
            CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER, note TEXT,
                               parent_id INTEGER REFERENCES parent(id));
            CREATE INDEX items_name ON items(name);
            CREATE TABLE blobs(id INTEGER PRIMARY KEY, label TEXT, data BLOB);
            CREATE TABLE scratch(id INTEGER PRIMARY KEY, pad TEXT);
            CREATE TABLE settings(key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
        """)
        rng = random.Random(seed)
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO parent VALUES (?, ?)", [(i, f"parent {i}") for i in range(1, 51)])
        conn.executemany("INSERT INTO items VALUES (?, ?, ?, ?, ?)", [
            (i, f"name-{rng.randrange(10 ** 6):06d}", rng.randrange(1000), "note " * rng.randrange(1, 20),
             rng.randrange(1, 51)) for i in range(1, rows + 1)])
        conn.executemany("INSERT INTO blobs VALUES (?, ?, ?)", [
            (i, f"blob {i}", rng.randbytes(rng.choice([100, 5000, 12000]))) for i in range(1, 21)])
        # payloads of exactly the most a table leaf keeps local (usable size - 35 = 4061 bytes:
        # 5 header bytes, 'edge', the blob) and one byte more, which spills
        conn.executemany("INSERT INTO blobs VALUES (?, 'edge', ?)", [(21, rng.randbytes(4052)), (22, rng.randbytes(4053))])
        conn.executemany("INSERT INTO settings VALUES (?, ?)", [(f"key {i}", "v" * (i * 40)) for i in range(1, 60)])
        # index b-tree cells: exactly the most kept local ((usable - 12) * 64 / 255 - 23 = 1002 bytes:
        # 4 header bytes, the key, the value) and one byte more
        conn.executemany("INSERT INTO settings VALUES (?, ?)", [("edge-a", "v" * 992), ("edge-b", "v" * 993)])
        conn.executemany("INSERT INTO scratch VALUES (?, ?)", [(i, "x" * 500) for i in range(1, 200)])
        conn.execute("COMMIT")
        conn.execute("DELETE FROM scratch WHERE id > 60")  # frees the last pages of the file
    finally:
        conn.close()
    return path


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_database(tmp_path_factory.mktemp("pages") / "app.db")


def dbstat(db: Path) -> list[tuple[str, int, str]]:
    with sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True) as conn:
        return conn.execute("SELECT name, pageno, pagetype FROM dbstat").fetchall()


def test_dbstat_is_available_on_this_build(db: Path) -> None:
    assert dbstat(db), "SELECT * FROM dbstat returned nothing"


def test_every_page_has_the_role_and_btree_dbstat_gives_it(db: Path) -> None:
    m = map_pages(db)
    assert m.problems == ()
    assert m.page_size == PAGE_SIZE and m.page_count * PAGE_SIZE == db.stat().st_size
    theirs = {page: (name, kind) for name, page, kind in dbstat(db)}
    mine = {}
    for number, page in m.pages.items():
        mine[number] = (m.owner[number], "leaf" if page.is_leaf else "internal")
    for chain in m.overflow:
        for number in chain.pages:
            mine[number] = (chain.btree, "overflow")
    assert mine == theirs
    # dbstat lists no free pages: they are exactly the pages it leaves out
    free = set(range(1, m.page_count + 1)) - set(theirs)
    assert free == set(m.freelist.pages)
    with sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True) as conn:
        assert conn.execute("PRAGMA freelist_count").fetchone()[0] == len(m.freelist.pages)


def test_the_database_has_every_page_type(db: Path) -> None:
    m = map_pages(db)
    roles = m.roles()
    for role in ("leaf-table", "interior-table", "leaf-index", "interior-index", "overflow", "freelist-trunk",
                 "freelist-leaf"):
        assert roles.get(role, 0) > 0, f"no {role} page in {roles}"
    assert m.role(m.page_count) == "freelist-leaf"  # the deleted rows freed the tail
    types = {m.pages[n].type for n in m.pages}
    assert types == {INTERIOR_INDEX, INTERIOR_TABLE, LEAF_INDEX, LEAF_TABLE}


def test_btree_membership_and_depth(db: Path) -> None:
    m = map_pages(db)
    by_name: dict[str, set[int]] = defaultdict(set)
    for name, page, kind in dbstat(db):
        if kind != "overflow":
            by_name[name].add(page)
    assert {b.name: set(b.pages) for b in m.btrees} == dict(by_name)
    assert m.btree("items").depth == 2 and m.btree("items_name").depth == 2 and m.btree("parent").depth == 1
    assert m.btree("settings").without_rowid and m.btree("settings").depth >= 2
    for b in m.btrees:
        assert b.pages[0] == b.root
        kinds = {m.pages[p].is_table for p in b.pages}
        assert kinds == {b.type == "table" and not b.without_rowid}, b.name


def test_overflow_chains_hold_the_payload_sqlite_returns(db: Path) -> None:
    m = map_pages(db)
    assert m.overflow, "the blobs table spills onto overflow pages"
    with sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True) as conn, Reader(db) as r:
        for chain in m.overflow:
            page = r.btree_page(chain.page)
            cell = page.cells[chain.cell]
            expected_pages = -(-(cell.payload_size - cell.local_size) // (m.usable_size - 4))
            assert len(chain.pages) == expected_pages
            values = record_values(r.payload(page, cell))
            if chain.btree == "blobs":
                row = conn.execute("SELECT id, label, data FROM blobs WHERE id = ?", (cell.rowid,)).fetchone()
                assert (cell.rowid, *values[1:]) == row
            else:  # an index b-tree cell (the WITHOUT ROWID table): other limits for what stays local
                assert chain.btree == "settings" and page.type in (LEAF_INDEX, INTERIOR_INDEX)
                row = conn.execute("SELECT key, value FROM settings WHERE key = ?", (values[0],)).fetchone()
                assert tuple(values) == row
    assert {c.btree for c in m.overflow} == {"blobs", "settings"}
    with Reader(db) as r:
        spilled = {r.btree_page(c.page).cells[c.cell].rowid for c in m.overflow if c.btree == "blobs"}
        keys = {record_values(r.payload(page, page.cells[c.cell]))[0]
                for c in m.overflow if c.btree == "settings" for page in [r.btree_page(c.page)]}
    assert 22 in spilled and 21 not in spilled  # one byte over the local maximum spills, not at it
    assert "edge-b" in keys and "edge-a" not in keys


def test_schema_parsed_from_bytes_is_sqlite_schema(db: Path) -> None:
    with Reader(db) as r:
        mine = [(e.type, e.name, e.tbl_name, e.rootpage, e.sql) for e in r.schema()]
    with sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True) as conn:
        theirs = conn.execute("SELECT type, name, tbl_name, rootpage, sql FROM sqlite_schema").fetchall()
    assert sorted(mine, key=str) == sorted(theirs, key=str)


def test_records_on_a_leaf_are_the_rows(db: Path) -> None:
    with Reader(db) as r, sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True) as conn:
        root = r.entry("items").rootpage
        rng = random.Random(5)
        for _ in range(5):
            leaf = r.descend(root, rng)[-1]
            assert leaf.type == LEAF_TABLE and leaf.cell_count > 0
            full = r.btree_page(leaf.number)
            for i in (0, leaf.cell_count - 1):
                cell = r.cell(leaf, i)
                assert cell == full.cells[i]
                values = record_values(r.payload(leaf, cell))
                row = conn.execute("SELECT * FROM items WHERE id = ?", (cell.rowid,)).fetchone()
                assert (cell.rowid, *values[1:]) == row  # the INTEGER PRIMARY KEY is stored as NULL


def test_a_damaged_file_is_mapped_with_problems_not_errors(db: Path, tmp_path: Path) -> None:
    copy = tmp_path / "broken.db"
    shutil.copyfile(db, copy)
    m = map_pages(copy)
    leaf = next(n for n, p in m.pages.items() if p.type == LEAF_TABLE and m.owner[n] == "items")
    with open(copy, "r+b") as handle:
        handle.seek((leaf - 1) * PAGE_SIZE)
        handle.write(bytes(PAGE_SIZE))
    broken = map_pages(copy)
    assert any(f"page {leaf}" in p for p in broken.problems), broken.problems
    assert broken.role(leaf) == "unknown"


def test_wal_frames_commits_and_checksums(db: Path, tmp_path: Path) -> None:
    copy = tmp_path / "app.db"
    shutil.copyfile(db, copy)
    make_wal_state(copy, commits=3)
    wal_path = copy.with_name(copy.name + "-wal")
    wal = read_wal(wal_path)
    assert wal.header is not None and wal.header.valid and wal.header.page_size == PAGE_SIZE
    assert all(f.salt_ok and f.checksum_ok for f in wal.frames)
    assert len(wal.commits) == 3 and wal.valid_frames == len(wal.frames) and wal.partial_tail == 0
    assert wal.frames[-1].is_commit
    # a commit frame records the database size in pages after that transaction
    replayed = tmp_path / "replayed" / "app.db"
    replayed.parent.mkdir()
    shutil.copyfile(copy, replayed)
    shutil.copyfile(wal_path, replayed.with_name("app.db-wal"))
    with sqlite3.connect(replayed) as conn:
        assert conn.execute("PRAGMA page_count").fetchone()[0] == wal.commits[-1].commit_size
    # header-only reading agrees with full verification on an untouched WAL
    quick = read_wal(wal_path, verify=False)
    assert [(f.page, f.commit_size) for f in quick.frames] == [(f.page, f.commit_size) for f in wal.frames]
    assert quick.valid_frames == wal.valid_frames
    # the header checksum is SQLite's
    raw = wal_path.read_bytes()
    assert wal_checksum(raw[:24], big_endian=wal.header.big_endian) == struct.unpack(">2I", raw[24:32])
    # flipping a byte in frame 1 invalidates it and every later frame (cumulative checksums)
    k = 1
    with open(wal_path, "r+b") as handle:
        at = wal.frames[k].data_offset + 100
        handle.seek(at)
        byte = handle.read(1)
        handle.seek(at)
        handle.write(bytes([byte[0] ^ 0x40]))
    damaged = read_wal(wal_path)
    assert damaged.frames[k].checksum_ok is False
    assert damaged.valid_frames == max((f.index + 1 for f in wal.commits if f.index < k), default=0)
    assert len(wal.commits) - len(damaged.commits) == wal.lost_commits_if_cut_at(k)


def test_hot_journal_records_are_the_pages_before_the_transaction(db: Path, tmp_path: Path) -> None:
    copy = build_database(tmp_path / "rollback.db", journal_mode="DELETE")
    before = copy.read_bytes()
    journal = make_hot_journal(copy)
    assert journal.hot_candidate and journal.segments[0].page_size == PAGE_SIZE
    assert journal.segments[0].initial_pages * PAGE_SIZE == len(before)
    assert all(r.checksum_ok for r in journal.records)
    data = journal.path.read_bytes()
    for record in journal.records:
        page = data[record.offset + 4:record.offset + 4 + PAGE_SIZE]
        original = before[(record.page - 1) * PAGE_SIZE:record.page * PAGE_SIZE]
        assert page == original, f"journal record for page {record.page}"
    assert copy.read_bytes() != before, "the cache spilled: half-written pages are in the file"
    quick = read_journal(journal.path, verify=False)
    assert [(r.offset, r.page) for r in quick.records] == [(r.offset, r.page) for r in journal.records]
    # a damage reads only the first records; the segment's own count and the next header still hold
    first = read_journal(journal.path, verify=False, records=1)
    assert first.segments == journal.segments and len(journal.records) > len(journal.segments)
    assert [(r.offset, r.page) for r in first.records] == [
        (r.offset, r.page) for r in journal.records if any(r.offset == s.offset + s.sector_size for s in journal.segments)]
