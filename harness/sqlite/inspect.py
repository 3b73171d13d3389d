"""Looking at a database without disturbing it, and the facts the checks judge on.

A normal connection to a WAL database checkpoints and removes the ``-wal`` on close, and
even ``mode=ro`` leaves ``-wal``/``-shm`` files behind. So: with no WAL content the file is
opened ``immutable=1`` (SQLite writes nothing at all); with WAL content the database and
its WAL are copied to a private directory and read there. Evidence stays as it was.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import struct
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Mapping
from urllib.parse import quote

from harness.sqlite.fileformat import NotADatabase, read_header
from harness.sqlite.files import copy_db, db_digest


class Unreadable(Exception):
    """SQLite could not read the database at all (not a database, cannot open ...)."""


def _uri(path: Path, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"file:{quote(str(path.resolve()))}?{query}"


def any_text(raw: bytes) -> str:
    """TEXT as SQLite stored it, even when it is not valid UTF-8 (a damaged or hostile
    database): undecodable bytes become surrogate escapes, so values stay exact and comparable."""
    return raw.decode("utf-8", "surrogateescape")


@contextmanager
def reading(db: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection that leaves every file beside ``db`` exactly as it was."""
    wal = db.with_name(db.name + "-wal")
    if wal.is_file() and wal.stat().st_size > 0:
        with tempfile.TemporaryDirectory(prefix="harness-inspect-") as scratch:
            copy = copy_db(db, Path(scratch) / db.name, sidecars=False)
            (Path(scratch) / wal.name).write_bytes(wal.read_bytes())
            conn = sqlite3.connect(_uri(copy, mode="ro"), uri=True)
            conn.text_factory = any_text
            try:
                yield conn
            finally:
                conn.close()
        return
    conn = sqlite3.connect(_uri(db, mode="ro", immutable="1"), uri=True)
    conn.text_factory = any_text
    try:
        yield conn
    finally:
        conn.close()


def error_name(exc: BaseException) -> str:
    """SQLite's error name (``SQLITE_CORRUPT``) where the exception carries it."""
    return str(getattr(exc, "sqlite_errorname", "") or type(exc).__name__)


def integrity(conn: sqlite3.Connection, *, quick: bool = False) -> str:
    """``"ok"`` or the check's messages; an exception raised by the check means corrupt."""
    pragma = "quick_check" if quick else "integrity_check"
    try:
        rows = [str(r[0]) for r in conn.execute(f"PRAGMA {pragma}")]
    except sqlite3.DatabaseError as exc:
        return f"{error_name(exc)}: {exc}"
    return "ok" if rows == ["ok"] else "; ".join(rows[:20])


def reopen_integrity(db: Path) -> str:
    """Open ``db`` read-write as the application would after a crash or a power cut (SQLite
    replays a WAL or rolls back a hot journal) and run ``integrity_check``: ``"ok"`` (also
    for a file that is not there) or what is wrong."""
    if not db.exists():
        return "ok"
    try:
        conn = sqlite3.connect(db, timeout=5)
        try:
            return integrity(conn)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return f"{error_name(exc)}: {exc}"


def foreign_key_violations(conn: sqlite3.Connection) -> list[tuple[str, int | None, str, int]]:
    """(table, rowid, parent table, fk id) for every violation."""
    return [tuple(r) for r in conn.execute("PRAGMA foreign_key_check")]  # type: ignore[misc]


def user_tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
    )
    return [r[0] for r in rows]


def columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA table_xinfo({quote_ident(table)})") if r[6] in (0, 1)]


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def encode_value(value: object) -> bytes:
    """A type-tagged, unambiguous encoding: 1 and '1' and 1.0 hash differently."""
    if value is None:
        return b"N"
    if isinstance(value, int):
        return b"I" + str(value).encode()
    if isinstance(value, float):
        return b"R" + struct.pack(">d", value)
    if isinstance(value, bytes):
        return b"B" + len(value).to_bytes(8, "big") + value
    try:  # the common case first: a strict encode succeeds exactly when there is no surrogate
        text = value.encode("utf-8")  # type: ignore[union-attr]
    except (AttributeError, UnicodeEncodeError):
        text = str(value).encode("utf-8", "surrogateescape" if _escaped(value) else "surrogatepass")
    return b"T" + len(text).to_bytes(8, "big") + text


Window = tuple[float, float]  # (start, end) in epoch seconds
_ISO = re.compile(r"^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)?$")


def is_now(value: object, window: Window) -> bool:
    """Whether ``value`` is a timestamp inside ``window``: a migration's ``'now'``.

    Migrations legitimately stamp rows with the current time (``CURRENT_TIMESTAMP``,
    ``strftime(…, 'now')``, ``unixepoch()``): two correct runs then differ only there.
    Fixture data is generated with fixed, past timestamps, so only values written while
    the case ran fall inside its window.
    """
    start, end = window
    if isinstance(value, str) and len(value) <= 40:
        match = _ISO.match(value)
        if not match:
            return False
        try:
            stamp = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "T"))
        except ValueError:
            return False
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=timezone.utc)
        return start <= stamp.timestamp() <= end
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return start <= value <= end or start <= value / 1000 <= end
    return False


