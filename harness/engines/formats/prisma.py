"""Prisma Migrate: one folder per migration, ``<timestamp>_<name>/migration.sql``.

Source: prisma/prisma-engines, ``schema-engine/core/src/commands/create_migration.rs``
(folders named ``<UTC %Y%m%d%H%M%S>_<name>``), ``schema-engine/connectors/sql-schema-
connector/src/flavour/sqlite.rs`` (the ``_prisma_migrations`` DDL), ``.../sql_migration_
persistence.rs`` and ``schema-engine/core/src/commands/apply_migrations.rs`` (per migration: a
row inserted before the script with its checksum and ``started_at``; the script run with
``execute_batch`` and no transaction; on success ``finished_at`` and ``applied_steps_count =
1``; on failure ``logs`` = the error and ``finished_at`` left NULL, which ``migrate deploy``
then refuses as P3009), ``schema-connector/src/checksum.rs`` (SHA-256 of the script, lower-case
hex) and ``quaint/src/connector/sqlite/native/conversion.rs`` (times as integer Unix
milliseconds). A row with ``rolled_back_at`` set is not an applied migration. The table is
created on its own before the first migration. ``migration_lock.toml`` is not a migration.

Prisma sorts the folders by name; the harness orders them by their timestamp (the same
order for the 14-digit names Prisma writes). ``Migration.version`` is that timestamp; the
folder name is what the history table records (``migration_name``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import sqlite3
import time
import uuid
from pathlib import Path

from harness.engines.formats.base import Format, MigrationFile, Recognised, decode, folder_entries, strip_bom
from harness.engines.formats.history import History, HistoryRow, Layout

FOLDER = re.compile(r"^(?P<version>\d+)_(?P<name>.+)$")
SCRIPT = "migration.sql"


def _now_ms() -> int:
    return int(time.time() * 1000)


class PrismaHistory(History):
    # finished_at is NULL while a migration runs and after it failed: read as its success column
    layout = Layout("_prisma_migrations", "migration_name", checksum="checksum", applied_at="started_at",
                    success="finished_at", kind="text", order="started_at, rowid", where="rolled_back_at IS NULL")
    create = ('CREATE TABLE "_prisma_migrations" (\n'
              '    "id"                    TEXT PRIMARY KEY NOT NULL,\n'
              '    "checksum"              TEXT NOT NULL,\n'
              '    "finished_at"           DATETIME,\n'
              '    "migration_name"        TEXT NOT NULL,\n'
              '    "logs"                  TEXT,\n'
              '    "rolled_back_at"        DATETIME,\n'
              '    "started_at"            DATETIME NOT NULL DEFAULT current_timestamp,\n'
              '    "applied_steps_count"   INTEGER UNSIGNED NOT NULL DEFAULT 0\n'
              ')',)
    created_first = True

    def interpret(self, rows: tuple[HistoryRow, ...]) -> tuple[HistoryRow, ...]:
        """The folder name is the key; its timestamp, the version."""
        return tuple(dataclasses.replace(r, name=m["name"], version=int(m["version"]))
                     if (m := FOLDER.match(r.key)) else r for r in rows)

    def before(self, conn: sqlite3.Connection, migration: MigrationFile) -> None:
        key = migration.history_key
        checksum = migration.checksum
        # Prisma writes a random v4 uuid; this one is derived from the migration, so runs repeat.
        row_id = str(uuid.UUID(bytes=hashlib.sha256(f"{key}\0{checksum}".encode()).digest()[:16], version=4))
        conn.execute('INSERT INTO "_prisma_migrations" ("id", "checksum", "started_at", "migration_name") '
                     'VALUES (?, ?, ?, ?)', (row_id, checksum, _now_ms(), key))

    def record(self, conn: sqlite3.Connection, migration: MigrationFile, seconds: float) -> None:
        conn.execute('UPDATE "_prisma_migrations" SET "finished_at" = ?, '
                     '"applied_steps_count" = "applied_steps_count" + 1 '
                     'WHERE "migration_name" = ? AND "finished_at" IS NULL AND "rolled_back_at" IS NULL',
                     (_now_ms(), migration.history_key))

    def failed(self, conn: sqlite3.Connection, migration: MigrationFile, seconds: float, error: str = "") -> None:
        conn.execute('UPDATE "_prisma_migrations" SET "logs" = ? '
                     'WHERE "migration_name" = ? AND "finished_at" IS NULL AND "rolled_back_at" IS NULL',
                     (error, migration.history_key))


class Prisma(Format):
    name = "prisma"
    pattern_text = "<timestamp>_<name>/migration.sql"
    history = PrismaHistory()

    def owns(self, directory: Path) -> bool:
        return (directory / "migration_lock.toml").is_file() or any(
            (d / SCRIPT).is_file() for d in directory.iterdir() if d.is_dir())

    def entries(self, directory: Path) -> list[tuple[str, Path]]:
        return folder_entries(directory, SCRIPT)

    def recognise(self, filename: str) -> Recognised | None:
        match = FOLDER.match(filename)
        if not match or "." in filename:
            return None
        return Recognised((int(match["version"]),), filename, match["name"])

    def claims(self, filename: str, text: str) -> bool:
        return False  # recognised by its folders (``owns``), never by a file name

    def normalize_key(self, key: str) -> str:
        return key  # migration_name, compared as written

    def load(self, path: Path, raw: bytes, found: Recognised, version: int) -> MigrationFile:
        text = decode(path, raw, keep_bom=True)
        return MigrationFile(version, found.name, path, hashlib.sha256(raw).hexdigest(), strip_bom(text),
                             key=found.key, transaction=False, folder=True)


FORMAT = Prisma()
