"""Damage inside the b-trees: table and index pages, overflow chains, the freelist, the schema,
and the silent kinds (bit flips in values, an index that disagrees with its table, a
foreign-key orphan).

Pages are found with ``harness.sqlite.pages.Reader``: the schema from page 1, then random
descents from a root to a leaf, so only a handful of pages is read. Which column an index
covers, and which foreign keys exist, is asked of SQLite on an ``immutable=1`` read-only
connection (it reads the schema pages only). Two kinds let SQLite write
(``index-table-disagree``, ``fk-orphan``): the damage is a change SQLite made while a
constraint or an index was bypassed, which byte edits cannot reproduce faithfully.
"""

from __future__ import annotations

import random
import sqlite3
import struct
from collections.abc import Iterator
from typing import Any
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from harness.corruption.catalogue import (
    CORRUPT, NEED_FK, NEED_FREELIST, NEED_INDEX, NEED_INTERIOR, NEED_OVERFLOW, NEED_UNINDEXED, SILENT,
    DamageSetup, Done, Unsupported, kind, read_at, require_checkpointed, write_at, xor_at,
)
from harness.sqlite import schema
from harness.sqlite.pages import (
    LEAF_INDEX, LEAF_TABLE, BtreePage, Cell, Field, NotABtreePage, Reader, SchemaEntry, decode_value, record_fields,
    varint, without_rowid,
)

# ------------------------------------------------------------------------------------------
# What the schema offers
# ------------------------------------------------------------------------------------------


@contextmanager
def schema_connection(db: Path) -> Iterator[sqlite3.Connection]:
    """Read-only and ``immutable=1``: SQLite writes nothing and takes no lock."""
    uri = f"file:{quote(str(Path(db).resolve()))}?mode=ro&immutable=1"
    conn = sqlite3.connect(uri, uri=True)
    try:
        yield conn
    finally:
        conn.close()


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class TableInfo:
    name: str
    root: int
    columns: tuple[str, ...]  # in record order
    ipk: int | None  # the INTEGER PRIMARY KEY column (stored as NULL in the record)
    indexed: frozenset[int]  # columns some (non-partial) index covers
    indexes: tuple[tuple[str, int], ...]  # (index name, first column) of plain, non-partial indexes


_SCHEMA_FACTS: dict[tuple[object, ...], object] = {}  # (what, schema rows) -> facts SQLite gave for that schema


def _schema_key(what: str, r: Reader) -> tuple[object, ...]:
    """The schema's SQL text identifies what SQLite's pragmas say about it (root pages aside)."""
    return (what,) + tuple((e.type, e.name, e.tbl_name, e.sql) for e in r.schema())


def tables(db: Path, conn: sqlite3.Connection | None = None) -> list[TableInfo]:
    """Rowid tables without generated columns, with what their indexes cover (two queries
    over SQLite's table-valued pragma functions, on ``conn`` or an immutable connection;
    remembered per schema text, since drills damage many copies of one database)."""
    with Reader(db) as r:
        entries = {e.name: e for e in r.schema() if e.type == "table" and e.rootpage > 1
                   and not e.name.startswith("sqlite_") and not e.without_rowid}
        key = _schema_key("tables", r)
    if not entries:
        return []
    cached = _SCHEMA_FACTS.get(key)
    if cached is None:
        if len(_SCHEMA_FACTS) > 64:
            _SCHEMA_FACTS.clear()
        cached = _SCHEMA_FACTS[key] = _table_facts(db, conn, set(entries))
    facts: _TableFacts = cached  # type: ignore[assignment]  # stored by _table_facts for this key
    return _table_infos(entries, *facts)


#: Per table: its xinfo rows (cid, name, type, pk, hidden); its indexes' column ids; partial indexes.
_TableFacts = tuple[dict[str, list[tuple[Any, ...]]], dict[str, dict[str, list[int | None]]], set[tuple[str, str]]]


def _table_facts(db: Path, conn: sqlite3.Connection | None, names: set[str]) -> _TableFacts:
    columns: dict[str, list[tuple[Any, ...]]] = {name: [] for name in names}
    indexes: dict[str, dict[str, list[int | None]]] = {name: {} for name in names}
    partial: set[tuple[str, str]] = set()
    with (nullcontext(conn) if conn is not None else schema_connection(db)) as conn:
        for table, cid, name, type_, pk, hidden in conn.execute(
                "SELECT m.name, x.cid, x.name, x.type, x.pk, x.hidden FROM sqlite_schema AS m "
                "JOIN pragma_table_xinfo(m.name) AS x WHERE m.type = 'table' ORDER BY m.name, x.cid"):
            if table in columns:
                columns[table].append((cid, name, type_, pk, hidden))
        for table, index, is_partial, cid in conn.execute(
                "SELECT m.name, l.name, l.partial, i.cid FROM sqlite_schema AS m "
                "JOIN pragma_index_list(m.name) AS l JOIN pragma_index_info(l.name) AS i "
                "WHERE m.type = 'table' ORDER BY m.name, l.name, i.seqno"):
            if table in indexes:
                indexes[table].setdefault(index, []).append(cid)
                if is_partial:
                    partial.add((table, index))
    return columns, indexes, partial


