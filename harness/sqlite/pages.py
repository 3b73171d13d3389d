"""A page-level map of a database file, its WAL and its rollback journal, read as bytes.

Nothing here asks SQLite: damage must land on the page the harness says it lands on, even in
a file SQLite already refuses. See https://www.sqlite.org/fileformat2.html.

- ``Reader``: an open database file read page by page (only the pages asked for), the
  ``sqlite_schema`` b-tree parsed from page 1 on, descents and walks of one b-tree, cells,
  record values, overflow chains and the freelist. Damage functions use it: they read a
  handful of pages, never the whole file.
- ``map_pages(path)``: everything at once (every b-tree walked from its root, every page
  typed): ``PageMap``. For tests, strategies and reports; it reads every page once.
- ``read_wal(path)``: the ``-wal`` header and frames (page number, commit size, salts,
  checksums), which frames are valid and which are commits, as SQLite's recovery decides:
  the valid prefix ends at the first frame whose salts or cumulative checksum disagree, and
  only frames up to the last commit frame in it count.
- ``read_journal(path)``: a rollback journal's header(s) and page records.

Every result is a frozen dataclass; a walk of a damaged file records ``problems`` rather
than raising, so a map of a broken file still says what could be read.
"""

from __future__ import annotations

import array
import mmap
import os
import random
import re
import struct
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import BinaryIO, Mapping

from harness.sqlite.fileformat import HEADER_SIZE, Header, parse_header

INTERIOR_INDEX = 0x02
INTERIOR_TABLE = 0x05
LEAF_INDEX = 0x0A
LEAF_TABLE = 0x0D
BTREE_TYPES = {
    INTERIOR_INDEX: "interior-index",
    INTERIOR_TABLE: "interior-table",
    LEAF_INDEX: "leaf-index",
    LEAF_TABLE: "leaf-table",
}
#: Every page role ``PageMap.role`` can give a page.
ROLES = (*BTREE_TYPES.values(), "overflow", "freelist-trunk", "freelist-leaf", "ptrmap", "lock-byte", "unknown")
LOCK_BYTE_OFFSET = 1 << 30  # the page holding this offset is never used (files > 1 GiB)

WAL_HEADER_SIZE = 32
WAL_FRAME_HEADER_SIZE = 24
WAL_MAGIC_LE = 0x377F0682
WAL_MAGIC_BE = 0x377F0683
WAL_FORMAT = 3007000

JOURNAL_MAGIC = bytes.fromhex("d9d505f920a163d7")


# ------------------------------------------------------------------------------------------
# Small decoders
# ------------------------------------------------------------------------------------------


def varint(data: bytes | memoryview, pos: int) -> tuple[int, int]:
    """SQLite's big-endian varint at ``pos``: (value, position after it). 1 to 9 bytes."""
    value = 0
    for i in range(8):
        if pos + i >= len(data):
            raise ValueError("varint runs off the end of the data")
        byte = data[pos + i]
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, pos + i + 1
    if pos + 8 >= len(data):
        raise ValueError("varint runs off the end of the data")
    value = (value << 8) | data[pos + 8]
    return value, pos + 9


def serial_size(serial_type: int) -> int:
    """Bytes a value of this serial type takes in a record body."""
    if serial_type < 12:
        return (0, 1, 2, 3, 4, 6, 8, 8, 0, 0, 0, 0)[serial_type]
    return (serial_type - 12) // 2 if serial_type % 2 == 0 else (serial_type - 13) // 2


@dataclass(frozen=True)
class Field:
    """One value of a record: its serial type, and where its bytes are in the payload."""

    serial_type: int
    offset: int  # within the payload
    size: int

    @property
    def storage(self) -> str:
        t = self.serial_type
        if t == 0:
            return "null"
        if t in (1, 2, 3, 4, 5, 6, 8, 9):
            return "integer"
        if t == 7:
            return "real"
        if t >= 12:
            return "blob" if t % 2 == 0 else "text"
        return "reserved"


def record_fields(payload: bytes) -> tuple[Field, ...]:
    """The fields of a record (the header only is needed, plus the sizes it implies)."""
    header_size, pos = varint(payload, 0)
    types = []
    while pos < header_size:
        serial_type, pos = varint(payload, pos)
        types.append(serial_type)
    out = []
    offset = header_size
    for serial_type in types:
        size = serial_size(serial_type)
        out.append(Field(serial_type, offset, size))
        offset += size
    return tuple(out)


def decode_value(payload: bytes, f: Field, encoding: str = "utf-8") -> object:
    raw = payload[f.offset:f.offset + f.size]
    t = f.serial_type
    if t == 0:
        return None
    if t == 8:
        return 0
    if t == 9:
        return 1
    if 1 <= t <= 6:
        return int.from_bytes(raw, "big", signed=True)
    if t == 7:
        return struct.unpack(">d", raw)[0]
    if t >= 12 and t % 2 == 0:
        return bytes(raw)
    if t >= 13:
        return bytes(raw).decode(encoding, "replace")
    return None


