"""History tables: where a migration framework records what it applied, and how to read it.

A ``Layout`` declares a history table: its name, the column holding the version, the
optional name / checksum / applied-at / success (or dirty) columns, and the kind of version
(an integer, a timestamp, or a text id ordered by the engine's migration list). Every
framework's table is a preset ``Layout`` (in its format's module), and a scenario's
``[engine.history]`` or ``--history`` declares any other one; ``read_rows`` is the one reader
for all of them. A ``History`` adds what a framework does beyond its layout: the DDL it
creates, the rows it writes and when, and how it interprets its rows (goose's un-applied
rows, Flyway's repeatables).

A table that does not have a declared column is an input error naming the table and the
column (exit 2): the harness cannot read that database as the declaration says, which is
neither the engine's fault nor a crash.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable, Literal, Mapping, Sequence

from harness.engines.protocol import Migration, Version
from harness.errors import InputError

if TYPE_CHECKING:  # base imports this module; the type only is needed here
    from harness.engines.formats.base import MigrationFile

VersionKind = Literal["integer", "timestamp", "text"]
KINDS: tuple[VersionKind, ...] = ("integer", "timestamp", "text")
#: Roles a declared column can play (``Layout`` fields), in the order they are read.
ROLES = ("version", "name", "checksum", "applied_at", "success", "dirty")
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class Layout:
    """Where a history table keeps its rows. Column names are as written in the table."""

    table: str
    version: str
    name: str | None = None
    checksum: str | None = None
    applied_at: str | None = None
    success: str | None = None  # true: applied (sqlx, Flyway); false: failed
    dirty: str | None = None  # true: failed or interrupted (golang-migrate)
    kind: VersionKind = "integer"
    order: str = "rowid"  # SQL over the table: the order in which rows were written
    where: str | None = None  # SQL: only rows that record migrations (not baselines, not goose's row 0)
    cumulative: bool = False  # one row meaning "every migration up to this version" (golang-migrate)
    exact: bool = False  # recognised only when the table has exactly these columns

    def columns(self) -> tuple[tuple[str, str], ...]:
        """``(role, column)`` for every declared column."""
        return tuple((role, getattr(self, role)) for role in ROLES if getattr(self, role) is not None)

    def missing(self, present: set[str]) -> list[str]:
        lowered = {c.lower() for c in present}
        return [column for _, column in self.columns() if column.lower() not in lowered]

    def fits(self, present: set[str]) -> bool:
        """Whether a table with these columns is this layout's (used to recognise a preset)."""
        if self.missing(present):
            return False
        return not self.exact or len(present) == len(self.columns())

    def version_of(self, raw: object) -> Version:
        """The version a row records, as this layout's kind reads it (``ValueError`` if it cannot)."""
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        if self.kind == "integer":
            return int(text.strip())
        if self.kind == "timestamp":  # 20240101120000, 2024-01-01-120000, 2024-01-01T12:00:00Z
            digits = "".join(_DIGITS.findall(text))
            if not digits:
                raise ValueError(f"no digits in {text!r}")
            return int(digits)
        return text

    def normalize(self, key: str) -> str:
        """The form in which a recorded version and an engine's version are compared."""
        if self.kind == "text":
            return key
        try:
            return str(self.version_of(key))
        except ValueError:
            return key


@dataclass(frozen=True)
class HistoryRow:
    """One row of a history table, as its framework interprets it."""

    key: str  # the version as written in the table ("" when it holds none)
    checksum: str | None = None
    success: bool = True  # False: failed (sqlx, Flyway) or dirty (golang-migrate)
    repeatable: bool = False  # a Flyway repeatable's row (key is then its description)
    name: str | None = None
    applied_at: str | None = None
    version: Version | None = None  # the key as the layout's kind reads it


class HistoryLayoutError(InputError):
    """The database's history table is not laid out as declared (or as its framework lays it out)."""


