"""Databases the hot queries run on: at head, filled at scale, with statistics fixed.

A dataset is built once per process and (engine, dataset), then copied for each case:

1. the engine under test migrates an empty file to head (``engine.migrate``), so the
   schema is the one the application really gets;
2. ``harness.fixtures.generate.populate`` fills every table from the schema alone,
   deterministically from the dataset's seed (the history table is left as the engine
   wrote it);
3. statistics: ``analyze`` runs ``ANALYZE``; ``pinned`` replaces ``sqlite_stat1`` with the
   scenario's rows and reloads them (``ANALYZE sqlite_schema``), so the planner sees the
   real application's scale whatever the generated data is; ``none`` leaves no statistics.

The plan checks on upgraded fixtures use :func:`upgraded_fixture`: a legacy fixture
migrated to head by the engine, with the query's dataset statistics laid over it, so an
index that one upgrade path loses changes the plan there and only there.
"""

from __future__ import annotations

import atexit
import hashlib
import shutil
import sqlite3
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence
from urllib.parse import quote

from harness.fixtures.generate import populate
from harness.plans.spec import Dataset, StatRow
from harness.engines.formats import HistorySpec, read_history
from harness.sqlite.files import copy_db

__all__ = ["DatasetError", "Built", "build", "copy_of", "fresh_install", "upgraded_fixture", "read_stat1",
           "apply_stats", "connect", "scope_of", "clear_cache"]

DB_NAME = "app.sqlite3"


class DatasetError(Exception):
    """The engine could not build the database a query runs on."""

    def __init__(self, summary: str, details: str = "") -> None:
        super().__init__(summary)
        self.summary = summary
        self.details = details


@dataclass(frozen=True)
class Built:
    path: Path  # the cached database: copy it, do not write to it
    dataset: Dataset
    seconds: float  # migrate + populate + statistics
    rows: Mapping[str, int] = field(default_factory=dict)  # rows inserted per table
    failed: Mapping[str, int] = field(default_factory=dict)  # rows populate gave up on
    stat1: tuple[StatRow, ...] = ()  # sqlite_stat1 as the planner sees it

    def observations(self) -> dict[str, Any]:
        return {"dataset": self.dataset.name, "build_seconds": round(self.seconds, 3),
                "rows": sum(self.rows.values()), "stats": self.dataset.stats}


class _Cache:
    lock = threading.Lock()
    root: Path | None = None
    built: dict[tuple[object, ...], Built] = {}
    paths: dict[tuple[object, ...], Path] = {}


def _root() -> Path:
    if _Cache.root is None:
        _Cache.root = Path(tempfile.mkdtemp(prefix="harness-plans-"))
        atexit.register(shutil.rmtree, _Cache.root, True)
    return _Cache.root


def clear_cache() -> None:
    """Forget every built database (tests; the files go when the process ends)."""
    with _Cache.lock:
        _Cache.built.clear()
        _Cache.paths.clear()


def scope_of(engine: Any, scenario_path: Path | str) -> tuple[object, ...]:
    """What identifies "the same engine" for the cache: scenario, engine name, its migrations."""
    try:
        migrations = tuple((m.version, m.checksum) for m in engine.migrations())
    except Exception:  # noqa: BLE001 - an engine that cannot list them is keyed by name only
        migrations = ()
    return (str(Path(scenario_path).resolve()), getattr(engine, "name", type(engine).__name__), migrations)


def _slot(*key: object) -> Path:
    digest = hashlib.sha256(repr(key).encode()).hexdigest()[:16]
    path = _root() / digest
    path.mkdir(parents=True, exist_ok=True)
    return path


def connect(db: Path, *, readonly: bool = True) -> sqlite3.Connection:
    """A plain stdlib connection to a dataset copy (autocommit)."""
    if readonly:
        return sqlite3.connect(f"file:{quote(str(db.resolve()))}?mode=ro", uri=True, isolation_level=None)
    return sqlite3.connect(db, isolation_level=None)


def _migrate(engine: Any, db: Path, what: str) -> None:
    outcome = engine.migrate(db)
    if not outcome.ok:
        raise DatasetError(f"{what}: the engine's migrate failed: {outcome.describe()}",
                           (outcome.message + "\n" + outcome.stderr)[-4000:])


def read_stat1(db_or_conn: Path | sqlite3.Connection) -> tuple[StatRow, ...]:
    """``sqlite_stat1`` rows, sorted (none when the table does not exist)."""
    conn = connect(db_or_conn) if isinstance(db_or_conn, Path) else db_or_conn
    try:
        exists = conn.execute("SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_stat1'").fetchone()
        if not exists:
            return ()
        rows = conn.execute("SELECT tbl, idx, stat FROM sqlite_stat1").fetchall()
    finally:
        if isinstance(db_or_conn, Path):
            conn.close()
    return tuple(sorted((StatRow(t, i, s) for t, i, s in rows), key=lambda r: (r.table, r.index or "")))