def record_values(payload: bytes, encoding: str = "utf-8") -> tuple[object, ...]:
    return tuple(decode_value(payload, f, encoding) for f in record_fields(payload))


def _u16(data: bytes | memoryview, off: int) -> int:
    return (data[off] << 8) | data[off + 1]


def _u32(data: bytes | memoryview, off: int) -> int:
    value: int = struct.unpack_from(">I", data, off)[0]
    return value


# ------------------------------------------------------------------------------------------
# B-tree pages and cells
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One cell of a b-tree page. Offsets are within the page."""

    offset: int  # where the cell starts
    size: int  # bytes of the cell on this page (header, local payload, overflow pointer)
    left_child: int | None = None  # interior pages
    rowid: int | None = None  # table pages
    payload_size: int = 0  # total payload (0 for interior table cells)
    payload_offset: int = 0  # where the local payload starts
    local_size: int = 0  # payload bytes stored on this page
    overflow: int | None = None  # first overflow page, if the payload spills

    @property
    def overflow_pointer_offset(self) -> int | None:
        """Where (in the page) the 4-byte first-overflow-page number is, if any."""
        return self.payload_offset + self.local_size if self.overflow is not None else None


@dataclass(frozen=True)
class BtreePage:
    number: int
    type: int  # INTERIOR_INDEX, INTERIOR_TABLE, LEAF_INDEX, LEAF_TABLE
    header_offset: int  # 100 on page 1, else 0
    first_freeblock: int
    cell_count: int
    content_start: int
    fragmented: int
    right_child: int | None  # interior pages only
    cell_pointers: tuple[int, ...]
    cells: tuple[Cell, ...]  # empty when parsed with cells=False
    children: tuple[int, ...] = ()  # interior pages parsed with cells: left children in order, then the right child

    @property
    def role(self) -> str:
        return BTREE_TYPES[self.type]

    @property
    def is_leaf(self) -> bool:
        return self.type in (LEAF_TABLE, LEAF_INDEX)

    @property
    def is_table(self) -> bool:
        return self.type in (LEAF_TABLE, INTERIOR_TABLE)

    @property
    def header_size(self) -> int:
        return 8 if self.is_leaf else 12

    @property
    def cell_pointer_offset(self) -> int:
        """Where (in the page) the cell pointer array starts."""
        return self.header_offset + self.header_size



class NotABtreePage(ValueError):
    pass


def local_payload(payload_size: int, usable: int, table_leaf: bool) -> int:
    """How many payload bytes a cell keeps on its page (fileformat2 section 1.6)."""
    max_local = usable - 35 if table_leaf else (usable - 12) * 64 // 255 - 23
    if payload_size <= max_local:
        return payload_size
    min_local = (usable - 12) * 32 // 255 - 23
    k = min_local + (payload_size - min_local) % (usable - 4)
    return k if k <= max_local else min_local


def parse_cell(page: bytes, offset: int, page_type: int, usable: int) -> Cell:
    pos = offset
    left = rowid = None
    if page_type in (INTERIOR_TABLE, INTERIOR_INDEX):
        left = _u32(page, pos)
        pos += 4
    if page_type == INTERIOR_TABLE:
        rowid, pos = varint(page, pos)
        return Cell(offset, pos - offset, left_child=left, rowid=rowid)
    payload_size, pos = varint(page, pos)
    if page_type == LEAF_TABLE:
        rowid, pos = varint(page, pos)
    local = local_payload(payload_size, usable, page_type == LEAF_TABLE)
    overflow = None
    end = pos + local
    if local < payload_size:
        if end + 4 > len(page):
            raise ValueError(f"cell at {offset} runs off the page")
        overflow = _u32(page, end)
        end += 4
    if end > usable:
        raise ValueError(f"cell at {offset} extends past the usable page ({end} > {usable})")
    return Cell(offset, end - offset, left_child=left, rowid=rowid, payload_size=payload_size,
                payload_offset=pos, local_size=local, overflow=overflow)


def parse_btree_page(page: bytes, number: int, usable: int, *, cells: bool = True) -> BtreePage:
    """A b-tree page's header, cell pointers and (``cells``) cells. Raises NotABtreePage."""
    hdr = HEADER_SIZE if number == 1 else 0
    page_type = page[hdr]
    if page_type not in BTREE_TYPES:
        raise NotABtreePage(f"page {number}: type byte 0x{page_type:02x} is no b-tree page type")
    leaf = page_type in (LEAF_TABLE, LEAF_INDEX)
    count = _u16(page, hdr + 3)
    start = _u16(page, hdr + 5) or 65536
    right = None if leaf else _u32(page, hdr + 8)
    ptr_at = hdr + (8 if leaf else 12)
    if ptr_at + 2 * count > usable:
        raise NotABtreePage(f"page {number}: {count} cell pointers do not fit the page")
    pointers = struct.unpack_from(f">{count}H", page, ptr_at) if count else ()
    parsed: tuple[Cell, ...] = ()
    kids: tuple[int, ...] = ()
    if cells:
        out = []
        for p in pointers:
            if not ptr_at + 2 * count <= p < usable:
                raise NotABtreePage(f"page {number}: cell pointer {p} is outside the cell content area")
            try:
                out.append(parse_cell(page, p, page_type, usable))
            except ValueError as exc:
                raise NotABtreePage(f"page {number}: {exc}") from exc
        parsed = tuple(out)
        if not leaf:
            kids = tuple(c.left_child for c in parsed if c.left_child is not None) + ((right,) if right else ())
    return BtreePage(number, page_type, hdr, _u16(page, hdr + 1), count, start, page[hdr + 7], right,
                     tuple(pointers), parsed, kids)


