"""dbmate: ``<timestamp>_<name>.sql`` with ``-- migrate:up`` and ``-- migrate:down`` blocks.

Source: amacneil/dbmate, ``pkg/dbmate/db.go`` (files ``^(\\d+).*\\.sql$``, the version is the
leading digits as text; the body and the version insert run in one transaction unless the up
marker says ``transaction:false``; ``Migrate`` creates the table with ``CreateMigrationsTable``
before the first migration's transaction, so a failing first migration leaves it, empty),
``pkg/dbmate/migration.go`` (the up block runs from the
up marker to the down marker; both markers are required, up first, and nothing but comments
may precede the up marker) and ``pkg/driver/sqlite/sqlite.go`` (table DDL and insert).

dbmate sorts files by name, i.e. as text; the harness orders them numerically (it never
applies ``10_x`` before ``2_y``), which only differs for versions of unequal length.
dbmate records no checksum and no name.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from harness.engines.formats.base import Format, MigrationFile, Recognised, decode, shifted
from harness.engines.formats.history import History, Layout
from harness.engines.formats.markers import DBMATE_DOWN, DBMATE_UP, dbmate_options, dbmate_up
from harness.engines.statements import split
from harness.errors import InputError

PATTERN = re.compile(r"^(?P<version>\d+)(?P<rest>.*)\.sql$")


class DbmateHistory(History):
    layout = Layout("schema_migrations", "version", exact=True)
    created_first = True  # Migrate() calls CreateMigrationsTable before any migration's transaction
    create = ('create table if not exists "schema_migrations" (version varchar(128) primary key)',)

    def record(self, conn: sqlite3.Connection, migration: MigrationFile, seconds: float) -> None:
        conn.execute('insert into "schema_migrations" (version) values (?)', (migration.history_key,))


class Dbmate(Format):
    name = "dbmate"
    pattern_text = "<timestamp>_<name>.sql with -- migrate:up"
    has_checksums = False
    history = DbmateHistory()

    def recognise(self, filename: str) -> Recognised | None:
        match = PATTERN.match(filename)
        if not match:
            return None
        return Recognised((int(match["version"]),), match["version"], match["rest"].removeprefix("_"))

    def claims(self, filename: str, text: str) -> bool:
        return bool(PATTERN.match(filename)) and dbmate_up(text)

    def normalize_key(self, key: str) -> str:
        return key  # dbmate looks versions up as text: "0002" is not "2"

    def load(self, path: Path, raw: bytes, found: Recognised, version: int) -> MigrationFile:
        text = decode(path, raw)
        ups = list(DBMATE_UP.finditer(text))
        if not ups:
            raise InputError(path, "dbmate requires each migration to define an up block with '-- migrate:up'")
        if len(ups) > 1:
            raise InputError(path, "several '-- migrate:up' blocks: the sqlfiles adapter runs one per file")
        up = ups[0].start()
        if any(line.strip() and not line.strip().startswith("--") for line in text[:up].split("\n")):
            raise InputError(path, "dbmate does not support statements preceding the '-- migrate:up' block")
        down = DBMATE_DOWN.search(text)
        if down is None:
            raise InputError(path, "dbmate requires each migration to define a down block with '-- migrate:down'")
        if down.start() < up:
            raise InputError(path, "dbmate requires '-- migrate:up' to appear before '-- migrate:down'")
        block = text[up:down.start()]
        first_line = text.count("\n", 0, up) + 1
        return MigrationFile(version, found.name, path, "", block, key=found.key,
                             transaction=dbmate_options(block).get("transaction") != "false",
                             parsed=shifted(split(block), first_line))


FORMAT = Dbmate()
