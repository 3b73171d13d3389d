"""Migration-file formats: one module per framework, and ``detect`` for ``format = "auto"``.

Per format: files; transaction; checksum (``Migration.checksum``); history table.

plain
    ``0001_name.sql``; each file in a transaction with its row; sha256 hex of the bytes;
    ``schema_migrations(version, name, checksum, applied_at)`` (the harness's own, which the
    reference engine also writes).
refinery
    ``V<int>__name.sql`` (``U`` files not run); each file in a transaction, its row in a
    second one; SipHash-1-3 u64 in decimal; ``refinery_schema_history``.
flyway
    ``V<ver>__desc.sql``, ``R__desc.sql``; each file in a transaction with its row (a
    ``.sql.conf`` may opt out; a failed opted-out file leaves a ``success = 0`` row); CRC32 of
    the lines, signed, in decimal; ``flyway_schema_history``.
sqlx
    ``<int>_desc.sql`` or ``.up.sql``; in a transaction with its row unless the text starts
    ``-- no-transaction``; SHA-384, lower-case hex; ``_sqlx_migrations``.
golang-migrate
    ``<int>_title.up.sql``; dirty row, then the body in a transaction, then the clean row;
    no checksum (""); ``schema_migrations(version, dirty)``, one row.
goose
    ``<int>_name.sql`` with ``-- +goose Up``; in a transaction with its row unless ``-- +goose
    NO TRANSACTION``; no checksum (""); ``goose_db_version`` (with its version-0 row).
dbmate
    ``<timestamp>_name.sql`` with ``-- migrate:up``; in a transaction with its row unless
    ``-- migrate:up transaction:false``; no checksum (""); ``schema_migrations(version)``.
prisma
    ``<timestamp>_<name>/migration.sql``; no transaction; SHA-256 hex of the script;
    ``_prisma_migrations`` (a row before the script, finished after it).
drizzle
    ``<tag>.sql`` in the order of ``meta/_journal.json``; every pending file in one
    transaction; SHA-256 hex (never checked); ``__drizzle_migrations(hash, created_at)``.
diesel
    ``<version>_<name>/up.sql``; in a transaction with its row unless ``metadata.toml`` says
    otherwise; no checksum; ``__diesel_schema_migrations(version, run_on)``.
atlas
    ``<version>_<desc>.sql`` and ``atlas.sum`` (verified); in a transaction with foreign keys
    off and ``foreign_key_check`` before COMMIT unless ``-- atlas:txmode none``; the running
    sum hash; ``atlas_schema_revisions``.

Each file runs wrapped exactly when its framework wraps it (``MigrationFile.transaction``).
Only plain, the harness's own runner, runs a file with its own ``BEGIN``/``COMMIT`` or a
statement that does nothing or fails inside a transaction (``PRAGMA foreign_keys``,
``VACUUM`` ...) unwrapped (``harness.engines.sqlfiles.runs_unwrapped``); golang-migrate
runs every file unwrapped when some file has its own ``BEGIN``/``COMMIT`` (the project
must then use ``x-no-tx-wrap``); Flyway runs a file with ``PRAGMA foreign_keys`` unwrapped
(its SQLite parser says that statement cannot run in a transaction). Order is always numeric.

History tables: each format's ``history`` (``harness.engines.formats.history.History``)
holds its table's ``Layout`` (name, columns, version kind, written order), the DDL, the rows
it writes and how it interprets them; ``read_history`` finds and reads whichever known table
a database has (or a declared ``Layout``), and ``history_tables`` is the one list of names.
Adding a framework is its module plus one line in ``REGISTRY``.

Files that look like migrations but are not SQL (``0002_backfill.py``, ``3_x.go``) are not
run: discovery notes each one, so that the report says what the harness did not apply.
"""

from __future__ import annotations

from pathlib import Path

import sqlite3
from typing import Callable, Mapping

from harness.engines.formats import (
    atlas, dbmate, diesel, drizzle, flyway, golang_migrate, goose, plain, prisma, refinery, sqlx,
)
from harness.engines.formats.base import (
    CODE_CHECKSUM, CODE_DIRTY, CODE_GAP, CODE_UNKNOWN, Discovery, Format, MigrationFile, Recognised,
)
from harness.engines.formats.history import (
    NO_HISTORY, DeclaredHistory, History, HistoryLayoutError, HistoryRow, Layout, Recorded, declared_layout,
    table_columns,
)
from harness.errors import InputError

