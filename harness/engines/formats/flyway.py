"""Flyway: ``V<version>__<description>.sql`` versioned, ``R__<description>.sql`` repeatable.

Source: flyway/flyway, ``ResourceNameParser`` (prefix, version before the first ``__``,
description with ``_`` turned into spaces), ``MigrationVersion`` (``_`` in a version reads as
``.``; parts are compared as integers, trailing zero parts dropped, so ``1.0`` is ``1``; the
history keeps the text, e.g. ``1.1``), ``ChecksumCalculator`` (CRC32 over the UTF-8 bytes of
every line with its terminator dropped and the byte-order mark stripped, as a signed 32-bit
int), ``SQLiteDatabase`` (table DDL and its ``_s_idx`` index; SQLite has DDL transactions)
and ``DbMigrate`` (each migration and its row in one transaction; when one that ran without
a transaction fails, a ``success = 0`` row is written and Flyway refuses to go on).
Repeatables run after the versioned ones, in description order, whenever the latest row for
their description has another checksum (also under a target, as in Flyway). A
``<script>.conf`` file beside a script with ``executeInTransaction=false`` opts it out of
the transaction; ``U`` (undo) and ``B`` (baseline) scripts are not run. Flyway's SQLite
parser (``SQLiteParser.detectCanExecuteInTransaction``) marks ``PRAGMA foreign_keys`` as a
statement that cannot run in a transaction, and Flyway runs a script holding one without a
transaction (it refuses such a script unless ``mixed`` is set, so a project that has them
sets it); no other statement opts a script out.

``Migration.version`` (an int for the harness): when every version is a single number
(``V1``, ``V2``, ``V10``, timestamps) it is that number, so it matches the history table.
When any version has several parts (``V1.1``), every file's ``Migration.version`` is instead
its 1-based rank in Flyway's order (``V1``=1, ``V1.1``=2, ``V2``=3 ...): order-preserving for
the directory as it is; the version text itself stays in ``key`` and in the history table.
"""

from __future__ import annotations

import dataclasses
import re
import sqlite3
import zlib
from pathlib import Path
from typing import Sequence

from harness.engines.formats.base import Format, MigrationFile, Recognised, decode, pragma_name, strip_bom
from harness.engines.formats.history import History, HistoryRow, Layout
from harness.engines.statements import split

VERSIONED = re.compile(r"^V(?P<version>\d+(?:[._]\d+)*)__(?P<desc>.*)\.sql$", re.IGNORECASE)
REPEATABLE = re.compile(r"^R__(?P<desc>.*)\.sql$", re.IGNORECASE)
OTHER = re.compile(r"^(?P<prefix>[UB])(?P<version>\d+(?:[._]\d+)*)__(?P<desc>.*)\.sql$", re.IGNORECASE)
CONF = re.compile(r"^.+\.sql\.conf$", re.IGNORECASE)
_PART = re.compile(r"\.(?=\d)")


def version_parts(version: str) -> tuple[int, ...]:
    """Flyway's ``MigrationVersion``: ``_`` reads as ``.``; trailing zero parts do not count."""
    parts = [int(p) for p in _PART.split(version.replace("_", "."))]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def checksum(raw: bytes) -> int:
    """Flyway's CRC32: the lines' UTF-8 bytes without terminators or BOM, as a signed int.

    ``BufferedReader.readLine`` ends a line at ``\\n``, ``\\r`` or ``\\r\\n``, and empty lines
    add nothing to the CRC, so this is the CRC32 of the text with every CR and LF removed.
    """
    text = strip_bom(raw.decode("utf-8"))
    value = zlib.crc32(text.replace("\r", "").replace("\n", "").encode("utf-8"))
    return value - 2**32 if value >= 2**31 else value