def _table_infos(entries: dict[str, SchemaEntry], columns: dict[str, list[tuple[Any, ...]]],
                 indexes: dict[str, dict[str, list[int | None]]], partial: set[tuple[str, str]]) -> list[TableInfo]:
    out = []
    for name, e in entries.items():
        xinfo = columns[name]
        if any(row[4] != 0 for row in xinfo):
            continue  # generated columns: the record layout differs from the declared order
        pks = [row for row in xinfo if row[3]]
        ipk = pks[0][0] if len(pks) == 1 and str(pks[0][2]).upper() == "INTEGER" else None
        indexed: set[int] = set()
        plain: list[tuple[str, int]] = []
        for index, cols in sorted(indexes[name].items()):
            if (name, index) in partial or any(c is None or c < 0 for c in cols):
                continue
            indexed.update(c for c in cols if c is not None)
            plain.append((index, int(cols[0] or 0)))
        if ipk is not None:
            indexed.discard(ipk)
        out.append(TableInfo(name, e.rootpage, tuple(str(row[1]) for row in xinfo), ipk, frozenset(indexed),
                             tuple(plain)))
    return out


# ------------------------------------------------------------------------------------------
# Finding pages and cells
# ------------------------------------------------------------------------------------------


def _user_roots(r: Reader, type_: str) -> list[tuple[str, int]]:
    return [(e.name, e.rootpage) for e in r.schema()
            if e.type == type_ and e.rootpage > 1 and (type_ == "index" or not e.without_rowid)
            and not (type_ == "table" and e.name.startswith("sqlite_"))]


def _random_leaf(r: Reader, roots: list[tuple[str, int]], rng: random.Random, *, tries: int = 64,
                 nonempty: bool = True) -> tuple[str, list[BtreePage]]:
    for _ in range(tries):
        name, root = rng.choice(roots)
        path = r.descend(root, rng)
        if path[-1].is_leaf and (path[-1].cell_count or not nonempty):
            return name, path
    raise Unsupported("no non-empty leaf page found" + (f" in {', '.join(n for n, _ in roots)}" if roots else ""))


def find_overflow(r: Reader, rng: random.Random, *, tries: int = 64) -> tuple[str, BtreePage, int, Cell] | None:
    """A table cell whose payload spills onto overflow pages: random descents first, then
    every leaf of every table (only when descents find none)."""
    roots = _user_roots(r, "table")
    if not roots:
        return None
    for _ in range(tries):
        name, root = rng.choice(roots)
        leaf = r.descend(root, rng)[-1]
        if leaf.type != LEAF_TABLE:
            continue
        spilled = _spilled_cells(r, leaf)
        if spilled:
            i = rng.choice(spilled)
            return name, leaf, i, r.cell(leaf, i)
    for name, root in roots:
        for leaf in r.walk(root, leaves_only=True, cells=False):
            spilled = _spilled_cells(r, leaf) if leaf.type == LEAF_TABLE else []
            if spilled:
                return name, leaf, spilled[0], r.cell(leaf, spilled[0])
    return None


def _spilled_cells(r: Reader, leaf: BtreePage) -> list[int]:
    """Indexes of a table leaf's cells whose payload spills (only the size varint is read)."""
    data = r.page(leaf.number)
    limit = r.usable - 35  # the most a table leaf cell keeps on its page
    out = []
    for i, pointer in enumerate(leaf.cell_pointers):
        if pointer < r.usable:
            try:
                size, _ = varint(data, pointer)
            except ValueError:
                continue
            if size > limit:
                out.append(i)
    return out


def _page_offset(r: Reader, number: int, within: int) -> int:
    return r.offset(number) + within


# ------------------------------------------------------------------------------------------
# Structural damage (quick_check sees it)
# ------------------------------------------------------------------------------------------

_BAD_TYPES = (0x00, 0x01, 0x03, 0x04, 0x06, 0x07, 0x08, 0x0B, 0x0C, 0x0E, 0x0F, 0x10, 0x7F, 0xFF)


