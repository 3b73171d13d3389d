"""Diesel (Rust): one folder per migration, ``<version>_<name>/up.sql`` (``down.sql`` not run).

Source: diesel-rs/diesel, ``diesel_migrations/migrations_internals/src/lib.rs`` (the version
is the folder name's text before the first ``_``, with ``-`` removed, so the CLI's
``2024-01-01-120000_create_users`` is version ``20240101120000``; ``metadata.toml`` is read
into ``TomlMetadata``, whose ``run_in_transaction`` is true without the file but, through
serde's field default, false in a file that lacks the key), ``diesel_migrations/src/
migration_harness.rs`` (pending migrations sorted by version as text; each one's
``batch_execute`` and its version insert in one transaction unless ``run_in_transaction`` is
false; applied versions are a set: no order, no checksum, no failure row) and
``diesel/src/migration/setup_migration_table.sql`` (the table, created if absent before any
migration runs).

``Migration.version`` (an integer for the harness): the version when every version is
digits and their numeric order is Diesel's text order; otherwise each file's 1-based rank in
that order. The version text itself is the history key.
"""

from __future__ import annotations

import re
import sqlite3
import tomllib
from pathlib import Path
from typing import Sequence

from harness.engines.formats.base import Format, MigrationFile, Recognised, decode, folder_entries, versions_or_ranks
from harness.engines.formats.history import History, HistoryRow, Layout, numeric_versions
from harness.errors import InputError

FOLDER = re.compile(r"^(?P<version>[^_]+)(?:_(?P<name>.*))?$")
UP = "up.sql"


class DieselHistory(History):
    layout = Layout("__diesel_schema_migrations", "version", applied_at="run_on", kind="text")
    create = ("CREATE TABLE IF NOT EXISTS __diesel_schema_migrations (\n"
              "       version VARCHAR(50) PRIMARY KEY NOT NULL,\n"
              "       run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP\n"
              ");",)
    created_first = True

    def interpret(self, rows: tuple[HistoryRow, ...]) -> tuple[HistoryRow, ...]:
        return numeric_versions(rows)

    def record(self, conn: sqlite3.Connection, migration: MigrationFile, seconds: float) -> None:
        conn.execute("INSERT INTO __diesel_schema_migrations (version) VALUES (?)",
                     (migration.history_key,))


class Diesel(Format):
    name = "diesel"
    pattern_text = "<version>_<name>/up.sql"
    has_checksums = False
    history = DieselHistory()

    def owns(self, directory: Path) -> bool:
        return any((d / UP).is_file() for d in directory.iterdir() if d.is_dir())

    def entries(self, directory: Path) -> list[tuple[str, Path]]:
        return folder_entries(directory, UP)

    def recognise(self, filename: str) -> Recognised | None:
        match = FOLDER.match(filename)
        if not match or "." in filename:
            return None
        version = match["version"].replace("-", "")
        if not version:
            return None
        return Recognised(tuple(ord(c) for c in version), version, match["name"] or version)

    def claims(self, filename: str, text: str) -> bool:
        return False  # recognised by its folders (``owns``), never by a file name

    def versions(self, found: Sequence[Recognised]) -> list[int]:
        return versions_or_ranks([f.key for f in found])

    def normalize_key(self, key: str) -> str:
        return key  # Diesel compares version strings

    def load(self, path: Path, raw: bytes, found: Recognised, version: int) -> MigrationFile:
        return MigrationFile(version, found.name, path, "", decode(path, raw), key=found.key,
                             transaction=_run_in_transaction(path.parent), folder=True)


def _run_in_transaction(folder: Path) -> bool:
    metadata = folder / "metadata.toml"
    if not metadata.is_file():
        return True
    try:
        value = tomllib.loads(metadata.read_text(encoding="utf-8")).get("run_in_transaction", False)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(metadata, f"Diesel cannot read it: {exc}") from None
    if not isinstance(value, bool):
        raise InputError(metadata, f"run_in_transaction must be true or false, got {value!r:.40}",
                         key="run_in_transaction")
    return value


FORMAT = Diesel()
