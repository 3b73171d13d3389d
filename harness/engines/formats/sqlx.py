"""sqlx (Rust): ``<int>_<description>.sql``, or ``.up.sql`` / ``.down.sql`` pairs.

Source: launchbadge/sqlx, ``sqlx-core/src/migrate/source.rs`` (the name is split at the first
``_``; the version parses as ``i64``; the description drops the suffix and turns ``_`` into
spaces; a text starting with ``-- no-transaction`` opts out of the transaction; the checksum is
SHA-384 of the text as ``read_to_string`` gives it, i.e. of the file's bytes),
``sqlx-sqlite/src/migrate.rs`` (table DDL; the body and its row commit in one transaction,
then ``execution_time`` is updated on its own; a ``success = false`` row makes sqlx refuse
with ``Dirty``) and ``migrator.rs`` (an applied version without a file, or with another
checksum, is an error).
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from pathlib import Path

from harness.engines.formats.base import Format, MigrationFile, Recognised, decode, strip_bom
from harness.engines.formats.history import History, Layout
from harness.engines.formats.markers import SQLX_NO_TX, dbmate_up, goose_up

PATTERN = re.compile(r"^(?P<version>\d+)_(?P<rest>.*\.sql)$")
_SUFFIXES = ((".up.sql", "up"), (".down.sql", "down"), (".sql", "up"))


class SqlxHistory(History):
    # checksum is a BLOB: read as lower-case hex, as MigrationFile.checksum holds it
    layout = Layout("_sqlx_migrations", "version", name="description", checksum="checksum",
                    applied_at="installed_on", success="success")
    create = ("""
CREATE TABLE IF NOT EXISTS _sqlx_migrations (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    success BOOLEAN NOT NULL,
    checksum BLOB NOT NULL,
    execution_time BIGINT NOT NULL
);
                """,)

    def record(self, conn: sqlite3.Connection, migration: MigrationFile, seconds: float) -> None:
        conn.execute("""
    INSERT INTO _sqlx_migrations ( version, description, success, checksum, execution_time )
    VALUES ( ?1, ?2, TRUE, ?3, -1 )
        """, (migration.version, migration.name, bytes.fromhex(migration.checksum)))

    def after(self, conn: sqlite3.Connection, migration: MigrationFile, seconds: float) -> None:
        conn.execute("""
    UPDATE _sqlx_migrations
    SET execution_time = ?1
    WHERE version = ?2
                """, (int(seconds * 1e9), migration.version))


class Sqlx(Format):
    name = "sqlx"
    pattern_text = "<int>_<description>.sql or <int>_<description>.up.sql"
    history = SqlxHistory()

    def recognise(self, filename: str) -> Recognised | None:
        match = PATTERN.match(filename)
        if not match:
            return None
        rest = match["rest"]
        suffix, direction = next((s, d) for s, d in _SUFFIXES if rest.endswith(s))
        description = rest[: -len(suffix)].replace("_", " ")
        version = int(match["version"])
        return Recognised((version,), str(version), description, "up" if direction == "up" else "down")

    def claims(self, filename: str, text: str) -> bool:
        return self.recognise(filename) is not None and not (goose_up(text) or dbmate_up(text))

    def load(self, path: Path, raw: bytes, found: Recognised, version: int) -> MigrationFile:
        text = decode(path, raw, keep_bom=True)
        return MigrationFile(version, found.name, path, hashlib.sha384(raw).hexdigest(), strip_bom(text),
                             transaction=not text.startswith(SQLX_NO_TX))


FORMAT = Sqlx()
