"""golang-migrate: ``<int>_<title>.up.sql`` / ``<int>_<title>.down.sql``.

Source: golang-migrate/migrate, ``source/parse.go`` (``^([0-9]+)_(.*)\\.(down|up)\\.(.*)$``,
version a uint64), ``database/sqlite3/sqlite3.go`` (table and unique index; ``SetVersion``
deletes every row and inserts the one ``(version, dirty)`` row in a transaction; ``Run``
wraps the whole file in a transaction unless the URL says ``x-no-tx-wrap=true``; no
in-file marker) and ``migrate.go`` (per migration: ``SetVersion(v, dirty=true)``, the body,
``SetVersion(v, dirty=false)``; a dirty version makes it refuse with ``ErrDirty``).

There is no checksum and no per-migration history: the single row says every file up to
its version is applied. An unknown version is one with no file; a gap cannot be seen.

Wrapping is the driver's setting, not the file's: the sqlite drivers' documentation says
migrations "must not contain explicit BEGIN or COMMIT statements" unless ``x-no-tx-wrap``
is set. So each file runs in a transaction, as by default, unless some file of the directory
manages its own (``BEGIN`` ... ``COMMIT``): the project then runs with ``x-no-tx-wrap=true``
(it could not migrate otherwise) and every file runs as written, without a wrapping
transaction (a discovery note says so).
"""

from __future__ import annotations

import dataclasses
import re
import sqlite3
from pathlib import Path
from typing import Sequence

from harness.engines.formats.base import (
    CODE_DIRTY, CODE_UNKNOWN, Discovery, Format, MigrationFile, Problem, Recognised, controls_transactions, decode,
)
from harness.engines.formats.history import History, HistoryRow, Layout
from harness.engines.formats.markers import any_framework_marker

PATTERN = re.compile(r"^(?P<version>[0-9]+)_(?P<title>.*)\.(?P<direction>up|down)\.sql$")


class GolangMigrateHistory(History):
    layout = Layout("schema_migrations", "version", dirty="dirty", cumulative=True, exact=True)
    create = ("CREATE TABLE IF NOT EXISTS schema_migrations (version uint64,dirty bool)",
              "CREATE UNIQUE INDEX IF NOT EXISTS version_unique ON schema_migrations (version)")
    separate_record = True

    def interpret(self, rows: tuple[HistoryRow, ...]) -> tuple[HistoryRow, ...]:
        return rows[:1]  # SetVersion keeps one row

    def before(self, conn: sqlite3.Connection, migration: MigrationFile) -> None:
        conn.execute("BEGIN")
        self.ensure(conn)
        self._set_version(conn, migration.version, dirty=True)
        conn.execute("COMMIT")

    def record(self, conn: sqlite3.Connection, migration: MigrationFile, seconds: float) -> None:
        conn.execute("BEGIN")
        self._set_version(conn, migration.version, dirty=False)
        conn.execute("COMMIT")

    @staticmethod
    def _set_version(conn: sqlite3.Connection, version: int, *, dirty: bool) -> None:
        conn.execute("DELETE FROM schema_migrations")
        conn.execute("INSERT INTO schema_migrations (version, dirty) VALUES (?, ?)", (version, dirty))


class GolangMigrate(Format):
    name = "golang-migrate"
    pattern_text = "<int>_<title>.up.sql"
    has_checksums = False
    history = GolangMigrateHistory()

    def recognise(self, filename: str) -> Recognised | None:
        match = PATTERN.match(filename)
        if not match:
            return None
        version = int(match["version"])
        return Recognised((version,), str(version), match["title"], match["direction"])

    def claims(self, filename: str, text: str) -> bool:
        return self.recognise(filename) is not None and not any_framework_marker(text)

    def load(self, path: Path, raw: bytes, found: Recognised, version: int) -> MigrationFile:
        return MigrationFile(version, found.name, path, "", decode(path, raw))

    def discover(self, directory: Path) -> Discovery:
        discovery = super().discover(directory)
        own = [f.path.name for f in discovery.files if controls_transactions(f.statements())]
        if not own:
            return discovery
        files = tuple(dataclasses.replace(f, transaction=False) for f in discovery.files)
        shown = ", ".join(own[:3]) + (f" and {len(own) - 3} more" if len(own) > 3 else "")
        note = (f"{shown}: BEGIN/COMMIT of their own, which golang-migrate allows only with x-no-tx-wrap=true; "
                f"every file runs as written, without a wrapping transaction")
        return dataclasses.replace(discovery, files=files, notes=(*discovery.notes, note))

    def applied(self, rows: Sequence[HistoryRow],
                files: Sequence[MigrationFile]) -> tuple[tuple[MigrationFile, ...], Problem | None]:
        if not rows:
            return (), None
        (row,) = rows
        if not row.success:
            return (), (CODE_DIRTY, f"schema_migrations says version {row.key} is dirty: a migration failed "
                                    "or was interrupted part-way; golang-migrate refuses until it is forced")
        versions = [f.history_key for f in files]
        if self.normalize_key(row.key) not in versions:
            return (), (CODE_UNKNOWN, f"version {row.key} is applied but there is no file for it")
        return tuple(files[: versions.index(self.normalize_key(row.key)) + 1]), None


FORMAT = GolangMigrate()
