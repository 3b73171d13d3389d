"""Drizzle ORM (SQLite, better-sqlite3 migrator): ``<out>/<tag>.sql`` listed in ``meta/_journal.json``.

Source: drizzle-team/drizzle-orm, ``drizzle-orm/src/migrator.ts`` (``readMigrationFiles``: the
journal's entries, in order, each ``<tag>.sql``, a missing file an error; a file is split on
``--> statement-breakpoint``; its hash is the SHA-256 hex of the whole file, its
``folderMillis`` the entry's ``when``) and ``drizzle-orm/src/sqlite-core/dialect.ts``
(``migrate``: ``CREATE TABLE IF NOT EXISTS __drizzle_migrations (id SERIAL PRIMARY KEY, hash text
NOT NULL, created_at numeric)`` before anything else, then ONE ``BEGIN`` ... ``COMMIT`` around
every pending file and its row, ``ROLLBACK`` on any error; a file is pending when its
``when`` is after the newest ``created_at``; the hash is recorded, never checked).
better-sqlite3 runs one statement per ``run``, so a chunk holding two statements fails
(``RangeError: The supplied SQL string contains more than one statement``): here an input
error naming the file and line, before anything runs.

A ``PRAGMA foreign_keys = OFF`` in a file is inside that one transaction, so it does nothing
(drizzle-kit's own table rebuilds rely on it): reproduced, as the framework runs it.
``Migration.version`` is the entry's ``when`` (what the history table records), or each
entry's 1-based rank when the ``when`` values do not increase.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

from harness.engines.formats.base import Discovery, Format, MigrationFile, Recognised, decode, read_bytes
from harness.engines.formats.history import History, Layout
from harness.engines.statements import Statement, split
from harness.errors import InputError

JOURNAL = Path("meta") / "_journal.json"
BREAKPOINT = "--> statement-breakpoint"


class DrizzleHistory(History):
    # id is "SERIAL PRIMARY KEY": no rowid alias in SQLite, so it is NULL in every row
    layout = Layout("__drizzle_migrations", "created_at", checksum="hash")
    create = ('CREATE TABLE IF NOT EXISTS "__drizzle_migrations" (\n'
              '\t\t\tid SERIAL PRIMARY KEY,\n'
              '\t\t\thash text NOT NULL,\n'
              '\t\t\tcreated_at numeric\n'
              '\t\t)',)
    created_first = True

    def record(self, conn: sqlite3.Connection, migration: MigrationFile, seconds: float) -> None:
        conn.execute('INSERT INTO "__drizzle_migrations" ("hash", "created_at") VALUES(?, ?)',
                     (migration.checksum, int(migration.history_key)))


class Drizzle(Format):
    name = "drizzle"
    pattern_text = "<tag>.sql listed in meta/_journal.json"
    has_checksums = False  # recorded, never compared
    batch = True  # one transaction around every pending file
    history = DrizzleHistory()

    def owns(self, directory: Path) -> bool:
        return (directory / JOURNAL).is_file()

    def recognise(self, filename: str) -> Recognised | None:
        return None  # the journal, not the names, says what a migration is

    def claims(self, filename: str, text: str) -> bool:
        return False

    def discover(self, directory: Path) -> Discovery:
        journal = directory / JOURNAL
        entries = _entries(journal)
        whens = [int(e["when"]) for e in entries]
        increasing = all(a < b for a, b in zip(whens, whens[1:]))
        files = []
        for rank, entry in enumerate(entries, 1):
            path = directory / f"{entry['tag']}.sql"
            if not path.is_file():
                raise InputError(journal, f"No file {path.name} found in {directory.name} folder (journal entry "
                                          f"{entry['tag']})", key="entries")
            version = int(entry["when"]) if increasing else rank
            files.append(self._load(path, read_bytes(path), str(entry["tag"]), version, int(entry["when"])))
        listed = {f"{e['tag']}.sql" for e in entries}
        others = tuple(p for p in sorted(directory.iterdir()) if p.is_file() and p.name not in listed)
        notes = tuple(f"{p.name}: not in {JOURNAL.as_posix()}: Drizzle does not run it" for p in others
                      if p.suffix.lower() == ".sql")
        return Discovery(tuple(files), others, (), notes)

    def load(self, path: Path, raw: bytes, found: Recognised, version: int) -> MigrationFile:
        return self._load(path, raw, found.name, version, version)

    def _load(self, path: Path, raw: bytes, tag: str, version: int, when: int) -> MigrationFile:
        text = decode(path, raw)
        statements: list[Statement] = []
        line = 1
        for chunk in text.split(BREAKPOINT):
            found = split(chunk)
            if len(found) > 1:
                raise InputError(path, f"a chunk between statement breakpoints holds {len(found)} statements; "
                                       f"Drizzle's better-sqlite3 migrator runs one per chunk and fails ('The "
                                       f"supplied SQL string contains more than one statement')",
                                 line=line + found[1].line - 1)
            statements += [Statement(s.text, s.line + line - 1) for s in found]
            line += chunk.count("\n")
        name = tag.split("_", 1)[1] if "_" in tag else tag
        return MigrationFile(version, name, path, hashlib.sha256(raw).hexdigest(), text, key=str(when),
                             parsed=tuple(statements))


def _entries(journal: Path) -> list[dict[str, object]]:
    try:
        data = json.loads(journal.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(journal, f"cannot be read as JSON ({exc})") from None
    entries = data.get("entries") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise InputError(journal, "has no 'entries' list", key="entries")
    for i, entry in enumerate(entries):
        if not (isinstance(entry, dict) and isinstance(entry.get("tag"), str)
                and isinstance(entry.get("when"), int) and not isinstance(entry.get("when"), bool)):
            raise InputError(journal, f"entry {i} needs a string 'tag' and an integer 'when'", key=f"entries[{i}]")
    return entries


FORMAT = Drizzle()