def database_name(conn: sqlite3.Connection) -> str:
    """The main database's file, for messages ("" for an in-memory one)."""
    try:
        row = conn.execute("PRAGMA database_list").fetchone()
    except sqlite3.Error:
        return ""
    return str(row[2]) if row and row[2] else ""


def table_columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {str(r[1]) for r in conn.execute(f"PRAGMA table_info({_quote(table)})")}


def table_exists(conn: sqlite3.Connection, table: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ? COLLATE NOCASE",
                        (table,)).fetchone() is not None


def layout_error(conn: sqlite3.Connection, layout: Layout, present: set[str], how: str) -> HistoryLayoutError:
    column = layout.missing(present)[0]
    role = next(r for r, c in layout.columns() if c == column)
    return HistoryLayoutError(
        database_name(conn) or "database",
        f"history table {layout.table} has no column {column} (expected as its {role} column, {how}); "
        f"its columns are: {', '.join(sorted(present)) or 'none'}; declare the table's layout with "
        f"[engine.history] in the scenario or --history", key="engine.history")


def read_rows(conn: sqlite3.Connection, layout: Layout, how: str = "as declared") -> tuple[HistoryRow, ...]:
    """Every row of ``layout``'s table in the order written; nothing when there is no table.

    Raises ``HistoryLayoutError`` when a declared column is missing or a version cannot be
    read as the layout's kind.
    """
    if not table_exists(conn, layout.table):
        return ()
    present = table_columns(conn, layout.table)
    if layout.missing(present):
        raise layout_error(conn, layout, present, how)
    roles = layout.columns()
    select = ", ".join(_quote(column) for _, column in roles)
    where = f" WHERE {layout.where}" if layout.where else ""
    query = f"SELECT {select} FROM {_quote(layout.table)}{where} ORDER BY {layout.order}"
    rows = []
    for values in conn.execute(query):
        got = dict(zip((role for role, _ in roles), values))
        raw = got["version"]
        version = None
        if raw is not None:
            try:
                version = layout.version_of(raw)
            except ValueError:
                raise HistoryLayoutError(
                    database_name(conn) or "database",
                    f"history table {layout.table} column {layout.version} holds {str(raw)[:40]!r}, "
                    f"not a version of kind {layout.kind} ({how})", key="engine.history") from None
        success = True
        if "success" in got:
            success = _truthy(got["success"])
        if "dirty" in got:
            success = success and not _truthy(got["dirty"])
        rows.append(HistoryRow(
            key="" if raw is None else _text(raw), checksum=_checksum(got.get("checksum")), success=success,
            name=_optional_text(got.get("name")), applied_at=_optional_text(got.get("applied_at")),
            version=version))
    return tuple(rows)


