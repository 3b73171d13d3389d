"""Damage to the 100-byte database header (page 1, offsets 0-99)."""

from __future__ import annotations

import random
import struct

from harness.corruption.catalogue import (
    BENIGN, CORRUPT, NOT_A_DATABASE, DamageSetup, Done, Unsupported, kind, read_at, require_checkpointed,
    write_at,
)
from harness.sqlite.fileformat import MAGIC, Header, parse_header

_POWERS = tuple(1 << n for n in range(9, 17))  # 512 .. 65536


def _header(setup: DamageSetup) -> Header:
    require_checkpointed(setup)
    return parse_header(read_at(setup.db, 0, 100))


def _u32(value: int) -> bytes:
    return struct.pack(">I", value & 0xFFFFFFFF)


@kind("header-magic", symptom=NOT_A_DATABASE, reports=("SQLITE_NOTADB",),
      description="the magic string 'SQLite format 3\\0' (bytes 0-15) overwritten")
def header_magic(setup: DamageSetup, rng: random.Random) -> Done:
    _header(setup)
    count = rng.randrange(1, 17)
    positions = sorted(rng.sample(range(16), count))
    new = bytearray(MAGIC)
    for i in positions:
        new[i] = rng.choice([b for b in range(256) if b != MAGIC[i]])
    write_at(setup.db, 0, bytes(new))
    return Done(f"bytes {positions} of the magic string replaced: {bytes(new)!r}", changed=(setup.db,))


@kind("header-page-size-invalid", symptom=NOT_A_DATABASE, reports=("SQLITE_NOTADB",),
      description="page-size field (offset 16) set to a value that is no page size")
def header_page_size_invalid(setup: DamageSetup, rng: random.Random) -> Done:
    _header(setup)
    value = rng.choice([0, 2, 3, 0xFF, 0x100, 0x1FF] + [rng.randrange(513, 65535) | 1 for _ in range(4)])
    write_at(setup.db, 16, struct.pack(">H", value))
    return Done(f"offset 16-17 = 0x{value:04x} ({value}): not a power of two in 512..65536", changed=(setup.db,))


@kind("header-page-size-wrong", symptom=CORRUPT, reports=("SQLITE_CORRUPT",),
      description="page-size field set to a valid page size that is not the file's")
def header_page_size_wrong(setup: DamageSetup, rng: random.Random) -> Done:
    header = _header(setup)
    value = rng.choice([p for p in _POWERS if p != header.page_size])
    write_at(setup.db, 16, struct.pack(">H", 1 if value == 65536 else value))
    return Done(f"offset 16-17: page size {header.page_size} -> {value}", changed=(setup.db,))


@kind("header-version-bytes", symptom=NOT_A_DATABASE, reports=("SQLITE_NOTADB",),
      description="read version (offset 19) above 2, or a payload fraction (offsets 21-23) changed")
def header_version_bytes(setup: DamageSetup, rng: random.Random) -> Done:
    _header(setup)
    # measured: offset 18 (write version) > 2 only makes the file read-only: not this kind
    offset, normal = rng.choice([(19, None), (21, 64), (22, 32), (23, 32)])
    if normal is None:
        value = rng.randrange(3, 256)
    else:
        value = rng.choice([b for b in range(256) if b != normal])
    old = write_at(setup.db, offset, bytes([value]))[0]
    return Done(f"offset {offset}: {old} -> {value}", changed=(setup.db,))


@kind("header-schema-format", symptom=CORRUPT, reports=("SQLITE_ERROR",),
      description="schema format number (offset 44) above 4: SQLITE_ERROR 'unsupported file format', "
                  "not SQLITE_CORRUPT (an engine that only quarantines on CORRUPT/NOTADB refuses to start)")
def header_schema_format(setup: DamageSetup, rng: random.Random) -> Done:
    header = _header(setup)
    value = rng.randrange(5, 256)
    write_at(setup.db, 44, _u32(value))
    return Done(f"offset 44: schema format {header.schema_format} -> {value}", changed=(setup.db,))