__all__ = [
    "AUTO", "CODE_CHECKSUM", "CODE_DIRTY", "CODE_GAP", "CODE_UNKNOWN", "FORMATS", "Discovery", "Format", "History",
    "HistoryRow", "HistorySpec", "Layout", "MigrationFile", "Recognised", "Recorded", "detect", "get",
    "history_of", "history_tables", "read_history",
]

AUTO = "auto"
#: Every format, by name: adding a framework is its module plus one line here.
REGISTRY: dict[str, Format] = {f.name: f for f in (
    plain.FORMAT, refinery.FORMAT, flyway.FORMAT, sqlx.FORMAT, golang_migrate.FORMAT, goose.FORMAT, dbmate.FORMAT,
    prisma.FORMAT, drizzle.FORMAT, diesel.FORMAT, atlas.FORMAT,
)}
FORMATS = tuple(REGISTRY)
#: What a scenario or engine says about the history table: a preset (a format's name), a
#: declared ``Layout``, or nothing (find whichever known table the database has).
HistorySpec = str | Layout | None


def presets() -> dict[str, Layout]:
    """Every known framework's history table layout, by format name."""
    return {name: fmt.history.layout for name, fmt in REGISTRY.items()}


def history_spec(values: str | Mapping[str, object], error: Callable[[str, str], Exception]) -> HistorySpec:
    """A scenario's or the command line's history declaration, validated: a preset's name
    (its framework's own table, read and written as the framework does) or a ``Layout``."""
    if isinstance(values, str):
        values = {"preset": values}
    if set(values) == {"preset"}:
        preset = values["preset"]
        if preset not in REGISTRY:
            raise error("preset", f"unknown history table preset '{preset}'; expected one of: {', '.join(FORMATS)}, "
                                  f"or a declaration (table = ..., version = ...)")
        return str(preset)
    return declared_layout(values, presets(), error)


def history_tables() -> frozenset[str]:
    """Every table name a known framework keeps its history in."""
    return frozenset(f.history.name for f in REGISTRY.values())


def history_of(spec: HistorySpec, where: str = "engine.history") -> History | None:
    """The ``History`` a spec names: a preset's, a declared one, or None (detect)."""
    if spec is None:
        return None
    if isinstance(spec, Layout):
        return DeclaredHistory(spec)
    if spec not in REGISTRY:
        raise InputError(where, f"unknown history table preset '{spec}'; expected one of: {', '.join(FORMATS)} "
                                f"(or declare the table: [engine.history] table = ..., version = ...)")
    return REGISTRY[spec].history


def read_history(conn: sqlite3.Connection, spec: HistorySpec = None) -> Recorded:
    """What the database's history table records, read by the harness itself.

    A declared layout is read as declared (its table missing: no history). A preset is
    tried first, then every other known table, as without a spec. A table with a known
    framework's name that fits none of their layouts is an input error naming the table
    and the column it lacks, never a crash or an engine failure.
    """
    if isinstance(spec, Layout):
        declared = DeclaredHistory(spec)
        if not declared.exists(conn):
            return NO_HISTORY
        return Recorded("declared", spec.table, _versioned(declared.read(conn)), spec.cumulative, declared)
    preferred = [REGISTRY[spec]] if spec in REGISTRY else []
    candidates = preferred + [f for f in REGISTRY.values() if f not in preferred]
    misfit: History | None = None
    for fmt in candidates:
        history = fmt.history
        if history.fits(conn):
            return Recorded(fmt.name, history.name, _versioned(history.read(conn)), history.layout.cumulative,
                            history)
        if misfit is None and history.exists(conn):
            misfit = history
    if misfit is not None:
        misfit.read(conn)  # raises, naming the table and the first column it lacks
        raise HistoryLayoutError(misfit.name, f"history table {misfit.name} has columns "
                                 f"{', '.join(sorted(table_columns(conn, misfit.name)))}, which fit no known "
                                 f"framework's layout; declare it with [engine.history]", key="engine.history")
    return NO_HISTORY


def get(name: str, directory: Path | str = "") -> Format:
    if name not in REGISTRY:
        raise InputError(directory, f"unknown migration file format '{name}'; expected one of: "
                                    f"{', '.join((AUTO, *FORMATS))}", key="engine.format")
    return REGISTRY[name]