class History:
    """A history table: its layout, and how its framework creates, writes and interprets it."""

    layout: Layout
    create: tuple[str, ...] = ()
    #: True when the framework records a migration in a transaction of its own, after the
    #: body's has committed (refinery, golang-migrate), instead of in the body's.
    separate_record = False
    #: True when the framework creates its table before the first migration's transaction,
    #: so that a failing first migration leaves it (dbmate, Drizzle, Diesel, Atlas, Prisma).
    created_first = False

    @property
    def name(self) -> str:
        return self.layout.table

    def exists(self, conn: sqlite3.Connection) -> bool:
        return table_exists(conn, self.layout.table)

    def fits(self, conn: sqlite3.Connection) -> bool:
        """Whether ``conn`` has this table, laid out as this framework lays it out."""
        return self.exists(conn) and self.layout.fits(table_columns(conn, self.layout.table))

    def read(self, conn: sqlite3.Connection) -> tuple[HistoryRow, ...]:
        """Every row, interpreted, in the order written; nothing when there is no table."""
        return self.interpret(read_rows(conn, self.layout, self.how))

    @property
    def how(self) -> str:
        """For messages: as whose table it was read."""
        return f"as {type(self).__name__.removesuffix('History').lower()}'s history table"

    def interpret(self, rows: tuple[HistoryRow, ...]) -> tuple[HistoryRow, ...]:
        """What the framework makes of its rows (by default: each row is one applied migration)."""
        return rows

    def normalize_key(self, key: str) -> str:
        """The form in which a recorded version and an engine's version are compared."""
        return self.layout.normalize(key)

    def ensure(self, conn: sqlite3.Connection) -> None:
        """Create the table (and any initial rows) when it is missing."""
        if not self.exists(conn):
            for statement in self.create:
                conn.execute(statement)

    def before(self, conn: sqlite3.Connection, migration: MigrationFile) -> None:
        """Anything written before the body runs (golang-migrate's dirty flag)."""

    def record(self, conn: sqlite3.Connection, migration: MigrationFile, seconds: float) -> None:
        raise NotImplementedError

    def after(self, conn: sqlite3.Connection, migration: MigrationFile, seconds: float) -> None:
        """Anything written once the migration is committed (sqlx's execution_time)."""

    def failed(self, conn: sqlite3.Connection, migration: MigrationFile, seconds: float, error: str = "") -> None:
        """What the framework records when a file that ran without a transaction fails."""


class RevisionHistory(History):
    """Text ids (alembic's revisions) ordered by the engine's list: each row's version is its
    id's 1-based position in ``order``, so it compares with the engine's numbered migrations
    (0: an id the engine does not know). Read-only: the tool itself writes the table."""

    def __init__(self, layout: Layout, order: Sequence[str]) -> None:
        self.layout = layout
        self.order = {revision: i + 1 for i, revision in enumerate(order)}

    def interpret(self, rows: tuple[HistoryRow, ...]) -> tuple[HistoryRow, ...]:
        return tuple(replace(r, version=self.order.get(r.key, 0)) for r in rows)

    @property
    def how(self) -> str:
        return "as the tool's revision table"


@dataclass(frozen=True)
class Recorded:
    """What a database's history table says, read by the harness itself."""

    format: str  # the preset's name, "declared", or "none"
    table: str | None
    rows: tuple[HistoryRow, ...]  # in the order they were written
    cumulative: bool = False  # one row saying "at version V" (golang-migrate), not one per migration
    history: History | None = None

    @property
    def versions(self) -> tuple[Version, ...]:
        return tuple(r.version for r in self.rows if r.success and not r.repeatable and r.version is not None)

    def normalize(self, key: str) -> str:
        return self.history.normalize_key(key) if self.history is not None else key

    def positions(self, migrations: Sequence[Migration]) -> dict[str, int]:
        """Each engine migration's index, by its version as this history table writes it."""
        return {self.normalize(migration_key(m)): i for i, m in enumerate(migrations)}

    def applied(self, migrations: Sequence[Migration]) -> tuple[Migration, ...]:
        """The engine's migrations this history says are applied (in the history's order)."""
        position = self.positions(migrations)
        found = [position[k] for k in (self.normalize(r.key) for r in self.rows
                                       if r.success and not r.repeatable) if k in position]
        if self.cumulative:
            found = list(range(max(found) + 1)) if found else []
        return tuple(migrations[i] for i in found)


NO_HISTORY = Recorded("none", None, ())


def migration_key(migration: Migration) -> str:
    """The version as the engine's history table writes it."""
    return migration.key if migration.key is not None else str(migration.version)


def numeric_versions(rows: tuple[HistoryRow, ...]) -> tuple[HistoryRow, ...]:
    """Text keys that are digits read as integer versions, like the files' (Diesel, Atlas)."""
    return tuple(replace(r, version=int(r.key)) if r.key.isdigit() else r for r in rows)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _truthy(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "f", "false", "no", "n")
    return bool(value)


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _optional_text(value: object) -> str | None:
    return None if value is None else _text(value)


