"""Atlas (versioned migrations): ``<version>_<description>.sql`` beside an ``atlas.sum`` file.

Source: ariga/atlas, ``sql/migrate/dir.go`` (files ``*.sql`` sorted by name, the version is
the text before the first ``_``; ``atlas.sum``: a first line ``h1:<sum>``, then one line
``<file> h1:<hash>`` per file, where a file's hash is the base64 SHA-256 of every file so far,
name then bytes, so editing or inserting an earlier file changes every later line, and the
sum is the SHA-256 of all names and hashes; a directory whose files do not match it is
refused, "checksum mismatch"), ``cmd/atlas/internal/cmdapi/migrate.go`` (``--tx-mode file``,
the default: each file in its own transaction, its revision row with it; ``-- atlas:txmode
none`` in a file's header runs it without one), ``sql/migrate/migrate.go`` (the revision row:
written before the first statement, ``applied`` counted per statement, ``error`` and
``error_stmt`` on failure; a revision whose hash differs from the file's is "history
changed"), ``sql/sqlite/driver.go`` (a transaction on a connection with foreign keys on
switches them off before ``BEGIN`` and checks ``PRAGMA foreign_key_check`` before ``COMMIT``,
rolling back on a violation) and ``cmd/atlas/internal/migrate/ent/migrate/schema.go`` (the
``atlas_schema_revisions`` columns; the SQLite DDL here follows them, in ent's style).

The history key is the version text; ``Migration.version`` is that version as an integer
(Atlas names new files with a UTC ``YYYYMMDDHHMMSS`` version), or each file's 1-based rank in
name order when some version is not digits or the numeric order is not the name order.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import re
import sqlite3
import time
from pathlib import Path
from typing import Sequence

from harness.engines.formats.base import Discovery, Format, MigrationFile, Recognised, decode, versions_or_ranks
from harness.engines.formats.history import History, HistoryRow, Layout, numeric_versions
from harness.errors import InputError

PATTERN = re.compile(r"^(?P<version>[^_]+)(?:_(?P<desc>.*))?\.sql$")
SUM_FILE = "atlas.sum"
TXMODE_NONE = re.compile(r"(?im)^--\s*atlas:txmode\s+none\s*$")
EXECUTE = 2  # RevisionTypeExecute
OPERATOR = "Atlas CLI (emulated by the harness)"


def hash_file(files: Sequence[tuple[str, bytes]]) -> list[tuple[str, str]]:
    """``(name, h1 hash)`` per file: the running SHA-256 over every name and content so far."""
    running = hashlib.sha256()
    hashes = []
    for name, content in files:
        running.update(name.encode())
        running.update(content)
        hashes.append((name, base64.b64encode(running.copy().digest()).decode()))
    return hashes


def sum_text(files: Sequence[tuple[str, bytes]]) -> str:
    """The ``atlas.sum`` Atlas writes for ``files`` (name order)."""
    hashes = hash_file(files)
    total = hashlib.sha256()
    for name, value in hashes:
        total.update(name.encode())
        total.update(value.encode())
    lines = [f"h1:{base64.b64encode(total.digest()).decode()}"] + [f"{n} h1:{h}" for n, h in hashes]
    return "\n".join(lines) + "\n"


class AtlasHistory(History):
    layout = Layout("atlas_schema_revisions", "version", name="description", checksum="hash",
                    applied_at="executed_at", kind="text", order="executed_at, rowid")
    create = ("CREATE TABLE IF NOT EXISTS `atlas_schema_revisions` (`version` text NOT NULL, `description` text "
              "NOT NULL, `type` integer NOT NULL DEFAULT 2, `applied` integer NOT NULL DEFAULT 0, `total` integer "
              "NOT NULL DEFAULT 0, `executed_at` datetime NOT NULL, `execution_time` integer NOT NULL, `error` "
              "text NULL, `error_stmt` text NULL, `hash` text NOT NULL, `partial_hashes` json NULL, "
              "`operator_version` text NOT NULL, PRIMARY KEY (`version`))",)
    created_first = True

    def interpret(self, rows: tuple[HistoryRow, ...]) -> tuple[HistoryRow, ...]:
        return numeric_versions(rows)

    def before(self, conn: sqlite3.Connection, migration: MigrationFile) -> None:
        """The revision row, before the first statement; in ``file`` mode rolled back with the file."""

    def record(self, conn: sqlite3.Connection, migration: MigrationFile, seconds: float) -> None:
        total = len(migration.statements())
        conn.execute("INSERT OR REPLACE INTO `atlas_schema_revisions` (`version`, `description`, `type`, `applied`, "
                     "`total`, `executed_at`, `execution_time`, `hash`, `operator_version`) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (migration.history_key, migration.name, EXECUTE, total, total,
                      time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()), int(seconds * 1e9),
                      migration.checksum, OPERATOR))

    def failed(self, conn: sqlite3.Connection, migration: MigrationFile, seconds: float, error: str = "") -> None:
        """``txmode none``: the row stays, with the error, so that the next run resumes."""
        conn.execute("INSERT OR REPLACE INTO `atlas_schema_revisions` (`version`, `description`, `type`, `applied`, "
                     "`total`, `executed_at`, `execution_time`, `error`, `hash`, `operator_version`) "
                     "VALUES (?, ?, ?, 0, ?, ?, ?, ?, ?, ?)",
                     (migration.history_key, migration.name, EXECUTE,
                      len(migration.statements()), time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
                      int(seconds * 1e9), error, migration.checksum, OPERATOR))

    def read(self, conn: sqlite3.Connection) -> tuple[HistoryRow, ...]:
        """A revision with an error, or fewer statements applied than it has, is not finished."""
        rows = super().read(conn)
        if not rows:
            return rows
        broken = {str(k) for (k,) in conn.execute(
            "SELECT `version` FROM `atlas_schema_revisions` WHERE `error` IS NOT NULL OR `applied` < `total`")}
        return tuple(dataclasses.replace(r, success=False) if r.key in broken else r for r in rows)


class Atlas(Format):
    name = "atlas"
    pattern_text = "<version>_<description>.sql with atlas.sum"
    history = AtlasHistory()

    def owns(self, directory: Path) -> bool:
        return (directory / SUM_FILE).is_file()

    def recognise(self, filename: str) -> Recognised | None:
        match = PATTERN.match(filename)
        if not match:
            return None
        version = match["version"]
        return Recognised(tuple(ord(c) for c in version), version, match["desc"] or "")

    def claims(self, filename: str, text: str) -> bool:
        return False  # recognised by its atlas.sum (``owns``)

    def versions(self, found: Sequence[Recognised]) -> list[int]:
        return versions_or_ranks([f.key for f in found])

    def normalize_key(self, key: str) -> str:
        return key

    def discover(self, directory: Path) -> Discovery:
        """Every file, in name order, checked against ``atlas.sum`` first, as Atlas does."""
        discovery = super().discover(directory)
        files = sorted((p.name, p.read_bytes()) for p in directory.iterdir()
                       if p.is_file() and p.name.endswith(".sql"))
        sum_path = directory / SUM_FILE
        if files and not sum_path.is_file():
            raise InputError(directory, "checksum file not found: Atlas refuses a directory without atlas.sum",
                             key="engine.directory")
        if sum_path.is_file():
            _validate(sum_path, files)
        hashes = dict(hash_file(files))
        return dataclasses.replace(discovery, files=tuple(
            dataclasses.replace(f, checksum=hashes[f.path.name]) for f in discovery.files))

    def load(self, path: Path, raw: bytes, found: Recognised, version: int) -> MigrationFile:
        text = decode(path, raw)
        header = text.split("\n\n", 1)[0]  # directives live in the file's leading comment block
        wrapped = not TXMODE_NONE.search(header)
        return MigrationFile(version, found.name, path, "", text, key=found.key, transaction=wrapped,
                             foreign_keys_off=wrapped, check_foreign_keys=wrapped)


def _validate(sum_path: Path, files: Sequence[tuple[str, bytes]]) -> None:
    """Atlas's ``Validate``: the sum file must be what the files hash to."""
    try:
        lines = sum_path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(sum_path, f"cannot be read ({exc})") from None
    expected = sum_text(files).splitlines()
    if lines == expected:
        return
    recorded = dict(line.split(" h1:", 1) for line in lines[1:] if " h1:" in line)
    for number, (name, value) in enumerate(hash_file(files), 2):
        if recorded.get(name) != value:
            what = "is not listed" if name not in recorded else "does not match its hash (edited, or an earlier " \
                                                                "file was)"
            raise InputError(sum_path, f"checksum mismatch: {name} {what}; Atlas refuses to migrate until "
                                       f"`atlas migrate hash` is run", line=min(number, len(lines) or 1))
    raise InputError(sum_path, "checksum mismatch: it lists files that are not in the directory or its total "
                               "is wrong; Atlas refuses to migrate", line=1)


FORMAT = Atlas()