def apply_stats(conn: sqlite3.Connection, mode: str, rows: Sequence[StatRow] = ()) -> None:
    """Set the statistics: ``analyze``, ``pinned`` (exactly ``rows``) or ``none``."""
    if mode == "analyze":
        conn.execute("ANALYZE")
        return
    conn.execute("ANALYZE sqlite_schema")  # creates sqlite_stat1 when missing, analyses nothing else
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE name LIKE 'sqlite\\_stat%' ESCAPE '\\'")}
    conn.execute("BEGIN")
    try:
        for table in sorted(tables):
            conn.execute(f"DELETE FROM {table}")
        if mode == "pinned":
            conn.executemany("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (?, ?, ?)",
                             [(r.table, r.index, r.stat) for r in rows])
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("ANALYZE sqlite_schema")  # reload: the planner now uses exactly these rows


def _settle(conn: sqlite3.Connection) -> None:
    """Leave one self-contained file: no WAL content, rollback journal mode."""
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA journal_mode = DELETE")


def build(engine: Any, dataset: Dataset, *, scope: tuple[object, ...], history_format: HistorySpec = None) -> Built:
    """The dataset's database for ``engine`` (built on first use in this process, then cached)."""
    key = ("dataset", scope, dataset)
    with _Cache.lock:
        if key in _Cache.built:
            return _Cache.built[key]
        start = time.perf_counter()
        db = _slot(*key) / DB_NAME
        for stale in db.parent.glob(DB_NAME + "*"):
            stale.unlink()
        _migrate(engine, db, f"dataset '{dataset.name}'")
        conn = connect(db, readonly=False)
        try:
            table = read_history(conn, history_format).table
            result = populate(conn, seed=dataset.seed, rows_per_table=dataset.row_counts(),
                              skip_tables=[table] if table else ())
            apply_stats(conn, dataset.stats, dataset.stat1)
            _settle(conn)
            stat1 = read_stat1(conn)
        except sqlite3.Error as exc:
            raise DatasetError(f"dataset '{dataset.name}': {type(exc).__name__}: {exc}") from exc
        finally:
            conn.close()
        built = Built(db, dataset, time.perf_counter() - start, dict(result), dict(result.failed), stat1)
        _Cache.built[key] = built
        return built


def copy_of(source: Path, dest_dir: Path) -> Path:
    """A private copy of a cached database for one case."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    return copy_db(source, dest_dir / DB_NAME, sidecars=False)


def fresh_install(engine: Any, *, scope: tuple[object, ...]) -> Path:
    """An empty database migrated to head by the engine (cached)."""
    key = ("fresh", scope)
    with _Cache.lock:
        if key not in _Cache.paths:
            db = _slot(*key) / "data" / DB_NAME
            db.parent.mkdir(parents=True, exist_ok=True)
            for stale in db.parent.glob(DB_NAME + "*"):
                stale.unlink()
            _migrate(engine, db, "fresh install")
            conn = connect(db, readonly=False)
            try:
                _settle(conn)
            finally:
                conn.close()
            _Cache.paths[key] = db
        return _Cache.paths[key]


def upgraded_fixture(engine: Any, store: Any, fixture: str, *, scope: tuple[object, ...],
                     stats: tuple[str, tuple[StatRow, ...]] | None = None) -> Path:
    """Legacy fixture ``fixture`` upgraded to head by the engine, with ``stats`` laid over it.

    ``stats`` is ``(mode, rows)``: ``("pinned", rows)`` copies a dataset's statistics onto
    the upgraded schema (rows for an index that is not there are ignored by SQLite).
    """
    base_key = ("upgraded", scope, fixture)
    with _Cache.lock:
        if base_key not in _Cache.paths:
            db = _slot(*base_key) / "data" / DB_NAME
            if db.parent.exists():
                shutil.rmtree(db.parent)
            store.copy_to(store.manifest.get(fixture), db)
            _migrate(engine, db, f"fixture '{fixture}' upgraded to head")
            conn = connect(db, readonly=False)
            try:
                _settle(conn)
            finally:
                conn.close()
            _Cache.paths[base_key] = db
        base = _Cache.paths[base_key]
        if stats is None:
            return base
        key = base_key + (stats,)
        if key not in _Cache.paths:
            db = _slot(*key) / DB_NAME
            copy_db(base, db, sidecars=False)
            conn = connect(db, readonly=False)
            try:
                apply_stats(conn, stats[0], stats[1])
                _settle(conn)
            finally:
                conn.close()
            _Cache.paths[key] = db
        return _Cache.paths[key]
