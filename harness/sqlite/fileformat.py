"""The SQLite file header (the first 100 bytes), read without SQLite.

Reading the header directly tells the harness facts SQLite would hide or change by opening
the file: the change counter (did anything write?), WAL mode (read/write versions 2), the
in-header page count. See https://www.sqlite.org/fileformat.html#the_database_header.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

MAGIC = b"SQLite format 3\x00"
HEADER_SIZE = 100
SIDECARS = ("-wal", "-shm", "-journal")


@dataclass(frozen=True)
class Header:
    page_size: int
    write_version: int  # 1 legacy (rollback journal), 2 WAL
    read_version: int
    reserved_bytes: int
    change_counter: int  # offset 24
    page_count: int  # offset 28, valid only when version_valid_for == change_counter
    freelist_trunk: int
    freelist_count: int
    schema_cookie: int
    schema_format: int
    text_encoding: int  # 1 UTF-8, 2 UTF-16le, 3 UTF-16be
    user_version: int
    application_id: int
    version_valid_for: int
    sqlite_version_number: int

    @property
    def wal_mode(self) -> bool:
        return self.write_version == 2 and self.read_version == 2


class NotADatabase(ValueError):
    """The bytes do not start with a valid SQLite header."""


def parse_header(data: bytes) -> Header:
    if len(data) < HEADER_SIZE:
        raise NotADatabase(f"file has {len(data)} bytes, a header needs {HEADER_SIZE}")
    if data[:16] != MAGIC:
        raise NotADatabase("magic string 'SQLite format 3' missing")
    (raw_page_size,) = struct.unpack(">H", data[16:18])
    page_size = 65536 if raw_page_size == 1 else raw_page_size

    def u32(off: int) -> int:
        value: int = struct.unpack(">I", data[off:off + 4])[0]
        return value

    return Header(
        page_size=page_size,
        write_version=data[18],
        read_version=data[19],
        reserved_bytes=data[20],
        change_counter=u32(24),
        page_count=u32(28),
        freelist_trunk=u32(32),
        freelist_count=u32(36),
        schema_cookie=u32(40),
        schema_format=u32(44),
        text_encoding=u32(56),
        user_version=u32(60),
        application_id=u32(68),
        version_valid_for=u32(92),
        sqlite_version_number=u32(96),
    )


def read_header(path: Path) -> Header:
    with path.open("rb") as handle:
        return parse_header(handle.read(HEADER_SIZE))


def sidecars(db: Path) -> tuple[Path, ...]:
    """The ``-wal``, ``-shm`` and ``-journal`` files that exist beside ``db``."""
    return tuple(p for p in (db.with_name(db.name + s) for s in SIDECARS) if p.exists())