def _escaped(value: object) -> bool:
    return isinstance(value, str) and any("\udc80" <= ch <= "\udcff" for ch in value)


@dataclass(frozen=True)
class TableContent:
    rows: int
    sha256: str
    columns: tuple[str, ...]


def table_rows(conn: sqlite3.Connection, table: str, cols: list[str] | None = None) -> Iterator[tuple]:
    """Rows in a deterministic order (by every column), independent of rowid and storage."""
    cols = cols or columns(conn, table)
    select = ", ".join(quote_ident(c) for c in cols)
    order = ", ".join(str(i + 1) for i in range(len(cols)))
    yield from conn.execute(f"SELECT {select} FROM {quote_ident(table)} ORDER BY {order}")


def table_content(conn: sqlite3.Connection, table: str, cols: list[str] | None = None,
                  volatile: Window | None = None) -> TableContent:
    """Row count and a digest of every value; with ``volatile``, "now" timestamps hash alike.

    With a window the digest is order-independent (a sum of row digests), since a timestamp
    that is only "now" can also change where a row sorts.
    """
    cols = cols or columns(conn, table)
    digest = hashlib.sha256()
    rows_sum = 0
    count = 0
    for row in table_rows(conn, table, cols):
        count += 1
        encoded = b"".join(b"NOW" if volatile and is_now(v, volatile) else encode_value(v) for v in row)
        if volatile:
            rows_sum = (rows_sum + int.from_bytes(hashlib.sha256(encoded).digest(), "big")) % (1 << 256)
        else:
            digest.update(encoded + b"\n")
    if volatile:
        digest.update(rows_sum.to_bytes(32, "big"))
    return TableContent(count, digest.hexdigest(), tuple(cols))


def content(conn: sqlite3.Connection, exclude: frozenset[str] = frozenset(),
            volatile: Window | None = None) -> dict[str, TableContent]:
    return {t: table_content(conn, t, volatile=volatile) for t in user_tables(conn) if t not in exclude}


@dataclass(frozen=True)
class DbState:
    """What the harness itself sees of a database file, for verdicts and reports."""

    exists: bool
    files: Mapping[str, str]  # name -> sha256, database and sidecars
    readable: bool
    error: str | None = None  # why it could not be read
    change_counter: int | None = None
    wal_mode: bool | None = None
    integrity: str | None = None
    fk_violations: tuple[tuple, ...] = ()
    user_version: int | None = None
    tables: Mapping[str, TableContent] = field(default_factory=dict)

    @property
    def sound(self) -> bool:
        return self.readable and self.integrity == "ok" and not self.fk_violations


def observe(db: Path, *, with_content: bool = True, with_files: bool = True) -> DbState:
    """Read everything the checks need from ``db`` in one pass, touching nothing.

    ``with_files=False`` skips hashing the files, a full extra read that only verdicts
    about bytes (quarantine, read-only inputs) need.
    """
    if not db.exists():
        return DbState(exists=False, files={}, readable=False, error="file does not exist")
    files = db_digest(db) if with_files else {}
    try:
        header = read_header(db)
    except (NotADatabase, OSError) as exc:
        return DbState(exists=True, files=files, readable=False, error=str(exc))
    try:
        with reading(db) as conn:
            return DbState(
                exists=True,
                files=files,
                readable=True,
                change_counter=header.change_counter,
                wal_mode=header.wal_mode,
                integrity=integrity(conn),
                fk_violations=tuple(foreign_key_violations(conn)),
                user_version=conn.execute("PRAGMA user_version").fetchone()[0],
                tables=content(conn) if with_content else {},
            )
    except sqlite3.Error as exc:
        return DbState(exists=True, files=files, readable=False, error=f"{error_name(exc)}: {exc}",
                       change_counter=header.change_counter, wal_mode=header.wal_mode)


def content_diff(expected: Mapping[str, TableContent], actual: Mapping[str, TableContent]) -> list[str]:
    """One line per table that differs: missing, extra, row count or content changed."""
    lines = []
    for table in sorted(set(expected) | set(actual)):
        want, got = expected.get(table), actual.get(table)
        if got is None:
            lines.append(f"table {table}: missing (expected {want.rows} rows)")  # type: ignore[union-attr]
        elif want is None:
            lines.append(f"table {table}: unexpected ({got.rows} rows)")
        elif want.rows != got.rows:
            lines.append(f"table {table}: {got.rows} rows, expected {want.rows}")
        elif want.sha256 != got.sha256:
            lines.append(f"table {table}: same {got.rows} rows count but content differs")
    return lines
