"""plain: ``<integer>_<name>.sql`` (``0001_init.sql``), the harness's own convention.

The history table is the reference engine's ``schema_migrations(version, name, checksum,
applied_at)``; the checksum is the sha256 hex of the file's bytes, so any edit, even of
whitespace, shows. Each file runs in a transaction together with its history row, unless it
manages its own transactions (``BEGIN``/``COMMIT``) or runs a statement that does nothing or
fails inside one (``PRAGMA foreign_keys``, ``VACUUM`` ...): the harness's own runner then runs
it statement by statement as written, and inserts its history row after it. A file whose
first line is ``-- reference: foreign_keys=off`` (the reference engine's convention) runs in
its transaction with foreign keys switched off around it.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from pathlib import Path

from harness.engines.formats import markers
from harness.engines.formats.base import Format, MigrationFile, Recognised, cannot_be_wrapped, decode, utc_now
from harness.engines.formats.history import History, Layout
from harness.engines.statements import split

PATTERN = re.compile(r"^(?P<version>\d+)_(?P<name>.+)\.sql$")
_UP_DOWN = re.compile(r"\.(up|down)\.sql$")


class PlainHistory(History):
    # Written order: by applied_at (the reference engine may baseline rows), then as inserted.
    layout = Layout("schema_migrations", "version", name="name", checksum="checksum", applied_at="applied_at",
                    order="applied_at, rowid")
    create = ("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
              "name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)",)

    def ensure(self, conn: sqlite3.Connection) -> None:
        """Created when the first file is recorded, after its body (a file may create it itself)."""

    def record(self, conn: sqlite3.Connection, migration: MigrationFile, seconds: float) -> None:
        conn.execute(self.create[0])
        conn.execute("INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)",
                     (migration.version, migration.name, migration.checksum, utc_now()))


class Plain(Format):
    name = "plain"
    pattern_text = "<integer>_<name>.sql"
    history = PlainHistory()
    own_runner = True

    def recognise(self, filename: str) -> Recognised | None:
        match = PATTERN.match(filename)
        if not match:
            return None
        return Recognised((int(match["version"]),), match["version"], match["name"])

    def claims(self, filename: str, text: str) -> bool:
        return (self.recognise(filename) is not None and not _UP_DOWN.search(filename)
                and not markers.any_framework_marker(text))

    def load(self, path: Path, raw: bytes, found: Recognised, version: int) -> MigrationFile:
        text = decode(path, raw)
        return MigrationFile(version, found.name, path, hashlib.sha256(raw).hexdigest(), text,
                             transaction=not cannot_be_wrapped(split(text)),
                             foreign_keys_off=markers.foreign_keys_off_first(text))


FORMAT = Plain()