class FlywayHistory(History):
    # versions are text ("1.1"); a repeatable's row has none. SCHEMA and BASELINE rows are markers.
    layout = Layout("flyway_schema_history", "version", name="description", checksum="checksum",
                    applied_at="installed_on", success="success", kind="text", order='"installed_rank"',
                    where="\"type\" NOT IN ('SCHEMA', 'BASELINE')")
    create = (
        'CREATE TABLE "main"."flyway_schema_history" (\n'
        '    "installed_rank" INT NOT NULL PRIMARY KEY,\n'
        '    "version" VARCHAR(50),\n'
        '    "description" VARCHAR(200) NOT NULL,\n'
        '    "type" VARCHAR(20) NOT NULL,\n'
        '    "script" VARCHAR(1000) NOT NULL,\n'
        '    "checksum" INT,\n'
        '    "installed_by" VARCHAR(100) NOT NULL,\n'
        '    "installed_on" TEXT NOT NULL DEFAULT (strftime(\'%Y-%m-%d %H:%M:%f\',\'now\')),\n'
        '    "execution_time" INT NOT NULL,\n'
        '    "success" BOOLEAN NOT NULL\n'
        ');',
        'CREATE INDEX "main"."flyway_schema_history_s_idx" ON "flyway_schema_history" ("success");',
    )

    def interpret(self, rows: tuple[HistoryRow, ...]) -> tuple[HistoryRow, ...]:
        """A repeatable's row is keyed by its description; a one-part version reads as an integer."""
        return tuple(dataclasses.replace(r, key=r.name or "", repeatable=True) if r.version is None else
                     dataclasses.replace(r, version=int(r.key)) if r.key.isdigit() else r for r in rows)

    def normalize_key(self, key: str) -> str:
        try:
            return ".".join(str(p) for p in version_parts(key))
        except ValueError:
            return key

    def record(self, conn: sqlite3.Connection, migration: MigrationFile, seconds: float) -> None:
        self._insert(conn, migration, seconds, success=True)

    def failed(self, conn: sqlite3.Connection, migration: MigrationFile, seconds: float, error: str = "") -> None:
        self.ensure(conn)
        self._insert(conn, migration, seconds, success=False)

    def _insert(self, conn: sqlite3.Connection, migration: MigrationFile, seconds: float, *, success: bool) -> None:
        (rank,) = conn.execute('SELECT MAX("installed_rank") FROM "main"."flyway_schema_history"').fetchone()
        conn.execute(
            'INSERT INTO "main"."flyway_schema_history" ("installed_rank", "version", "description", "type", '
            '"script", "checksum", "installed_by", "execution_time", "success") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
            ((rank or 0) + 1, None if migration.repeatable else migration.history_key, migration.name, "SQL",
             migration.path.name, int(migration.checksum), "",  # SQLite has no current user: ""
             int(seconds * 1000), 1 if success else 0))


class Flyway(Format):
    name = "flyway"
    pattern_text = "V<version>__<description>.sql or R__<description>.sql"
    history = FlywayHistory()

    def recognise(self, filename: str) -> Recognised | None:
        if CONF.match(filename):
            return Recognised((), "", filename, "companion")
        match = VERSIONED.match(filename)
        if match:
            raw = match["version"]
            return Recognised(version_parts(raw), raw.replace("_", "."), match["desc"].replace("_", " "))
        match = REPEATABLE.match(filename)
        if match:
            description = match["desc"].replace("_", " ")
            return Recognised((), description, description, "repeatable")
        match = OTHER.match(filename)
        if match:
            kind = "undo" if match["prefix"].upper() == "U" else "baseline"
            return Recognised((), match["version"], match["desc"], "skip",
                              f"Flyway {kind} migration: the harness does not run those")
        return None

    def versions(self, found: Sequence[Recognised]) -> list[int]:
        if all(len(f.order) == 1 for f in found):
            return [f.order[0] for f in found]
        return list(range(1, len(found) + 1))

    def order_repeatables(self, found: Sequence[tuple[Recognised, Path]]) -> list[tuple[Recognised, Path]]:
        return sorted(found, key=lambda item: item[0].name)  # Flyway keeps them in a TreeMap by description

    def load(self, path: Path, raw: bytes, found: Recognised, version: int) -> MigrationFile:
        text = strip_bom(decode(path, raw))
        return MigrationFile(version, found.name, path, str(checksum(raw)), text, key=found.key,
                             transaction=_execute_in_transaction(path) and not _sets_foreign_keys(text),
                             repeatable=found.role == "repeatable")

    def pending_repeatables(self, rows: Sequence[HistoryRow],
                            repeatables: Sequence[MigrationFile]) -> list[MigrationFile]:
        latest = {row.key: row.checksum for row in rows if row.repeatable}  # rows are in rank order
        return [r for r in repeatables if latest.get(r.name) != r.checksum]


def _sets_foreign_keys(text: str) -> bool:
    """A ``PRAGMA foreign_keys`` statement: non-transactional for Flyway's SQLite parser."""
    return any(pragma_name(s) == "foreign_keys" for s in split(text))


def _execute_in_transaction(script: Path) -> bool:
    """``executeInTransaction=false`` in the script's ``.conf`` file opts it out."""
    conf = script.with_name(script.name + ".conf")
    if not conf.is_file():
        return True
    for line in conf.read_text(encoding="utf-8", errors="replace").splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "executeInTransaction" and value.strip().lower() == "false":
            return False
    return True


FORMAT = Flyway()
