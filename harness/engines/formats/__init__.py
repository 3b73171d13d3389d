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
(its SQLite parser says that statement cannot run in a transaction). Order is numeric, except
where the framework itself orders by text (Diesel, Atlas: fixed-width timestamps) or by a
journal (Drizzle). ``numbered`` (generic numbered names no framework takes) runs as plain.
``detection`` tells a directory's format (``detect``, strict; ``choose``, for zero-config).

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
    atlas, dbmate, detection, diesel, drizzle, flyway, golang_migrate, goose, numbered, plain, prisma, refinery, sqlx,
)
from harness.engines.formats.base import (
    CODE_CHECKSUM, CODE_DIRTY, CODE_GAP, CODE_UNKNOWN, Discovery, Format, MigrationFile, Recognised,
)
from harness.engines.formats.detection import Choice
from harness.engines.formats.history import (
    NO_HISTORY, DeclaredHistory, History, HistoryLayoutError, HistoryRow, Layout, Recorded, declared_layout,
    table_columns,
)
from harness.errors import InputError

__all__ = [
    "AUTO", "CODE_CHECKSUM", "CODE_DIRTY", "CODE_GAP", "CODE_UNKNOWN", "FORMATS", "Discovery", "Format", "History",
    "Choice", "HistoryRow", "HistorySpec", "Layout", "MigrationFile", "Recognised", "Recorded", "choose", "detect", "get",
    "history_of", "history_tables", "read_history",
]

AUTO = "auto"
#: Every format, by name: adding a framework is its module plus one line here.
REGISTRY: dict[str, Format] = {f.name: f for f in (
    plain.FORMAT, refinery.FORMAT, flyway.FORMAT, sqlx.FORMAT, golang_migrate.FORMAT, goose.FORMAT, dbmate.FORMAT,
    prisma.FORMAT, drizzle.FORMAT, diesel.FORMAT, atlas.FORMAT, numbered.FORMAT,
)}
FORMATS = tuple(REGISTRY)
#: What a scenario or engine says about the history table: a preset (a format's name), a
#: declared ``Layout``, or nothing (find whichever known table the database has).
HistorySpec = str | Layout | History | None  # a History: an adapter's own (alembic's revisions)


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
    if spec is None or isinstance(spec, History):
        return spec
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
    if isinstance(spec, (Layout, History)):
        declared = DeclaredHistory(spec) if isinstance(spec, Layout) else spec
        if not declared.exists(conn):
            return NO_HISTORY
        return Recorded("declared", declared.name, _versioned(declared.read(conn)), declared.layout.cumulative,
                        declared)
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
    """The format of the migration files in ``directory``; an ``InputError`` when it cannot be
    told (see ``harness.engines.formats.detection``)."""
    return detection.detect(directory, REGISTRY)


def choose(directory: Path) -> Choice:
    """As ``detect``, but a tie nothing settles takes its documented default, with a note."""
    return detection.choose(directory, REGISTRY)


def _versioned(rows: tuple[HistoryRow, ...]) -> tuple[HistoryRow, ...]:
    """The rows of versioned migrations (a Flyway repeatable's row records no version)."""
    return tuple(r for r in rows if not r.repeatable)
