"""What every migration-file format describes, and the parts they share.

A format says which files are its migrations and in what order (``recognise``), how a file
becomes the SQL that runs and whether that runs in a transaction (``load``), which checksum
the framework records for it, and how its history table is created, read and written
(``history``). ``applied`` judges a history table against the files (continuity), read-only. The history
table itself (layout, reader, writer) is ``harness.engines.formats.history``'s.

Facts per framework: the frameworks' documentation and sources, cited in each module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from harness.engines.formats.markers import (  # the transaction rules live there; named here for the formats
    CONNECTION_PRAGMAS as CONNECTION_PRAGMAS,
    cannot_be_wrapped as cannot_be_wrapped,
    controls_transactions as controls_transactions,
    pragma_name as pragma_name,
)
from harness.engines.formats.history import History, HistoryRow
from harness.engines.statements import Statement, split
from harness.errors import InputError

CODE_GAP = "migration_gap"
CODE_UNKNOWN = "migration_unknown_version"
CODE_CHECKSUM = "migration_checksum_mismatch"
CODE_DIRTY = "migration_dirty"

Problem = tuple[str, str]  # (error code, explanation)
#: A versioned name in another language (``0002_backfill.py``, ``V3__Seed.java``): a migration
#: that some other runner applies, skipped here with a warning.
NOT_SQL_MIGRATION = re.compile(r"^(?:[Vv]\d+(?:[._]\d+)*__|\d+[_.-]).+\.(?:py|go|rb|js|ts|java|kt)$")


@dataclass(frozen=True)
class MigrationFile:
    """One migration as the harness runs it."""

    version: int  # the harness's order number (``Migration.version``); see each format
    name: str  # as the framework records it (sqlx and Flyway: the description)
    path: Path
    checksum: str  # as the framework records it, as a string; "" when it records none
    sql: str  # the "up" SQL
    key: str | None = None  # the version as written in the history table (default: str(version))
    transaction: bool = True  # False when the file opts out of the wrapping transaction
    parsed: tuple[Statement, ...] | None = None  # statements as the framework splits them
    repeatable: bool = False  # Flyway R__ files: no version, re-run when their checksum changes
    foreign_keys_off: bool = False  # plain, Atlas: the runner switches foreign keys off around the file
    check_foreign_keys: bool = False  # Atlas: PRAGMA foreign_key_check before COMMIT, rolled back if violated
    folder: bool = False  # one folder per migration (Prisma, Diesel): named by folder/file in messages

    @property
    def shown(self) -> str:
        """The file as messages name it."""
        return f"{self.path.parent.name}/{self.path.name}" if self.folder else self.path.name


    @property
    def history_key(self) -> str:
        return self.key if self.key is not None else str(self.version)

    def statements(self) -> tuple[Statement, ...]:
        return self.parsed if self.parsed is not None else split(self.sql)


@dataclass(frozen=True)
class Discovery:
    files: tuple[MigrationFile, ...]  # versioned migrations, in order
    ignored: tuple[Path, ...]  # files in the directory that are not migrations
    repeatables: tuple[MigrationFile, ...] = ()  # Flyway R__ files, in the order they run
    notes: tuple[str, ...] = ()  # files recognised but deliberately not run (down, undo, unversioned)


@dataclass(frozen=True)
class Recognised:
    """What a file name says, before the file is read."""

    order: tuple[int, ...]  # numeric sort key: never text order
    key: str  # version as the framework writes it in its history table
    name: str
    role: str = "up"  # "up", "repeatable", "down" (not run), "companion" (read with another), "skip"
    note: str = ""  # why a "skip" file is not run


class Format:
    """A migration-file convention: names, order, up SQL, checksum, history table."""

    name = ""
    pattern_text = ""  # for messages: what a migration file is called
    has_checksums = True  # whether an edited file shows in the history (continuity check)
    batch = False  # True: one transaction around every pending file (Drizzle), not one per file
    fallback = False  # True: detected only for numbered names that no other format takes
    own_runner = False  # True: the harness's own runner, which decides per file whether to wrap it
    history: History

    # -- files ----------------------------------------------------------------------------

    def recognise(self, filename: str) -> Recognised | None:
        raise NotImplementedError

    def claims(self, filename: str, text: str) -> bool:
        """For ``format = "auto"``: whether this ``.sql`` file could be one of this format's."""
        found = self.recognise(filename)
        return found is not None and found.role != "companion"

    def owns(self, directory: Path) -> bool:
        """For ``format = "auto"``: whether the directory's layout is this format's alone
        (a journal, a sum file, one folder per migration); file names are judged by ``claims``."""
        return False

    def entries(self, directory: Path) -> list[tuple[str, Path]]:
        """``(name to recognise, file to read)`` per candidate: by default the directory's files."""
        return [(p.name, p) for p in sorted(directory.iterdir()) if p.is_file()]

    def load(self, path: Path, raw: bytes, found: Recognised, version: int) -> MigrationFile:
        raise NotImplementedError

    def versions(self, found: Sequence[Recognised]) -> list[int]:
        """The harness's ``Migration.version`` for each file, given in order."""
        return [_as_int(f.order) for f in found]

    def order_repeatables(self, found: Sequence[tuple[Recognised, Path]]) -> list[tuple[Recognised, Path]]:
        return list(found)

    def discover(self, directory: Path) -> Discovery:
        if not directory.is_dir():
            raise InputError(directory, "no such directory", key="engine.directory")
        versioned: dict[tuple[int, ...], tuple[Recognised, Path]] = {}
        repeatable: list[tuple[Recognised, Path]] = []
        ignored: list[Path] = []
        notes: list[str] = []
        for entry, path in self.entries(directory):
            found = self.recognise(entry)
            if found is None:
                ignored.append(path)
            elif found.role == "skip":
                notes.append(f"{path.name}: {found.note}")
            elif found.role == "down":
                notes.append(f"{path.name}: a down migration, not run by migrate")
            elif found.role == "repeatable":
                repeatable.append((found, path))
            elif found.role == "up":
                clash = versioned.get(found.order)
                if clash:
                    raise InputError(directory, f"duplicate migration version {found.key}: "
                                                f"{clash[1].name} and {path.name}", key="engine.directory")
                versioned[found.order] = (found, path)
        others: list[str] = []  # every file is either run or named in a note saying why not
        for path in ignored:
            if NOT_SQL_MIGRATION.match(path.name) and not path.name.endswith("_test.go"):
                notes.append(f"{path.name}: warning: a migration that is not SQL; the sqlfiles adapter does "
                             f"not run it, so what it does is missing from every upgrade checked here")
            elif path.suffix.lower() == ".sql":
                notes.append(f"{path.name}: warning: not run: the name does not match {self.pattern_text}")
            else:
                others.append(path.name)
        if others:
            notes.append(f"{', '.join(others)}: not migrations (not run)")
        for sub in sorted(p for p in directory.iterdir() if p.is_dir() and not p.name.startswith(".")):
            notes.append(f"{sub.name}/: a directory, not searched (migrations are read from {directory.name}/ "
                         "itself)")
        ordered = [versioned[order] for order in sorted(versioned)]
        numbers = self.versions([found for found, _ in ordered])
        files = tuple(self.load(path, read_bytes(path), found, number)
                      for (found, path), number in zip(ordered, numbers))
        repeatables = tuple(self.load(path, read_bytes(path), found, 0)
                            for found, path in self.order_repeatables(repeatable))
        if not files and not repeatables and any(p.suffix.lower() == ".sql" for p in ignored):
            count = sum(p.suffix.lower() == ".sql" for p in ignored)
            raise InputError(directory, f"no {self.name} migrations here: {count} .sql file(s), none named "
                                        f"{self.pattern_text}", key="engine.format")
        return Discovery(files, tuple(ignored), repeatables, tuple(notes))

    # -- history --------------------------------------------------------------------------

    def normalize_key(self, key: str) -> str:
        """The form in which a history row's version and a file's are compared."""
        return self.history.normalize_key(key)

    def applied(self, rows: Sequence[HistoryRow],
                files: Sequence[MigrationFile]) -> tuple[tuple[MigrationFile, ...], Problem | None]:
        """The files the history says are applied (a prefix of ``files``), or why it does not lead
        up to them: a failed or dirty row, an unknown version, a gap, an edited file."""
        for row in rows:
            if not row.success:
                what = "repeatable migration" if row.repeatable else "version"
                return (), (CODE_DIRTY, f"{what} {row.key} is recorded as failed / dirty in "
                                        f"{self.history.name}; the framework refuses to go on")
        rows = [r for r in rows if not r.repeatable]
        position = {self.normalize_key(f.history_key): i for i, f in enumerate(files)}
        seen: dict[int, HistoryRow] = {}
        for row in rows:
            index = position.get(self.normalize_key(row.key))
            if index is None:
                return (), (CODE_UNKNOWN, f"version {row.key} is applied but there is no file for it")
            seen.setdefault(index, row)
        count = len(seen)
        if sorted(seen) != list(range(count)):
            missing = min(set(range(max(seen) + 1)) - set(seen))
            above = min(i for i in seen if i > missing)
            return (), (CODE_GAP, f"version {seen[above].key} is applied but {files[missing].shown} is not")
        if self.has_checksums:
            for index, row in sorted(seen.items()):
                if row.checksum is not None and row.checksum != files[index].checksum:
                    return (), (CODE_CHECKSUM, f"{files[index].shown} has changed since it was applied "
                                               f"(recorded checksum {row.checksum}, file {files[index].checksum})")
        return tuple(files[:count]), None

    def pending_repeatables(self, rows: Sequence[HistoryRow],
                            repeatables: Sequence[MigrationFile]) -> list[MigrationFile]:
        return []