def _checksum(value: object) -> str | None:
    if value is None:
        return None
    return value.hex() if isinstance(value, bytes) else str(value)


class DeclaredHistory(History):
    """A history table declared by the scenario (``[engine.history]``): read as declared, and,
    when the sqlfiles adapter migrates, created and written with the declared columns."""

    @property
    def how(self) -> str:
        return "as declared"

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        kinds = {"version": "INTEGER" if layout.kind != "text" else "TEXT", "success": "BOOLEAN",
                 "dirty": "BOOLEAN"}
        columns = ", ".join(f"{_quote(column)} {kinds.get(role, 'TEXT')}"
                            f"{' PRIMARY KEY' if role == 'version' and not layout.cumulative else ''}"
                            for role, column in layout.columns())
        self.create = (f"CREATE TABLE IF NOT EXISTS {_quote(layout.table)} ({columns})",)

    def record(self, conn: sqlite3.Connection, migration: MigrationFile, seconds: float) -> None:
        layout = self.layout
        key = migration.history_key
        values = {"version": key if layout.kind == "text" else layout.version_of(key),
                  "name": migration.name, "checksum": migration.checksum,
                  "applied_at": _now(), "success": 1, "dirty": 0}
        roles = layout.columns()
        if layout.cumulative:
            conn.execute(f"DELETE FROM {_quote(layout.table)}")
        conn.execute(f"INSERT INTO {_quote(layout.table)} ({', '.join(_quote(c) for _, c in roles)}) "
                     f"VALUES ({', '.join('?' for _ in roles)})", tuple(values[role] for role, _ in roles))


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


#: Keys of a declaration (``[engine.history]``, ``--history``): the table, its columns, the
#: version kind, and optionally the preset it starts from.
DECLARATION_KEYS = ("preset", "table", *ROLES, "kind", "cumulative")


def declared_layout(values: Mapping[str, object], presets: Mapping[str, Layout],
                    error: Callable[[str, str], Exception]) -> Layout:
    """A ``Layout`` from declared keys; ``error(key, problem)`` makes the input error to raise.

    ``preset`` starts from a known framework's layout (its other keys then override it);
    without one, ``table`` and ``version`` are required. The one validator for both the
    scenario's ``[engine.history]`` and the command line's ``--history``.
    """
    for key in values:
        if key not in DECLARATION_KEYS:
            raise error(key, f"unknown key '{key}'; expected one of: {', '.join(DECLARATION_KEYS)}")
    for key, value in values.items():
        if key == "cumulative":
            if not isinstance(value, bool):
                raise error(key, f"expected true or false, got {value!r:.40}")
        elif not isinstance(value, str) or not value.strip():
            raise error(key, f"expected a non-empty string, got {value!r:.40}")
    preset = values.get("preset")
    if preset is not None and preset not in presets:
        raise error("preset", f"unknown preset '{preset}'; expected one of: {', '.join(presets)}")
    kind = values.get("kind", presets[preset].kind if isinstance(preset, str) else "integer")
    if kind not in KINDS:
        raise error("kind", f"'{kind}' is not a version kind; expected one of: {', '.join(KINDS)}")
    if preset is None:
        for key in ("table", "version"):
            if key not in values:
                raise error(key, f"missing required key '{key}' (or start from a preset: preset = \"...\")")
        base = Layout(str(values["table"]), str(values["version"]))
    else:
        base = presets[str(preset)]
    changes = {k: v for k, v in values.items() if k not in ("preset",)}
    return replace(base, **changes)  # type: ignore[arg-type]


def parse_declaration(text: str) -> dict[str, object]:
    """``--history`` text: a preset name, or ``table=t,version=v,applied_at=installed_on,...``."""
    if "=" not in text:
        return {"preset": text.strip()}
    values: dict[str, object] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"'{part}' is not key=value")
        key, value = key.strip(), value.strip()
        values[key] = value.lower() == "true" if key == "cumulative" else value
    return values