def _damage_btree_page(setup: DamageSetup, r: Reader, page: BtreePage, rng: random.Random,
                       variants: tuple[str, ...]) -> str:
    base = r.offset(page.number)
    hdr = page.header_offset
    variant = rng.choice([v for v in variants if v != "pointer" or page.cell_count])
    if variant == "type":
        value = rng.choice(_BAD_TYPES)
        old = write_at(setup.db, base + hdr, bytes([value]))[0]
        return f"page {page.number} ({page.role}): type byte 0x{old:02x} -> 0x{value:02x}"
    if variant == "count":
        value = rng.randrange(max(page.cell_count + 1, r.usable // 2), 65536)
        write_at(setup.db, base + hdr + 3, struct.pack(">H", value))
        return f"page {page.number} ({page.role}): cell count {page.cell_count} -> {value}"
    if variant == "pointer":
        i = rng.randrange(page.cell_count)
        value = rng.choice([rng.randrange(r.usable, 65536), rng.randrange(0, page.cell_pointer_offset)])
        write_at(setup.db, base + page.cell_pointer_offset + 2 * i, struct.pack(">H", value))
        return f"page {page.number} ({page.role}): cell pointer {i} {page.cell_pointers[i]} -> {value}"
    write_at(setup.db, base, bytes(r.page_size))
    return f"page {page.number} ({page.role}) zeroed"


@kind("table-leaf-damaged", symptom=CORRUPT, reports=("SQLITE_CORRUPT", "rows"),
      description="a table leaf page damaged: type byte, cell count, a cell pointer, or zeroed")
def table_leaf_damaged(setup: DamageSetup, rng: random.Random) -> Done:
    require_checkpointed(setup)
    with Reader(setup.db) as r:
        roots = _user_roots(r, "table")
        if not roots:
            raise Unsupported("no user table")
        name, path = _random_leaf(r, roots, rng)
        what = _damage_btree_page(setup, r, path[-1], rng, ("type", "count", "pointer", "zeroed"))
    return Done(f"table {name}: {what}", changed=(setup.db,))


@kind("table-interior-damaged", symptom=CORRUPT, reports=("SQLITE_CORRUPT", "rows"), needs=(NEED_INTERIOR,),
      description="a table interior page's child pointer set to 0, to itself, to an index page or past the end")
def table_interior_damaged(setup: DamageSetup, rng: random.Random) -> Done:
    require_checkpointed(setup)
    with Reader(setup.db) as r:
        roots = [(n, root) for n, root in _user_roots(r, "table") if not r.btree_page(root, cells=False).is_leaf]
        if not roots:
            raise Unsupported("no table b-tree with an interior page (every table fits one page)")
        name, root = rng.choice(roots)
        path = r.descend(root, rng)
        page = rng.choice([p for p in path if not p.is_leaf])
        index_roots = [ir for _, ir in _user_roots(r, "index")]
        targets = {"zero": 0, "self": page.number, "past-end": r.page_count + rng.randrange(1, 1000)}
        if index_roots:
            targets["index-page"] = rng.choice(index_roots)
        target = rng.choice(sorted(targets))
        value = targets[target]
        slot = rng.randrange(-1, page.cell_count)  # -1: the right-child pointer
        base = r.offset(page.number)
        if slot < 0:
            old = struct.unpack(">I", write_at(setup.db, base + page.header_offset + 8, struct.pack(">I", value)))[0]
            where = "right-child pointer"
        else:
            old = struct.unpack(">I", write_at(setup.db, base + page.cell_pointers[slot], struct.pack(">I", value)))[0]
            where = f"left-child pointer of cell {slot}"
    return Done(f"table {name}: page {page.number} (interior): {where} {old} -> {value} ({target})",
                changed=(setup.db,))


@kind("index-page-damaged", symptom=CORRUPT, reports=("rows", "SQLITE_CORRUPT"), needs=(NEED_INDEX,),
      description="an index page zeroed or its type byte damaged: table scans work, index use fails")
def index_page_damaged(setup: DamageSetup, rng: random.Random) -> Done:
    require_checkpointed(setup)
    with Reader(setup.db) as r:
        roots = _user_roots(r, "index")
        if not roots:
            raise Unsupported("no index")
        name, root = rng.choice(roots)
        variant = rng.choice(["root-zeroed", "leaf-type", "leaf-zeroed"])
        if variant == "root-zeroed":
            write_at(setup.db, r.offset(root), bytes(r.page_size))
            what = f"root page {root} zeroed"
        else:
            leaf = r.descend(root, rng)[-1]
            what = _damage_btree_page(setup, r, leaf, rng, ("type",) if variant == "leaf-type" else ("zeroed",))
    return Done(f"index {name}: {what}", changed=(setup.db,))


@kind("overflow-chain-broken", symptom=CORRUPT, reports=("rows", "SQLITE_CORRUPT"), needs=(NEED_OVERFLOW,),
      description="an overflow chain cut: a next pointer past the end, a page in it zeroed, or the cell's "
                  "first-overflow pointer bad; blob reads fail")
def overflow_chain_broken(setup: DamageSetup, rng: random.Random) -> Done:
    require_checkpointed(setup)
    with Reader(setup.db) as r:
        found = find_overflow(r, rng)
        if found is None:
            raise Unsupported("no row spills onto overflow pages")
        name, page, index, cell = found
        needed = -(-(cell.payload_size - cell.local_size) // (r.usable - 4))
        chain = r.overflow_chain(cell.overflow or 0, limit=needed)
        variants = ["first-pointer"] + (["next-pointer", "zeroed"] if len(chain) >= 2 else [])
        variant = rng.choice(variants)
        bad = rng.choice([0xFFFFFFFF, r.page_count + rng.randrange(1, 1000)])
        if variant == "first-pointer":
            at = r.offset(page.number) + (cell.overflow_pointer_offset or 0)
            write_at(setup.db, at, struct.pack(">I", bad))
            what = f"cell {index} of page {page.number}: first overflow page {cell.overflow} -> {bad}"
        else:
            j = rng.randrange(len(chain) - 1)  # never the last page: its next pointer is not followed
            if variant == "next-pointer":
                write_at(setup.db, r.offset(chain[j]), struct.pack(">I", bad))
                what = f"overflow page {chain[j]} (#{j + 1} of {len(chain)}): next pointer {chain[j + 1]} -> {bad}"
            else:
                write_at(setup.db, r.offset(chain[j]), bytes(r.page_size))
                what = f"overflow page {chain[j]} (#{j + 1} of {len(chain)}) zeroed"
    return Done(f"table {name}: {what}", changed=(setup.db,))


@kind("freelist-damaged", symptom=CORRUPT, reports=("rows", "SQLITE_CORRUPT"), needs=(NEED_FREELIST,),
      description="the freelist damaged: count at offset 36, a trunk pointer past the end, or a free entry "
                  "naming a live page; reads work, the first write needing a page fails")
def freelist_damaged(setup: DamageSetup, rng: random.Random) -> Done:
    require_checkpointed(setup)
    with Reader(setup.db) as r:
        free = r.freelist()
        if not free.pages:
            raise Unsupported("the freelist is empty")
        variants = ["count", "trunk-past-end"] + (["leaf-live"] if free.leaves else [])
        variant = rng.choice(variants)
        if variant == "count":
            count = r.header.freelist_count
            new = rng.choice([count + rng.randrange(1, 10)] + ([rng.randrange(0, count)] if count > 1 else []))
            write_at(setup.db, 36, struct.pack(">I", new))
            what = f"offset 36: free page count {count} -> {new}"
        elif variant == "trunk-past-end":
            bad = r.page_count + rng.randrange(1, 1000)
            j = rng.randrange(len(free.trunks) + 1) if len(free.trunks) > 1 else 0
            if j == 0:
                write_at(setup.db, 32, struct.pack(">I", bad))
                what = f"offset 32: first trunk page {free.trunks[0]} -> {bad}"
            else:
                trunk = free.trunks[j - 1]
                write_at(setup.db, r.offset(trunk), struct.pack(">I", bad))
                what = f"trunk page {trunk}: next trunk -> {bad}"
        else:
            live = [root for _, root in _user_roots(r, "table") + _user_roots(r, "index")] or [1]
            target = rng.choice(live)
            # find a trunk that lists leaves, and one of its slots
            for trunk in free.trunks:
                data = r.page(trunk)
                count = struct.unpack_from(">I", data, 4)[0]
                if count:
                    slot = rng.randrange(count)
                    old = struct.unpack_from(">I", data, 8 + 4 * slot)[0]
                    write_at(setup.db, r.offset(trunk) + 8 + 4 * slot, struct.pack(">I", target))
                    what = f"trunk page {trunk}, leaf slot {slot}: free page {old} -> live page {target}"
                    break
            else:  # pragma: no cover - leaves exist, so some trunk lists them
                raise Unsupported("no trunk lists leaves")
    return Done(what, changed=(setup.db,))


@kind("schema-damaged", symptom=CORRUPT, reports=("SQLITE_CORRUPT",),
      description="a sqlite_schema row damaged: a typo in its SQL, or its rootpage out of range: "
                  "'malformed database schema' on every statement")
def schema_damaged(setup: DamageSetup, rng: random.Random) -> Done:
    require_checkpointed(setup)
    with Reader(setup.db) as r:
        entries = [e for e in r.schema() if e.type in ("table", "index") and e.sql and len(e.fields) >= 5]
        if not entries:
            raise Unsupported("no table or index in sqlite_schema")
        entry = rng.choice(entries)
        sql_field, root_field = entry.fields[4], entry.fields[3]
        variants = []
        if sql_field.offset + 6 <= entry.local_size and r.encoding == "utf-8":
            variants.append("sql-typo")
        if root_field.offset + root_field.size <= entry.local_size and 1 <= root_field.serial_type <= 6:
            variants.append("rootpage")
        if not variants:
            raise Unsupported(f"schema row {entry.name} is not stored on its page")
        variant = rng.choice(variants)
        base = r.offset(entry.page) + entry.payload_offset
        if variant == "sql-typo":
            i = rng.randrange(6)  # inside "CREATE"
            at = base + sql_field.offset + i
            old = read_at(setup.db, at, 1)
            new = bytes([rng.choice([c for c in b"ABDFGHIJKLMNOPQSUVWXYZ" if c != old[0]])])
            write_at(setup.db, at, new)
            what = f"SQL of {entry.type} {entry.name}: byte {i} {old.decode('latin-1')!r} -> {new.decode()!r}"
        else:
            limit = (1 << (8 * root_field.size - 1)) - 1
            choices = [0, 1] + ([rng.randrange(r.page_count + 1, min(limit, r.page_count + 1000) + 1)]
                                if r.page_count < limit else [])
            value = rng.choice(choices)
            at = base + root_field.offset
            write_at(setup.db, at, value.to_bytes(root_field.size, "big", signed=True))
            what = f"rootpage of {entry.type} {entry.name}: {entry.rootpage} -> {value}"
    return Done(f"sqlite_schema page {entry.page}: {what}", changed=(setup.db,))


# ------------------------------------------------------------------------------------------
# Silent damage: quick_check passes
# ------------------------------------------------------------------------------------------


#: A byte of text in this range stays printable ASCII under any of these masks: the flipped
#: text is still valid UTF-8 and holds no NUL.
TEXT_SAFE = range(0x21, 0x7E)
TEXT_MASKS = (1, 2, 4, 8, 16)


def _flip_value(payload: bytes, f: Field, rng: random.Random, text_ok: bool) -> tuple[int, int] | None:
    """(offset in the payload, mask) changing the value of field ``f`` into another valid
    value of the same size; None if ``f`` has no such byte."""
    if f.size == 0:
        return None
    storage = f.storage
    if storage in ("integer", "real"):
        return f.offset + f.size - 1, 1 << rng.randrange(8)
    if storage == "blob":
        return f.offset + rng.randrange(f.size), 1 << rng.randrange(8)
    if storage == "text" and text_ok:
        spots = [i for i in range(f.offset, f.offset + f.size) if payload[i] in TEXT_SAFE]
        if spots:
            return rng.choice(spots), rng.choice(TEXT_MASKS)
    return None


def _flip_local(setup: DamageSetup, r: Reader, infos: list[TableInfo], rng: random.Random,
                want_indexed: bool) -> str | None:
    """Flip a byte inside a value stored on a table leaf page."""
    candidates = [(t, c) for t in infos for c in range(len(t.columns))
                  if c != t.ipk and (c in t.indexed) == want_indexed]
    if not candidates:
        return None
    for _ in range(64):
        table, column = rng.choice(candidates)
        try:
            leaf = r.descend(table.root, rng)[-1]
        except NotABtreePage:
            continue
        if leaf.type != LEAF_TABLE or not leaf.cell_count:
            continue
        data = r.page(leaf.number)
        for index in rng.sample(range(leaf.cell_count), min(leaf.cell_count, 8)):
            try:
                cell = r.cell(leaf, index)
            except NotABtreePage:
                continue
            local = data[cell.payload_offset:cell.payload_offset + cell.local_size]
            try:
                fields = record_fields(local)
            except ValueError:
                continue
            if column >= len(fields):
                continue
            f = fields[column]
            if f.offset + f.size > len(local):
                continue  # the value continues on overflow pages
            flip = _flip_value(local, f, rng, r.encoding == "utf-8")
            if flip is None:
                continue
            at, mask = flip
            old, new = xor_at(setup.db, r.offset(leaf.number) + cell.payload_offset + at, mask)
            return (f"table {table.name}, rowid {cell.rowid} (page {leaf.number}, cell {index}): column "
                    f"{table.columns[column]} ({f.storage}), payload byte {at}: 0x{old:02x} -> 0x{new:02x}")
    return None


def _flip_overflow(setup: DamageSetup, r: Reader, infos: list[TableInfo], rng: random.Random) -> str | None:
    """Flip a byte of an unindexed value where it continues on an overflow page."""
    by_name = {t.name: t for t in infos}
    text_ok = r.encoding == "utf-8"
    seen: set[tuple[int, int]] = set()
    for _ in range(16):
        found = find_overflow(r, rng, tries=16)
        if found is None:
            return None
        name, page, index, cell = found
        if (page.number, index) in seen:
            return None  # only the exhaustive walk's first cell is left: walking again finds it again
        seen.add((page.number, index))
        table = by_name.get(name)
        if table is None:
            continue
        local = r.page(page.number)[cell.payload_offset:cell.payload_offset + cell.local_size]
        try:
            fields = record_fields(local)
        except ValueError:
            continue
        spilled = [(c, f) for c, f in enumerate(fields) if c not in table.indexed and c != table.ipk
                   and (f.storage == "blob" or (f.storage == "text" and text_ok))
                   and f.offset + f.size > cell.local_size]
        if not spilled:
            continue
        column, f = rng.choice(spilled)
        for _ in range(8):
            pos = rng.randrange(max(f.offset, cell.local_size), f.offset + f.size)
            k, within = divmod(pos - cell.local_size, r.usable - 4)
            chain = r.overflow_chain(cell.overflow or 0, limit=k + 1)
            if len(chain) <= k:
                break
            at = r.offset(chain[k]) + 4 + within
            if f.storage == "text":
                if read_at(setup.db, at, 1)[0] not in TEXT_SAFE:
                    continue
                mask = rng.choice(TEXT_MASKS)
            else:
                mask = 1 << rng.randrange(8)
            old, new = xor_at(setup.db, at, mask)
            return (f"table {name}, rowid {cell.rowid}: column {table.columns[column]} ({f.storage}), payload byte "
                    f"{pos} on overflow page {chain[k]} (#{k + 1} of the chain): 0x{old:02x} -> 0x{new:02x}")
    return None


@kind("bitflip-indexed-value", symptom=SILENT, reports=("ok",), needs=(NEED_INDEX,),
      description="one bit flipped in a table value an index covers: wrong data, only integrity_check "
                  "sees 'row missing from index'")
def bitflip_indexed_value(setup: DamageSetup, rng: random.Random) -> Done:
    require_checkpointed(setup)
    infos = tables(setup.db)
    with Reader(setup.db) as r:
        what = _flip_local(setup, r, infos, rng, want_indexed=True)
    if what is None:
        raise Unsupported("no indexed column value stored on a table leaf page")
    return Done(what, changed=(setup.db,),
                expected={"content_changed_silently": True, "integrity_check_fails": True})


@kind("bitflip-unindexed-value", symptom=SILENT, reports=("ok",), needs=(NEED_UNINDEXED,),
      description="one bit flipped in an unindexed value or in overflow data: completely silent, "
                  "integrity_check passes, data changed")
def bitflip_unindexed_value(setup: DamageSetup, rng: random.Random) -> Done:
    require_checkpointed(setup)
    infos = tables(setup.db)
    with Reader(setup.db) as r:
        order = ["local", "overflow"] if rng.random() < 0.5 else ["overflow", "local"]
        what = None
        for where in order:
            what = _flip_local(setup, r, infos, rng, want_indexed=False) if where == "local" \
                else _flip_overflow(setup, r, infos, rng)
            if what:
                break
    if what is None:
        raise Unsupported("no unindexed column value found")
    return Done(what, changed=(setup.db,), expected={"content_changed_silently": True})


def _same_size_value(value: object, rng: random.Random) -> object:
    """Another value of the same type that encodes to the same number of bytes."""
    if isinstance(value, int) and not isinstance(value, bool):
        for _ in range(32):
            new = value + rng.choice([-1, 1]) * rng.randrange(1, 100)
            if _int_size(new) == _int_size(value) and new not in (0, 1) and value not in (0, 1):
                return new
        return None
    if isinstance(value, float):
        return value + rng.choice([-1.0, 1.0]) * rng.randrange(1, 100)
    if isinstance(value, str):
        spots = [i for i, ch in enumerate(value) if ch.isascii() and ch.isalnum()]
        if not spots:
            return None
        i = rng.choice(spots)
        pool = "abcdefghijklmnopqrstuvwxyz0123456789"
        return value[:i] + rng.choice([c for c in pool if c != value[i]]) + value[i + 1:]
    if isinstance(value, bytes) and value:
        i = rng.randrange(len(value))
        return value[:i] + bytes([value[i] ^ (1 << rng.randrange(8))]) + value[i + 1:]
    return None


def _int_size(v: int) -> int:
    for size, bits in ((1, 8), (2, 16), (3, 24), (4, 32), (6, 48)):
        if -(1 << (bits - 1)) <= v < (1 << (bits - 1)):
            return size
    return 8


def _rowid_range(conn: sqlite3.Connection, table: str) -> tuple[int | None, int | None]:
    """(min, max) rowid: two statements, since SQLite answers a lone min() or max() from the
    b-tree's ends but scans the table for both in one."""
    low = conn.execute(f"SELECT min(rowid) FROM {_q(table)}").fetchone()[0]
    high = conn.execute(f"SELECT max(rowid) FROM {_q(table)}").fetchone()[0]
    return low, high


@contextmanager
def _writer(db: Path) -> Iterator[sqlite3.Connection]:
    """A connection for the kinds that let SQLite write: no fsync, no foreign keys."""
    conn = sqlite3.connect(db, isolation_level=None, timeout=0)
    try:
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")  # no -shm: the WAL index lives in memory
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA foreign_keys=OFF")
        yield conn
    finally:
        conn.close()


def encode_same_size(value: object, f: Field, encoding: str = "utf-8") -> bytes | None:
    """``value`` in the bytes of field ``f``'s serial type (same size), or None if it does
    not fit: what SQLite writes for it in a record with that header."""
    t = f.serial_type
    if isinstance(value, int) and 1 <= t <= 6:
        try:
            return value.to_bytes(f.size, "big", signed=True)
        except OverflowError:
            return None
    if isinstance(value, float) and t == 7:
        return struct.pack(">d", value)
    if isinstance(value, str) and t >= 13 and t % 2:
        raw = value.encode(encoding)
        return raw if len(raw) == f.size else None
    if isinstance(value, bytes) and t >= 12 and t % 2 == 0:
        return value if len(value) == f.size else None
    return None


def _stale_entry(setup: DamageSetup, r: Reader, infos: list[TableInfo], rng: random.Random) -> str | None:
    """Change an indexed value in the table row, in place, as a same-size UPDATE writes it
    (SQLite overwrites an equal-size cell in place); the index keeps the old key."""
    for _ in range(64):
        table = rng.choice(infos)
        index_name, column = rng.choice(table.indexes)
        leaf = r.descend(table.root, rng)[-1]
        if leaf.type != LEAF_TABLE or not leaf.cell_count:
            continue
        index = rng.randrange(leaf.cell_count)
        try:
            cell = r.cell(leaf, index)
        except NotABtreePage:
            continue
        local = r.page(leaf.number)[cell.payload_offset:cell.payload_offset + cell.local_size]
        try:
            fields = record_fields(local)
        except ValueError:
            continue
        if column >= len(fields) or fields[column].offset + fields[column].size > len(local):
            continue
        f = fields[column]
        old = decode_value(local, f, r.encoding)
        new = _same_size_value(old, rng)
        raw = encode_same_size(new, f, r.encoding) if new is not None else None
        if raw is None or raw == local[f.offset:f.offset + f.size]:
            continue
        write_at(setup.db, r.offset(leaf.number) + cell.payload_offset + f.offset, raw)
        return (f"table {table.name}, rowid {cell.rowid} (page {leaf.number}): {table.columns[column]} {old!r} -> "
                f"{new!r}, written in place as a same-size UPDATE writes it; index {index_name} still has {old!r}")
    return None


def _dropped_entry(setup: DamageSetup, r: Reader, infos: list[TableInfo], rng: random.Random) -> str | None:
    """Remove one entry from an index leaf (its pointer out of the array, its bytes made a
    freeblock, so the page stays well-formed): the index has one entry fewer than the table."""
    names = sorted({name for t in infos for name, _ in t.indexes})
    roots = {e.name: e.rootpage for e in r.schema() if e.name in names}
    for _ in range(64):
        name = rng.choice(names)
        leaf = r.descend(roots[name], rng)[-1]
        # a page without freeblocks (the new one is then the whole list) and at least 3 cells
        if leaf.type != LEAF_INDEX or leaf.cell_count < 3 or leaf.first_freeblock:
            continue
        lowest = min(leaf.cell_pointers)  # the cell at the start of the content area stays
        index = rng.choice([i for i, p in enumerate(leaf.cell_pointers) if p != lowest])
        try:
            cell = r.cell(leaf, index)
        except NotABtreePage:
            continue
        if cell.size < 4:
            continue
        base = r.offset(leaf.number)
        hdr = leaf.header_offset
        pointers = list(leaf.cell_pointers)
        del pointers[index]
        with open(setup.db, "r+b") as handle:
            handle.seek(base + hdr + 1)  # first freeblock, cell count
            handle.write(struct.pack(">HH", cell.offset, len(pointers)))
            handle.seek(base + leaf.cell_pointer_offset)
            handle.write(struct.pack(f">{len(pointers)}H", *pointers) + b"\0\0")
            handle.seek(base + cell.offset)  # the freeblock: no next one, its size
            handle.write(struct.pack(">HH", 0, cell.size))
        return (f"index {name}: entry {index} of {leaf.cell_count} on leaf page {leaf.number} removed "
                f"(its {cell.size} bytes at offset {cell.offset} made a freeblock)")
    return None


@kind("index-table-disagree", symptom=SILENT, reports=("ok",), needs=(NEED_INDEX,),
      description="table and index disagree: an indexed value changed in the row as an UPDATE that bypassed "
                  "the index writes it, or an entry dropped from the index; integrity_check reports it, "
                  "quick_check passes")
def index_table_disagree(setup: DamageSetup, rng: random.Random) -> Done:
    require_checkpointed(setup)
    infos = [t for t in tables(setup.db) if t.indexes]
    if not infos:
        raise Unsupported("no rowid table with a plain index")
    with Reader(setup.db) as r:
        stale = rng.random() < 0.5
        what = (_stale_entry if stale else _dropped_entry)(setup, r, infos, rng)
        if what is None:
            stale = not stale
            what = (_stale_entry if stale else _dropped_entry)(setup, r, infos, rng)
    if what is None:
        raise Unsupported("no indexed value or index entry found to make them disagree")
    return Done(what, changed=(setup.db,),
                expected={"content_changed_silently": stale, "integrity_check_fails": True})


def foreign_keys(db: Path, conn: sqlite3.Connection | None = None) -> list[tuple[str, schema.ForeignKey]]:
    """(child table, key) for single-column foreign keys between rowid tables.

    Read by the one schema reader, once per schema (on ``conn`` if given: SQLite has the
    schema parsed already)."""
    if conn is None:
        with schema_connection(db) as own:
            return foreign_keys(db, own)
    rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_schema").fetchall()
    key = ("foreign-keys", *map(tuple, rows))
    if key not in _SCHEMA_FACTS:
        found = schema.read(conn)
        rowid_tables = {name for name, table in found.tables.items()
                        if not table.without_rowid and not name.startswith("sqlite_")}
        _SCHEMA_FACTS[key] = tuple((name, fk) for name in sorted(rowid_tables)
                                   for fk in found.tables[name].foreign_keys
                                   if len(fk.columns) == 1 and fk.table in rowid_tables)
    links: tuple[tuple[str, schema.ForeignKey], ...] = _SCHEMA_FACTS[key]  # type: ignore[assignment]
    return list(links)


@kind("fk-orphan", symptom=SILENT, reports=("ok",), needs=(NEED_FK,),
      description="a child row pointed at a parent that does not exist (written with foreign_keys=OFF): "
                  "only foreign_key_check finds it")
def fk_orphan(setup: DamageSetup, rng: random.Random) -> Done:
    require_checkpointed(setup)
    with _writer(setup.db) as conn:
        fks = foreign_keys(setup.db, conn)
        if not fks:
            raise Unsupported("no single-column foreign key between rowid tables")
        for _ in range(16):
            child_name, fk = rng.choice(fks)
            parent_column = fk.to[0]
            child, col, parent = _q(child_name), _q(fk.columns[0]), _q(fk.table)
            pcol = _q(parent_column) if parent_column else "rowid"
            low, high = _rowid_range(conn, child_name)
            if low is None or high is None:
                continue
            row = conn.execute(f"SELECT rowid, {col} FROM {child} WHERE rowid >= ? AND {col} IS NOT NULL "
                               f"ORDER BY rowid LIMIT 1", (rng.randint(low, high),)).fetchone() or \
                conn.execute(f"SELECT rowid, {col} FROM {child} WHERE {col} IS NOT NULL LIMIT 1").fetchone()
            if row is None:
                continue
            top = conn.execute(f"SELECT max({pcol}) FROM {parent}").fetchone()[0]
            if isinstance(top, int) or top is None:
                new: object = (top or 0) + 1 + rng.randrange(1000)
            else:
                new = f"orphan-{rng.randrange(10 ** 9)}"
            if conn.execute(f"SELECT 1 FROM {parent} WHERE {pcol} = ?", (new,)).fetchone():
                continue
            try:
                conn.execute(f"UPDATE {child} SET {col} = ? WHERE rowid = ?", (new, row[0]))
            except sqlite3.IntegrityError:
                continue
            return Done(f"{child_name} rowid {row[0]}: {fk.columns[0]} {row[1]!r} -> {new!r} (no such "
                        f"{fk.table}.{parent_column or 'rowid'}), written with foreign_keys=OFF",
                        changed=(setup.db,),
                        expected={"content_changed_silently": True, "fk_violations": True})
    raise Unsupported("no child row with a non-null foreign key")


__all__ = ["TableInfo", "find_overflow", "foreign_keys", "schema_connection", "tables"]
