"""refinery (Rust): ``V<int>__<name>.sql``; ``U<int>__<name>.sql`` unversioned ones are not run.

Source: rust-db/refinery, ``refinery_core/src/util.rs`` (file regex
``^([U|V])(\\d+(?:\\.\\d+)?)__(\\w+)\\.sql$``, version parsed as ``i32``, or ``i64`` with the
``int8-versions`` feature), ``runner.rs`` (checksum), ``traits/mod.rs`` (table, insert,
verification) and ``traits/sync.rs`` (each migration and its history insert run as two
separate transactions unless ``set_grouped(true)``).

Checksum: ``SipHasher13::new()`` (SipHash-1-3, both keys zero) fed through Rust's ``Hash``:
``name.hash`` writes the UTF-8 bytes then ``0xFF``; ``version.hash`` writes the ``i32`` as 4
little-endian bytes; ``sql.hash`` writes the file's text (as ``read_to_string`` gives it,
byte-order mark included) then ``0xFF``. ``finish()`` is the u64, stored in decimal.
Checked against real refinery rows (EveBox's ``V1__Initial`` .. ``V3__RemoveFTS``).
"""

from __future__ import annotations

import re
import sqlite3
import struct
from datetime import datetime, timezone
from pathlib import Path

from harness.engines.formats.base import Format, MigrationFile, Recognised, decode, strip_bom
from harness.engines.formats.history import History, Layout
from harness.errors import InputError

# refinery's own regex, including its quirk: "[U|V]" also admits a literal "|".
PATTERN = re.compile(r"^(?P<prefix>[U|V])(?P<version>\d+(?:\.\d+)?)__(?P<name>\w+)\.sql$")
I32_MAX = 2**31 - 1
_MASK = 2**64 - 1


def siphash13(data: bytes, k0: int = 0, k1: int = 0) -> int:
    """SipHash-1-3 (one compression round, three finalisation rounds), 64-bit result."""
    v0, v1 = k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D
    v2, v3 = k0 ^ 0x6C7967656E657261, k1 ^ 0x7465646279746573

    def rotl(x: int, b: int) -> int:
        return ((x << b) | (x >> (64 - b))) & _MASK

    def sipround() -> None:
        nonlocal v0, v1, v2, v3
        v0 = (v0 + v1) & _MASK; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32)  # noqa: E702
        v2 = (v2 + v3) & _MASK; v3 = rotl(v3, 16); v3 ^= v2  # noqa: E702
        v0 = (v0 + v3) & _MASK; v3 = rotl(v3, 21); v3 ^= v0  # noqa: E702
        v2 = (v2 + v1) & _MASK; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32)  # noqa: E702

    whole = len(data) - len(data) % 8
    for offset in range(0, whole, 8):
        (m,) = struct.unpack_from("<Q", data, offset)
        v3 ^= m
        sipround()
        v0 ^= m
    last = (len(data) & 0xFF) << 56
    for i, byte in enumerate(data[whole:]):
        last |= byte << (8 * i)
    v3 ^= last
    sipround()
    v0 ^= last
    v2 ^= 0xFF
    for _ in range(3):
        sipround()
    return (v0 ^ v1 ^ v2 ^ v3) & _MASK


def checksum(name: str, version: int, sql: str) -> int:
    """refinery's ``Migration::checksum`` for (name, version, sql)."""
    width = "<i" if version <= I32_MAX else "<q"  # beyond i32 only int8-versions can parse it
    stream = name.encode() + b"\xff" + struct.pack(width, version) + sql.encode() + b"\xff"
    return siphash13(stream)


class RefineryHistory(History):
    layout = Layout("refinery_schema_history", "version", name="name", checksum="checksum", applied_at="applied_on")
    # ASSERT_MIGRATIONS_TABLE_QUERY with %VERSION_TYPE% = int4 (the default build).
    create = ("CREATE TABLE IF NOT EXISTS refinery_schema_history(\n"
              "             version int4 PRIMARY KEY,\n"
              "             name VARCHAR(255),\n"
              "             applied_on VARCHAR(255),\n"
              "             checksum VARCHAR(255));",)
    separate_record = True

    def record(self, conn: sqlite3.Connection, migration: MigrationFile, seconds: float) -> None:
        # time's Rfc3339 of OffsetDateTime::now_utc(): fractional seconds, "Z".
        applied_on = datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")
        conn.execute("INSERT INTO refinery_schema_history (version, name, applied_on, checksum) "
                     "VALUES (?, ?, ?, ?)", (migration.version, migration.name, applied_on, migration.checksum))


class Refinery(Format):
    name = "refinery"
    pattern_text = "V<int>__<name>.sql"
    history = RefineryHistory()

    def recognise(self, filename: str) -> Recognised | None:
        match = PATTERN.match(filename)
        if not match:
            return None
        raw_version = match["version"]
        if match["prefix"] != "V":
            return Recognised((0,), raw_version, match["name"], "skip",
                              "refinery unversioned (U) migration: the harness does not run those")
        if "." in raw_version:
            return Recognised((0,), raw_version, match["name"], "skip",
                              f"refinery cannot parse version '{raw_version}' as an integer (InvalidVersion)")
        return Recognised((int(raw_version),), str(int(raw_version)), match["name"])

    def claims(self, filename: str, text: str) -> bool:
        match = PATTERN.match(filename)
        return bool(match) and "." not in match["version"] and match["prefix"] in "UV"

    def load(self, path: Path, raw: bytes, found: Recognised, version: int) -> MigrationFile:
        if version > 2**63 - 1:
            raise InputError(path, f"version {version} does not fit refinery's i64")
        text = decode(path, raw, keep_bom=True)  # read_to_string keeps a byte-order mark
        return MigrationFile(version, found.name, path, str(checksum(found.name, version, text)),
                             strip_bom(text), key=str(version))


FORMAT = Refinery()
