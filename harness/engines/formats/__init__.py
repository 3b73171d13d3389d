"""Migration-file formats: one module per framework, and ``detect`` for ``format = "auto"``.

Per format: files; transaction; checksum (``Migration.checksum``); history table.

plain
    ``0001_name.sql``; each file in a transaction with its row; sha256 hex of the bytes;
    ``schema_migrations(version, name, checksum, applied_at)`` (the reference engine's).
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

Each file runs wrapped exactly when its framework wraps it (``MigrationFile.transaction``).
Only plain, the harness's own runner, runs a file with its own ``BEGIN``/``COMMIT`` or a
statement that does nothing or fails inside a transaction (``PRAGMA foreign_keys``,
``VACUUM`` ...) unwrapped (``harness.engines.sqlfiles.runs_unwrapped``); golang-migrate
runs every file unwrapped when some file has its own ``BEGIN``/``COMMIT`` (the project
must then use ``x-no-tx-wrap``); Flyway runs a file with ``PRAGMA foreign_keys`` unwrapped
(its SQLite parser says that statement cannot run in a transaction). Order is always numeric.

Files that look like migrations but are not SQL (``0002_backfill.py``, ``3_x.go``) are not
run: discovery notes each one, so that the report says what the harness did not apply.
"""

from __future__ import annotations

from pathlib import Path

from harness.engines.formats import dbmate, flyway, golang_migrate, goose, plain, refinery, sqlx
from harness.engines.formats.base import (
    CODE_CHECKSUM, CODE_DIRTY, CODE_GAP, CODE_UNKNOWN, AppliedRow, Discovery, Format, History, MigrationFile,
    Recognised,
)
from harness.errors import InputError

__all__ = [
    "AUTO", "CODE_CHECKSUM", "CODE_DIRTY", "CODE_GAP", "CODE_UNKNOWN", "FORMATS", "AppliedRow", "Discovery",
    "Format", "History", "MigrationFile", "Recognised", "detect", "get",
]

AUTO = "auto"
REGISTRY: dict[str, Format] = {f.name: f for f in (
    plain.FORMAT, refinery.FORMAT, flyway.FORMAT, sqlx.FORMAT, golang_migrate.FORMAT, goose.FORMAT, dbmate.FORMAT,
)}
FORMATS = tuple(REGISTRY)
#: history.py's name for each format's table (the harness's own is "reference" there).
HISTORY_FORMAT = {name: ("reference" if name == "plain" else name) for name in FORMATS}


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