@kind("header-encoding", symptom=CORRUPT, reports=("SQLITE_CORRUPT",),
      description="text encoding (offset 56) switched between UTF-8 and UTF-16: 'malformed database schema'")
def header_encoding(setup: DamageSetup, rng: random.Random) -> Done:
    header = _header(setup)
    value = rng.choice([e for e in (1, 2, 3) if e != header.text_encoding])
    write_at(setup.db, 56, _u32(value))
    return Done(f"offset 56: text encoding {header.text_encoding} -> {value}", changed=(setup.db,))


@kind("header-reserved-bytes", symptom=CORRUPT, reports=("rows",),
      description="reserved bytes per page (offset 20) raised: scans work, cells 'extend off the page'")
def header_reserved_bytes(setup: DamageSetup, rng: random.Random) -> Done:
    header = _header(setup)
    room = header.page_size - 480 - header.reserved_bytes  # usable size must stay >= 480
    if room < 1:
        raise Unsupported("page size too small to reserve more bytes")
    value = header.reserved_bytes + rng.randrange(1, min(room, 64) + 1)
    write_at(setup.db, 20, bytes([value]))
    return Done(f"offset 20: reserved bytes {header.reserved_bytes} -> {value}", changed=(setup.db,))


def _in_header_size(setup: DamageSetup, new_count: int, what: str) -> Done:
    header = parse_header(read_at(setup.db, 0, 100))
    summary = f"offset 28: in-header page count {header.page_count} -> {new_count} ({what})"
    write_at(setup.db, 28, _u32(new_count))
    if header.version_valid_for != header.change_counter:
        # SQLite trusts offset 28 only when offset 92 equals the change counter (offset 24)
        write_at(setup.db, 92, _u32(header.change_counter))
        summary += f"; offset 92 set to the change counter {header.change_counter} so SQLite trusts it"
    return Done(summary, changed=(setup.db,))


def _file_pages(setup: DamageSetup, page_size: int) -> int:
    return -(-setup.db.stat().st_size // page_size)


@kind("header-size-too-large", symptom=CORRUPT, reports=("SQLITE_CORRUPT",),
      description="in-header database size (offset 28) larger than the file, trusted (offset 92 = 24)")
def header_size_too_large(setup: DamageSetup, rng: random.Random) -> Done:
    header = _header(setup)
    pages = _file_pages(setup, header.page_size)
    return _in_header_size(setup, pages + rng.randrange(1, 100), f"the file has {pages} pages")


@kind("header-size-too-small", symptom=CORRUPT, reports=("rows", "SQLITE_CORRUPT"),
      description="in-header database size (offset 28) smaller than the file: reads work, quick_check "
                  "reports pages past the end")
def header_size_too_small(setup: DamageSetup, rng: random.Random) -> Done:
    header = _header(setup)
    pages = _file_pages(setup, header.page_size)
    if pages < 3:
        raise Unsupported(f"{setup.db.name} has {pages} pages: too few to shrink")
    return _in_header_size(setup, pages - rng.randrange(1, min(5, pages - 2) + 1), f"the file has {pages} pages")


@kind("change-counter-altered", symptom=BENIGN, reports=("ok",),
      description="file change counter (offset 24) or schema cookie (offset 40) altered: SQLite copes")
def change_counter_altered(setup: DamageSetup, rng: random.Random) -> Done:
    header = _header(setup)
    offset, name, old = rng.choice([(24, "change counter", header.change_counter),
                                    (40, "schema cookie", header.schema_cookie)])
    new = (old + rng.randrange(1, 1 << 16)) & 0xFFFFFFFF
    write_at(setup.db, offset, _u32(new))
    return Done(f"offset {offset}: {name} {old} -> {new}", changed=(setup.db,))