# ------------------------------------------------------------------------------------------
# The schema
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SchemaEntry:
    """One row of ``sqlite_schema`` and where it is stored (for damage to the schema itself)."""

    type: str
    name: str
    tbl_name: str
    rootpage: int
    sql: str | None
    page: int  # the sqlite_schema page holding the row's cell
    cell_offset: int  # the cell's offset in that page
    payload_offset: int  # where the local payload starts in that page
    local_size: int
    fields: tuple[Field, ...]  # the record's fields (offsets within the payload)

    @property
    def is_btree(self) -> bool:
        return self.type in ("table", "index") and self.rootpage > 0

    @property
    def without_rowid(self) -> bool:
        return self.type == "table" and without_rowid(self.sql)


_WITHOUT_ROWID = re.compile(r"\)\s*WITHOUT\s+ROWID\s*(,|;|$)", re.IGNORECASE)


def without_rowid(sql: str | None) -> bool:
    """Whether a CREATE TABLE statement ends with the WITHOUT ROWID table option."""
    return bool(sql) and _WITHOUT_ROWID.search(sql.strip()) is not None  # type: ignore[union-attr]


# ------------------------------------------------------------------------------------------
# Reader: a database file read page by page
# ------------------------------------------------------------------------------------------


class Reader:
    """Pages of one database file on demand. Use as a context manager, or ``close()``."""

    def __init__(self, path: Path | str, handle: BinaryIO | None = None) -> None:
        self.path = Path(path)
        self._own = handle is None
        self.handle: BinaryIO = handle if handle is not None else open(self.path, "rb")
        self.handle.seek(0)
        self.header: Header = parse_header(self.handle.read(HEADER_SIZE))
        self.page_size = self.header.page_size
        self.usable = self.page_size - self.header.reserved_bytes
        self.file_size = os.fstat(self.handle.fileno()).st_size
        self.page_count = -(-self.file_size // self.page_size)  # a partial last page counts
        self._cache: dict[int, bytes] = {}
        self._schema: tuple[SchemaEntry, ...] | None = None
        self.encoding = {1: "utf-8", 2: "utf-16-le", 3: "utf-16-be"}.get(self.header.text_encoding, "utf-8")

    def __enter__(self) -> "Reader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._own:
            self.handle.close()

    def offset(self, number: int) -> int:
        return (number - 1) * self.page_size

    def page(self, number: int) -> bytes:
        """Page ``number`` (1-based); zero-filled past the end of the file, as SQLite reads it."""
        if number < 1:
            raise ValueError(f"page {number} does not exist")
        data = self._cache.get(number)
        if data is None:
            self.handle.seek(self.offset(number))
            data = self.handle.read(self.page_size)
            if len(data) < self.page_size:
                data += bytes(self.page_size - len(data))
            if len(self._cache) > 256:
                self._cache.clear()
            self._cache[number] = data
        return data

    def exists(self, number: int) -> bool:
        return 1 <= number <= self.page_count

    def btree_page(self, number: int, *, cells: bool = True) -> BtreePage:
        if not self.exists(number):
            raise NotABtreePage(f"page {number} is past the end of the file ({self.page_count} pages)")
        return parse_btree_page(self.page(number), number, self.usable, cells=cells)

    def cell(self, page: BtreePage, index: int) -> Cell:
        """Cell ``index`` of ``page`` (parsed alone: no need to parse the whole page)."""
        pointer = page.cell_pointers[index]
        if not page.cell_pointer_offset + 2 * page.cell_count <= pointer < self.usable:
            raise NotABtreePage(f"page {page.number}: cell pointer {pointer} is outside the cell content area")
        try:
            return parse_cell(self.page(page.number), pointer, page.type, self.usable)
        except ValueError as exc:
            raise NotABtreePage(f"page {page.number}: {exc}") from exc

    def payload(self, page: BtreePage, cell: Cell, limit: int | None = None) -> bytes:
        """A cell's whole payload (``limit``: at most that many bytes), following overflow."""
        want = cell.payload_size if limit is None else min(limit, cell.payload_size)
        data = self.page(page.number)
        out = bytearray(data[cell.payload_offset:cell.payload_offset + min(cell.local_size, want)])
        next_page = cell.overflow
        seen = set()
        while len(out) < want and next_page:
            if next_page in seen or not self.exists(next_page):
                raise ValueError(f"overflow chain from page {page.number} is broken at page {next_page}")
            seen.add(next_page)
            chunk = self.page(next_page)
            out += chunk[4:self.usable][:want - len(out)]
            next_page = _u32(chunk, 0)
        return bytes(out[:want])

    def overflow_chain(self, first: int, limit: int = 1 << 20) -> tuple[int, ...]:
        chain: list[int] = []
        seen: set[int] = set()
        current = first
        while current and len(chain) < limit:
            if current in seen or not self.exists(current):
                break
            seen.add(current)
            chain.append(current)
            current = _u32(self.page(current), 0)
        return tuple(chain)

    # --- sqlite_schema -------------------------------------------------------------------

    def schema(self) -> tuple[SchemaEntry, ...]:
        """The rows of ``sqlite_schema``, parsed from the b-tree rooted at page 1."""
        if self._schema is None:
            out = []
            for page in self.walk(1, leaves_only=True):
                for cell in page.cells:
                    payload = self.payload(page, cell)
                    fields = record_fields(payload)
                    values = [decode_value(payload, f, self.encoding) for f in fields] + [None] * 5
                    type_, name, tbl, root, sql = values[:5]
                    out.append(SchemaEntry(str(type_), str(name), str(tbl), int(root or 0) if isinstance(root, (int, str)) else 0,
                                           sql if isinstance(sql, str) else None, page.number,
                                           cell.offset, cell.payload_offset, cell.local_size, fields))
            self._schema = tuple(out)
        return self._schema

    def entry(self, name: str) -> SchemaEntry:
        for e in self.schema():
            if e.name == name:
                return e
        raise KeyError(name)

    # --- b-tree walks --------------------------------------------------------------------

    def walk(self, root: int, *, leaves_only: bool = False, cells: bool = True) -> Iterator[BtreePage]:
        """Every page of the b-tree at ``root``, depth first, left to right (a cycle ends it).

        ``cells=False`` yields pages without their parsed cells (children are read from the
        cell pointers alone): a whole-tree scan then costs little more than reading it.
        """
        stack = [root]
        seen: set[int] = set()
        while stack:
            number = stack.pop()
            if number in seen:
                continue
            seen.add(number)
            page = self.btree_page(number, cells=cells)
            if not (leaves_only and not page.is_leaf):
                yield page
            if page.is_leaf:
                continue
            children = page.children if cells else tuple(
                self.child(page, i) for i in range(page.cell_count + 1))
            stack.extend(reversed(children))

    def child(self, page: BtreePage, index: int) -> int:
        """Child ``index`` of an interior page (``cell_count`` is the right child), read from
        the cell itself: no need to parse the page's cells."""
        if index == page.cell_count:
            return page.right_child or 0
        pointer = page.cell_pointers[index]
        if pointer + 4 > self.usable:
            raise NotABtreePage(f"page {page.number}: cell pointer {pointer} is past the usable page")
        return _u32(self.page(page.number), pointer)

    def descend(self, root: int, rng: random.Random, *, depth: int | None = None) -> list[BtreePage]:
        """A random path from ``root`` down to a leaf (or ``depth`` levels): its pages,
        parsed without their cells (``cell(page, i)`` or ``btree_page(n)`` for those)."""
        path = [self.btree_page(root, cells=False)]
        seen = {root}
        while not path[-1].is_leaf and (depth is None or len(path) <= depth):
            nxt = self.child(path[-1], rng.randrange(path[-1].cell_count + 1))
            if nxt in seen or not self.exists(nxt):
                break
            seen.add(nxt)
            path.append(self.btree_page(nxt, cells=False))
        return path

    def depth(self, root: int) -> int:
        """Levels of the b-tree at ``root`` (1: the root is a leaf), along its leftmost path."""
        levels = 1
        page = self.btree_page(root, cells=False)
        seen = {root}
        while not page.is_leaf:
            first = self.child(page, 0)
            if first in seen or not self.exists(first):
                break
            seen.add(first)
            page = self.btree_page(first, cells=False)
            levels += 1
        return levels

    # --- freelist ------------------------------------------------------------------------

    def freelist(self) -> "Freelist":
        trunks: list[int] = []
        leaves: list[int] = []
        problems: list[str] = []
        trunk = self.header.freelist_trunk
        seen: set[int] = set()
        while trunk:
            if trunk in seen:
                problems.append(f"freelist trunk loop at page {trunk}")
                break
            if not self.exists(trunk):
                problems.append(f"freelist trunk page {trunk} is past the end of the file")
                break
            seen.add(trunk)
            trunks.append(trunk)
            data = self.page(trunk)
            count = _u32(data, 4)
            if count > (self.usable - 8) // 4:
                problems.append(f"freelist trunk page {trunk} claims {count} leaves")
                count = (self.usable - 8) // 4
            leaves.extend(struct.unpack_from(f">{count}I", data, 8))
            trunk = _u32(data, 0)
        if len(trunks) + len(leaves) != self.header.freelist_count:
            problems.append(f"header says {self.header.freelist_count} free pages, the list has "
                            f"{len(trunks) + len(leaves)}")
        return Freelist(tuple(trunks), tuple(leaves), self.header.freelist_count, tuple(problems))

    # --- special pages -------------------------------------------------------------------

    def ptrmap_pages(self) -> tuple[int, ...]:
        """Pointer-map pages (auto_vacuum databases only: header offset 52 is non-zero)."""
        self.handle.seek(52)
        if struct.unpack(">I", self.handle.read(4))[0] == 0:
            return ()
        step = self.usable // 5 + 1
        pages = []
        n = 2
        lock = self.lock_byte_page()
        while n <= self.page_count:
            pages.append(n)
            n += step
            if n == lock:
                n += 1
        return tuple(pages)

    def lock_byte_page(self) -> int:
        return LOCK_BYTE_OFFSET // self.page_size + 1


# ------------------------------------------------------------------------------------------
# The whole map
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Freelist:
    trunks: tuple[int, ...]
    leaves: tuple[int, ...]
    header_count: int  # header offset 36
    problems: tuple[str, ...] = ()

    @property
    def pages(self) -> tuple[int, ...]:
        return self.trunks + self.leaves


@dataclass(frozen=True)
class Btree:
    name: str
    type: str  # "table" or "index" ("table" for sqlite_schema)
    tbl_name: str
    root: int
    pages: tuple[int, ...]  # every b-tree page, root first (overflow pages not included)
    depth: int
    without_rowid: bool = False  # a table stored as an index b-tree

    @property
    def interior(self) -> bool:
        return self.depth > 1


@dataclass(frozen=True)
class OverflowChain:
    btree: str
    page: int  # the b-tree page holding the cell
    cell: int  # its index on that page
    pages: tuple[int, ...]


@dataclass(frozen=True)
class PageMap:
    path: Path
    header: Header
    page_size: int
    usable_size: int
    file_size: int
    page_count: int  # pages in the file (a partial last page counts)
    schema: tuple[SchemaEntry, ...]
    btrees: tuple[Btree, ...]
    pages: Mapping[int, BtreePage]  # every b-tree page reached
    owner: Mapping[int, str]  # page number -> name of the b-tree (or "overflow of" chain) it belongs to
    overflow: tuple[OverflowChain, ...]
    freelist: Freelist
    ptrmap: tuple[int, ...] = ()
    problems: tuple[str, ...] = ()
    _special: Mapping[int, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        special: dict[int, str] = {}
        for n in self.ptrmap:
            special[n] = "ptrmap"
        for n in self.freelist.leaves:
            special[n] = "freelist-leaf"
        for n in self.freelist.trunks:
            special[n] = "freelist-trunk"
        for chain in self.overflow:
            for n in chain.pages:
                special[n] = "overflow"
        object.__setattr__(self, "_special", MappingProxyType(special))

    def role(self, number: int) -> str:
        """What page ``number`` is: one of ``ROLES``."""
        if number in self.pages:
            return self.pages[number].role
        if number in self._special:
            return self._special[number]
        if self.page_size * number > LOCK_BYTE_OFFSET >= self.page_size * (number - 1):
            return "lock-byte"
        return "unknown"

    def pages_with_role(self, role: str) -> tuple[int, ...]:
        return tuple(n for n in range(1, self.page_count + 1) if self.role(n) == role)

    def roles(self) -> dict[str, int]:
        """Role -> number of pages with it."""
        counts: dict[str, int] = {}
        for n in range(1, self.page_count + 1):
            role = self.role(n)
            counts[role] = counts.get(role, 0) + 1
        return counts

    def btree(self, name: str) -> Btree:
        for b in self.btrees:
            if b.name == name:
                return b
        raise KeyError(name)

    def offset(self, number: int) -> int:
        return (number - 1) * self.page_size


def map_pages(path: Path | str) -> PageMap:
    """Walk every b-tree listed in ``sqlite_schema`` (and ``sqlite_schema`` itself), every
    overflow chain and the freelist. Unreadable parts become ``problems``."""
    with Reader(path) as r:
        problems: list[str] = []
        try:
            schema = r.schema()
        except (NotABtreePage, ValueError) as exc:
            schema = ()
            problems.append(f"sqlite_schema: {exc}")
        roots = [("sqlite_schema", "table", "sqlite_schema", 1, False)] + [
            (e.name, e.type, e.tbl_name, e.rootpage, e.without_rowid) for e in schema if e.is_btree]
        pages: dict[int, BtreePage] = {}
        owner: dict[int, str] = {}
        btrees = []
        chains = []
        for name, type_, tbl, root, no_rowid in roots:
            members: list[int] = []
            depth = 0
            try:
                depth = r.depth(root)
                for page in _walk_tolerant(r, root, problems, name):
                    if page.number in owner:
                        problems.append(f"page {page.number} is in {owner[page.number]} and {name}")
                        continue
                    pages[page.number] = page
                    owner[page.number] = name
                    members.append(page.number)
                    for index, cell in enumerate(page.cells):
                        if cell.overflow is not None:
                            chain = r.overflow_chain(cell.overflow)
                            chains.append(OverflowChain(name, page.number, index, chain))
                            for p in chain:
                                owner.setdefault(p, name)
            except (NotABtreePage, ValueError) as exc:
                problems.append(f"{name}: {exc}")
            btrees.append(Btree(name, type_, tbl, root, tuple(members), depth, no_rowid))
        freelist = r.freelist()
        problems.extend(freelist.problems)
        return PageMap(r.path, r.header, r.page_size, r.usable, r.file_size, r.page_count, schema,
                       tuple(btrees), MappingProxyType(pages), MappingProxyType(owner), tuple(chains),
                       freelist, r.ptrmap_pages(), tuple(problems))


def _walk_tolerant(r: Reader, root: int, problems: list[str], name: str) -> Iterator[BtreePage]:
    stack = [root]
    seen: set[int] = set()
    while stack:
        number = stack.pop()
        if number in seen:
            problems.append(f"{name}: page {number} reached twice")
            continue
        seen.add(number)
        try:
            page = r.btree_page(number)
        except (NotABtreePage, ValueError) as exc:
            problems.append(f"{name}: {exc}")
            continue
        yield page
        stack.extend(reversed(page.children))


# ------------------------------------------------------------------------------------------
# WAL
# ------------------------------------------------------------------------------------------


def wal_checksum(data: bytes | memoryview, s0: int = 0, s1: int = 0, *, big_endian: bool = False) -> tuple[int, int]:
    """SQLite's WAL checksum over ``data`` (a multiple of 8 bytes), continuing from (s0, s1)."""
    n = len(data) // 4
    words = struct.unpack_from((">" if big_endian else "<") + f"{n}I", data)
    mask = 0xFFFFFFFF
    for i in range(0, n, 2):
        s0 = (s0 + words[i] + s1) & mask
        s1 = (s1 + words[i + 1] + s0) & mask
    return s0, s1


@dataclass(frozen=True)
class WalHeader:
    magic: int
    format: int
    page_size: int
    checkpoint_seq: int
    salt1: int
    salt2: int
    checksum1: int
    checksum2: int
    valid: bool  # magic, format, page size and header checksum all good

    @property
    def big_endian(self) -> bool:
        return self.magic == WAL_MAGIC_BE


@dataclass(frozen=True)
class WalFrame:
    index: int  # 0-based
    offset: int  # of the frame header in the -wal file
    page: int
    commit_size: int  # database size in pages after a commit; 0 for other frames
    salt1: int
    salt2: int
    checksum1: int
    checksum2: int
    salt_ok: bool
    checksum_ok: bool | None  # None when not verified

    @property
    def is_commit(self) -> bool:
        return self.commit_size != 0

    @property
    def data_offset(self) -> int:
        return self.offset + WAL_FRAME_HEADER_SIZE


@dataclass(frozen=True)
class WalMap:
    """A ``-wal``'s frames, held as columns (one entry per complete frame); ``frame(i)``,
    ``frames`` and ``commits`` build ``WalFrame`` objects from them on demand."""

    path: Path
    file_size: int
    header: WalHeader | None  # None: shorter than a header
    pages: tuple[int, ...]  # page number of each frame
    commit_sizes: tuple[int, ...]  # 0 for frames that end no transaction
    salt1s: tuple[int, ...]
    salt2s: tuple[int, ...]
    checksum1s: tuple[int, ...]  # as stored in each frame header
    checksum2s: tuple[int, ...]
    checksum_ok: tuple[bool | None, ...]  # None when not verified
    valid_frames: int  # frames SQLite's recovery accepts: the prefix up to the last valid commit
    partial_tail: int  # bytes after the last complete frame

    @property
    def frame_size(self) -> int:
        return WAL_FRAME_HEADER_SIZE + (self.header.page_size if self.header else 0)

    @property
    def frame_count(self) -> int:
        return len(self.pages)

    def frame(self, index: int) -> WalFrame:
        assert self.header is not None
        salts = (self.salt1s[index], self.salt2s[index])
        return WalFrame(index, WAL_HEADER_SIZE + index * self.frame_size, self.pages[index], self.commit_sizes[index],
                        *salts, self.checksum1s[index], self.checksum2s[index],
                        salts == (self.header.salt1, self.header.salt2), self.checksum_ok[index])

    @property
    def frames(self) -> tuple[WalFrame, ...]:
        """Every complete frame in the file."""
        return tuple(self.frame(i) for i in range(self.frame_count))

    @property
    def commit_indexes(self) -> tuple[int, ...]:
        return tuple(i for i in range(self.valid_frames) if self.commit_sizes[i])

    @property
    def commits(self) -> tuple[WalFrame, ...]:
        """The commit frames SQLite would replay, oldest first."""
        return tuple(self.frame(i) for i in self.commit_indexes)

    def lost_commits_if_cut_at(self, frame_index: int) -> int:
        """Committed transactions dropped when frames from ``frame_index`` on become invalid."""
        return sum(1 for i in self.commit_indexes if i >= frame_index)


def parse_wal_header(data: bytes) -> WalHeader | None:
    if len(data) < WAL_HEADER_SIZE:
        return None
    magic, fmt, page_size, seq, salt1, salt2, c1, c2 = struct.unpack(">8I", data[:32])
    valid = magic in (WAL_MAGIC_LE, WAL_MAGIC_BE) and fmt == WAL_FORMAT and \
        512 <= (page_size or 0) <= 65536 and page_size & (page_size - 1) == 0
    if valid:
        valid = wal_checksum(data[:24], big_endian=magic == WAL_MAGIC_BE) == (c1, c2)
    return WalHeader(magic, fmt, page_size, seq, salt1, salt2, c1, c2, valid)


def _strided_u32(data: mmap.mmap | bytes, start: int, count: int, stride: int, fields: int) -> list[list[int]]:
    """Big-endian 32-bit fields 0..fields-1 of ``count`` records of ``stride`` bytes from
    ``start``: one column per field, read at C speed (strided memoryview, one byteswap)."""
    if count == 0:
        return [[] for _ in range(fields)]
    view = memoryview(data)[start:start + (count - 1) * stride + 4 * fields].cast("I")
    try:
        step = stride // 4
        columns = []
        for f in range(fields):
            column = array.array("I", view[f::step].tobytes())
            if sys.byteorder == "little":
                column.byteswap()
            columns.append(column.tolist())
        return columns
    finally:
        view.release()


def read_wal(path: Path | str, *, verify: bool = True) -> WalMap:
    """The frames of a ``-wal``. ``verify``: check every frame's cumulative checksum (reads
    the whole file, in Python: slow); without it only the frame headers are looked at
    (``mmap``, strided reads) and checksums are assumed good, which is right for a WAL
    SQLite wrote and nobody touched since."""
    path = Path(path)
    size = path.stat().st_size
    if size < WAL_HEADER_SIZE:
        with open(path, "rb") as handle:
            return WalMap(path, size, parse_wal_header(handle.read()), (), (), (), (), (), (), (), 0, 0)
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        header = parse_wal_header(data[:WAL_HEADER_SIZE])
        if header is None or not header.page_size or header.page_size & (header.page_size - 1) or \
                not 512 <= header.page_size <= 65536:
            return WalMap(path, size, header, (), (), (), (), (), (), (), 0, max(0, size - WAL_HEADER_SIZE))
        frame_size = WAL_FRAME_HEADER_SIZE + header.page_size
        count = (size - WAL_HEADER_SIZE) // frame_size
        pages, commits, salt1, salt2, c1, c2 = _strided_u32(data, WAL_HEADER_SIZE, count, frame_size, 6)
        checksum_ok: list[bool | None] = [None] * count
        if verify:
            s = (header.checksum1, header.checksum2)
            view = memoryview(data)
            try:
                for i in range(count):
                    offset = WAL_HEADER_SIZE + i * frame_size
                    s = wal_checksum(view[offset:offset + 8], *s, big_endian=header.big_endian)
                    s = wal_checksum(view[offset + WAL_FRAME_HEADER_SIZE:offset + frame_size], *s,
                                     big_endian=header.big_endian)
                    checksum_ok[i] = s == (c1[i], c2[i])
            finally:
                view.release()
    valid = 0
    if header.valid:
        # the frames SQLite accepts: a prefix with the header's salts, a page number, a good checksum
        if not verify and salt1 == [header.salt1] * count and salt2 == [header.salt2] * count and 0 not in pages:
            good = count  # the usual case, decided without a Python loop over the frames
        else:
            good = 0
            while good < count and salt1[good] == header.salt1 and salt2[good] == header.salt2 and \
                    checksum_ok[good] is not False and pages[good] != 0:
                good += 1
        valid = next((i + 1 for i in range(good - 1, -1, -1) if commits[i]), 0)
    tail = size - WAL_HEADER_SIZE - count * frame_size
    return WalMap(path, size, header, tuple(pages), tuple(commits), tuple(salt1), tuple(salt2), tuple(c1), tuple(c2),
                  tuple(checksum_ok), valid, tail)


def frame_checksum_ok(path: Path | str, wal: WalMap, index: int) -> bool:
    """Whether frame ``index`` checksums right given the checksum stored in the frame (or
    header) before it: one frame read, not the whole chain."""
    assert wal.header is not None
    prev = (wal.header.checksum1, wal.header.checksum2) if index == 0 else \
        (wal.checksum1s[index - 1], wal.checksum2s[index - 1])
    with open(path, "rb") as handle:
        handle.seek(WAL_HEADER_SIZE + index * wal.frame_size)
        raw = handle.read(wal.frame_size)
    s = wal_checksum(raw[:8], *prev, big_endian=wal.header.big_endian)
    s = wal_checksum(memoryview(raw)[WAL_FRAME_HEADER_SIZE:], *s, big_endian=wal.header.big_endian)
    return s == struct.unpack_from(">2I", raw, 16)


# ------------------------------------------------------------------------------------------
# Rollback journal
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JournalSegment:
    offset: int  # of this header in the journal
    records: int  # nRec (0xFFFFFFFF: "to the end of the file")
    checksum_init: int
    initial_pages: int  # database size before the transaction
    sector_size: int
    page_size: int


@dataclass(frozen=True)
class JournalRecord:
    offset: int  # of the record (its 4-byte page number) in the journal
    page: int
    checksum: int
    checksum_ok: bool


@dataclass(frozen=True)
class JournalMap:
    """A rollback journal's segments and page records (``records`` built on demand from the
    columns)."""

    path: Path
    file_size: int
    segments: tuple[JournalSegment, ...]
    record_offsets: tuple[int, ...]
    record_pages: tuple[int, ...]
    record_checksums: tuple[int, ...]
    record_checksum_ok: tuple[bool, ...]

    @property
    def records(self) -> tuple[JournalRecord, ...]:
        return tuple(JournalRecord(*fields) for fields in zip(self.record_offsets, self.record_pages,
                                                                 self.record_checksums, self.record_checksum_ok))

    @property
    def record_count(self) -> int:
        return len(self.record_pages)

    @property
    def hot_candidate(self) -> bool:
        """Starts with a journal header and has at least one record (SQLite also needs no
        process holding a RESERVED lock to treat it as hot)."""
        return bool(self.segments) and bool(self.record_pages)


def journal_checksum(init: int, page: bytes) -> int:
    total = init
    i = len(page) - 200
    while i > 0:
        total += page[i]
        i -= 200
    return total & 0xFFFFFFFF


def read_journal(path: Path | str, *, verify: bool = True, segments: int | None = None,
                 records: int | None = None) -> JournalMap:
    """A rollback journal's segments and records. ``verify``: read every record's page to
    check its checksum (else only page numbers and stored checksums are looked at, through
    ``mmap`` and strided reads, and the checksums count as good). ``segments``: stop after
    that many segments (a journal synced often has one per sync, each a few records).
    ``records``: read at most that many records of each segment (a damage needs the first
    few; reading every record's page number touches every page of a large journal)."""
    limit = segments
    path = Path(path)
    size = path.stat().st_size
    found: list[JournalSegment] = []
    offsets: list[int] = []
    pages: list[int] = []
    checksums: list[int] = []
    oks: list[bool] = []
    if size < 28:
        return JournalMap(path, size, (), (), (), (), ())
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        offset = 0
        while offset + 28 <= size and (limit is None or len(found) < limit):
            if data[offset:offset + 8] != JOURNAL_MAGIC:
                break
            n_rec, init, initial, sector, page_size = struct.unpack_from(">5I", data, offset + 8)
            if not sector or sector & (sector - 1) or not page_size or page_size & (page_size - 1):
                break
            found.append(JournalSegment(offset, n_rec, init, initial, sector, page_size))
            start = offset + sector
            record_size = page_size + 8
            available = max(0, (size - start) // record_size)
            n = available if n_rec == 0xFFFFFFFF else min(n_rec, available)
            whole = n
            if records is not None:
                n = min(n, records)
            first, = _strided_u32(data, start, n, record_size, 1)
            stored, = _strided_u32(data, start + 4 + page_size, n, record_size, 1) if n else ([],)
            offsets.extend(range(start, start + n * record_size, record_size))
            pages.extend(first)
            checksums.extend(stored)
            if verify:
                for i in range(n):
                    at = start + i * record_size + 4
                    oks.append(journal_checksum(init, data[at:at + page_size]) == stored[i])
            else:
                oks.extend([True] * n)
            if n_rec in (0, 0xFFFFFFFF):
                break
            offset = -(-(start + whole * record_size) // sector) * sector  # next header: on a sector boundary
    return JournalMap(path, size, tuple(found), tuple(offsets), tuple(pages), tuple(checksums), tuple(oks))


__all__ = [
    "BTREE_TYPES", "Btree", "BtreePage", "Cell", "Field", "Freelist", "INTERIOR_INDEX", "INTERIOR_TABLE",
    "JournalMap", "JournalRecord", "JournalSegment", "LEAF_INDEX", "LEAF_TABLE", "NotABtreePage",
    "OverflowChain", "PageMap", "ROLES", "Reader", "SchemaEntry", "WalFrame", "WalHeader", "WalMap",
    "decode_value", "frame_checksum_ok", "journal_checksum", "local_payload", "map_pages", "parse_btree_page",
    "parse_cell", "parse_wal_header", "read_journal", "read_wal", "record_fields", "record_values",
    "serial_size", "varint", "wal_checksum", "without_rowid",
]