def detect(directory: Path) -> str:
    """The format of the migration files in ``directory``, from their names and markers.

    Every ``.sql`` file is matched against every format; the directory's format is the one
    that every matching file allows. Names alone cannot tell some apart: ``V1__x.sql`` is
    refinery or Flyway (an ``R__`` file, a dotted version or a ``.sql.conf`` says Flyway; a
    ``U`` file that refinery would skip is no tie-breaker), ``1_x.up.sql`` is sqlx or
    golang-migrate (a ``-- no-transaction`` first line says sqlx). Then the nearest project
    file at or above the directory breaks the tie (``Cargo.toml``: refinery or sqlx;
    ``go.mod``: golang-migrate or goose; ``pom.xml``, ``build.gradle``, ``build.sbt``,
    ``flyway.conf``, ``flyway.toml``: Flyway), and so does a JVM resources layout
    (``src/main/resources/**/migration``: Flyway's default location); failing that it is an
    error asking for ``format``. ``1_x.sql`` without any marker is plain or sqlx: it is sqlx
    in a Rust project (a ``Cargo.toml`` at or above the directory), otherwise plain, the
    harness's own format.
    """
    if not directory.is_dir():
        raise InputError(directory, "no such directory", key="engine.directory")
    owners = [name for name, fmt in REGISTRY.items() if fmt.owns(directory)]
    if len(owners) == 1:  # a journal, a sum file, one folder per migration: no name can say otherwise
        return owners[0]
    if owners:
        raise InputError(directory, f"the directory's layout fits {' and '.join(owners)}; set format to one of them",
                         key="engine.format")
    per_file: dict[str, frozenset[str]] = {}
    for path in sorted(p for p in directory.iterdir() if p.is_file()):
        if path.name.lower().endswith(".sql.conf"):
            per_file[path.name] = frozenset({"flyway"})
            continue
        if not path.name.lower().endswith(".sql"):
            continue
        try:
            text = path.read_bytes().decode("utf-8", errors="replace")
        except OSError as exc:
            raise InputError(path, f"cannot be read ({exc.strerror or exc})") from None
        candidates = frozenset(name for name, fmt in REGISTRY.items() if fmt.claims(path.name, text))
        if candidates:
            per_file[path.name] = candidates
    if not per_file:
        return "plain"
    common = frozenset.intersection(*per_file.values())
    if not common:
        groups: dict[frozenset[str], list[str]] = {}
        for name, candidates in per_file.items():
            groups.setdefault(candidates, []).append(name)
        described = "; ".join(f"{', '.join(names[:3])}{' ...' if len(names) > 3 else ''}: "
                              f"{' or '.join(sorted(c))}" for c, names in groups.items())
        raise InputError(directory, f"migration files of different formats, candidates per file: {described}; "
                                    f"set format to one of: {', '.join(FORMATS)}", key="engine.format")
    if len(common) == 1:
        return next(iter(common))
    project = _project_marker(directory)
    if common <= {"plain", "sqlx"}:
        return "sqlx" if project is not None and project.name == "Cargo.toml" and "sqlx" in common else "plain"
    if project is not None:
        narrowed = common & PROJECT_MARKERS[project.name]
        if len(narrowed) == 1:
            return next(iter(narrowed))
    if "flyway" in common and _jvm_resources(directory):
        return "flyway"
    seen = f" ({project} does not settle it)" if project is not None else ""
    raise InputError(directory, f"cannot tell the migration format from the file names: it could be "
                                f"{' or '.join(sorted(common))}{seen}; set format to one of them", key="engine.format")


def _versioned(rows: tuple[HistoryRow, ...]) -> tuple[HistoryRow, ...]:
    """The rows of versioned migrations (a Flyway repeatable's row records no version)."""
    return tuple(r for r in rows if not r.repeatable)


#: Project files that say which ecosystem, hence which frameworks, a directory belongs to.
#: Used only to break a tie the file names leave (refinery or Flyway, sqlx or golang-migrate).
PROJECT_MARKERS: dict[str, frozenset[str]] = {
    "Cargo.toml": frozenset({"refinery", "sqlx"}),
    "go.mod": frozenset({"golang-migrate", "goose"}),
    **{name: frozenset({"flyway"}) for name in ("pom.xml", "build.gradle", "build.gradle.kts", "build.sbt",
                                                 "flyway.conf", "flyway.toml")},
}


def _jvm_resources(directory: Path) -> bool:
    """``…/src/main/resources/…/migration``: where Flyway looks by default (``db/migration``)."""
    parts = [p.lower() for p in directory.resolve().parts]
    for i in range(len(parts) - 2):
        if parts[i:i + 3] == ["src", "main", "resources"]:
            return any(p in ("migration", "migrations") for p in parts[i + 3:])
    return False


def _project_marker(directory: Path) -> Path | None:
    """The nearest project file at or above ``directory``, up to its repository's root."""
    for folder in (directory.resolve(), *directory.resolve().parents):
        for name in PROJECT_MARKERS:
            if (folder / name).is_file():
                return folder / name
        if (folder / ".git").exists():
            return None
    return None