# -- helpers ----------------------------------------------------------------------------------


def folder_entries(directory: Path, script: str) -> list[tuple[str, Path]]:
    """One folder per migration (Prisma, Diesel): ``(folder name, its script)``, then the loose files."""
    listing = sorted(directory.iterdir())
    return ([(d.name, d / script) for d in listing if d.is_dir() and (d / script).is_file()]
            + [(p.name, p) for p in listing if p.is_file()])


def versions_or_ranks(keys: Sequence[str]) -> list[int]:
    """Text versions in the framework's order as ``Migration.version``: the integers when every
    one is digits and they ascend in that order, else each one's 1-based rank."""
    if all(k.isdigit() for k in keys) and all(int(a) < int(b) for a, b in zip(keys, keys[1:])):
        return [int(k) for k in keys]
    return list(range(1, len(keys) + 1))


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot be read ({exc.strerror or exc})") from None


def decode(path: Path, raw: bytes, *, keep_bom: bool = False) -> str:
    """The file's text; the byte-order mark is dropped unless the framework keeps it."""
    try:
        return raw.decode("utf-8" if keep_bom else "utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(path, f"is not UTF-8 text (byte {exc.start})") from None


def strip_bom(text: str) -> str:
    return text[1:] if text.startswith("\ufeff") else text


def shifted(statements: Sequence[Statement], first_line: int) -> tuple[Statement, ...]:
    """``statements`` of a text that starts on line ``first_line`` of its file."""
    return tuple(Statement(s.text, s.line + first_line - 1) for s in statements)


def utc_now(fmt: str = "%Y-%m-%dT%H:%M:%SZ") -> str:
    return datetime.now(timezone.utc).strftime(fmt)


def _as_int(order: tuple[int, ...]) -> int:
    return order[0] if order else 0

