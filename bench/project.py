"""The synthetic project: M migration files (a plain sqlfiles directory) and N legacy fixtures of size S.

Migrations. ``0001_init.sql`` creates three tables (accounts <- documents <- events, with
foreign keys and indexes); every later file is, in turn:

- ``add_column``: ``ALTER TABLE … ADD COLUMN`` and a backfill ``UPDATE`` of every row;
- ``index``: ``CREATE INDEX`` on a column of a big table;
- ``rebuild``: SQLite's 12-step table rebuild (new table, ``INSERT … SELECT``, drop, rename,
  recreate the indexes) of ``events`` or ``documents``;
- ``create_table``: a new table, its index and a backfill from ``documents``.

So the cost of every file but ``create_table``'s DDL grows with the data. The directory gates
with ``adapter = "sqlfiles"`` (plain format) and, unchanged, with the reference engine
(``migrations_dir``; the rebuilds carry its ``foreign_keys=off`` marker, a comment to the
sqlfiles adapter, whose connections have foreign keys off anyway).

Fixtures. Fixture ``i`` of ``N`` is a database at schema version ``v_i`` (spread over
1..M-1, so on average half the migrations are pending): an empty file taken to ``v_i`` by
the harness's own sqlfiles engine (history rows exactly as the adapter writes them, their
timestamps pinned), then filled with deterministic rows by ``executemany`` in one
transaction until the file reaches ``S`` bytes. Files are cached under the work directory
by (generator version, M, v, S, i), with their sha256 beside them.

How the harness consumes them: ``FixtureStore`` materialises a fixture from SQL text, which
is impractical at 1 GB. Each fixture's manifest entry therefore points at a small stub
``.sql`` file that names the database's sha256 (so the store's key is still a content
hash) and, if ever executed, fails loudly (``no such function``) instead of building an
empty database. The bench places the database itself in the store's cache under exactly
the path ``FixtureStore.materialise`` looks for (``<name>-<FixtureStore.key>.sqlite3``), as
a hard link (a copy across file systems). The harness then verifies the stub's hash, finds
the cached file and copies it per case as usual. ``sql_fixtures`` writes real SQL dumps
instead, for the cold/warm cache measurement.
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from harness.engines.sqlfiles import SqlFilesEngine
from harness.fixtures import manifest as manifest_mod
from harness.fixtures.manifest import render_entry
from harness.fixtures.store import FixtureStore
from harness.sqlite.files import sha256_file

GENERATOR_VERSION = "1"
KINDS = ("add_column", "index", "rebuild", "create_table")
FOREIGN_KEYS_OFF = "-- reference: foreign_keys=off"  # harness.reference.migrator.FOREIGN_KEYS_OFF
PINNED_APPLIED_AT = "2025-01-01T09:00:{:02d}.{:06d}Z"
MB = 1 << 20


# ------------------------------------------------------------------------------------------
# Migrations
# ------------------------------------------------------------------------------------------


@dataclass
class _Table:
    name: str
    columns: list[tuple[str, str]]  # (name, declaration after the name)
    indexes: list[tuple[str, str]] = field(default_factory=list)  # (name, CREATE INDEX sql)

    def ddl(self, name: str | None = None) -> str:
        cols = ",\n    ".join(f"{c} {d}" for c, d in self.columns)
        return f"CREATE TABLE {name or self.name} (\n    {cols}\n);"


def _base_tables() -> dict[str, _Table]:
    accounts = _Table("accounts", [("id", "INTEGER PRIMARY KEY"), ("email", "TEXT NOT NULL UNIQUE"),
                                   ("name", "TEXT NOT NULL"), ("created_at", "TEXT NOT NULL")])
    documents = _Table("documents", [("id", "INTEGER PRIMARY KEY"),
                                     ("account_id", "INTEGER NOT NULL REFERENCES accounts(id)"),
                                     ("title", "TEXT NOT NULL"), ("body", "TEXT"), ("created_at", "TEXT NOT NULL")],
                       [("idx_documents_account", "CREATE INDEX idx_documents_account ON documents (account_id);")])
    events = _Table("events", [("id", "INTEGER PRIMARY KEY"),
                               ("document_id", "INTEGER NOT NULL REFERENCES documents(id)"),
                               ("kind", "TEXT NOT NULL"), ("payload", "TEXT"), ("at", "TEXT NOT NULL")],
                    [("idx_events_document", "CREATE INDEX idx_events_document ON events (document_id);")])
    return {t.name: t for t in (accounts, documents, events)}


def migration_texts(m: int) -> list[tuple[str, str]]:
    """``[(file name, SQL)]`` for M migrations, deterministic."""
    if m < 1:
        raise ValueError("at least one migration")
    tables = _base_tables()
    init = [tables[n].ddl() for n in ("accounts", "documents", "events")]
    init += [sql for t in tables.values() for _, sql in t.indexes]
    files = [("0001_init.sql", "-- bench: the first release's schema\n" + "\n\n".join(init) + "\n")]
    counters = dict.fromkeys(KINDS, 0)
    for version in range(2, m + 1):
        kind = KINDS[(version - 2) % len(KINDS)]
        turn = counters[kind]
        counters[kind] += 1
        if kind == "add_column":
            table = tables[("documents", "events", "accounts")[turn % 3]]
            source = {"documents": "title", "events": "kind", "accounts": "name"}[table.name]
            col = f"c{version}"
            table.columns.append((col, "INTEGER NOT NULL DEFAULT 0"))
            sql = (f"-- bench: add a column to {table.name} and backfill it\n"
                   f"ALTER TABLE {table.name} ADD COLUMN {col} INTEGER NOT NULL DEFAULT 0;\n"
                   f"UPDATE {table.name} SET {col} = length({source}) + {version};\n")
        elif kind == "index":
            table = tables[("events", "documents")[turn % 2]]
            candidates = [c for c, d in table.columns if c != "id"]
            col = candidates[turn % len(candidates)]
            name = f"idx_{table.name}_{col}_{version}"
            create = f"CREATE INDEX {name} ON {table.name} ({col}, id);"
            table.indexes.append((name, create))
            sql = f"-- bench: index {table.name}.{col}\n{create}\n"
        elif kind == "rebuild":
            table = tables[("events", "documents")[turn % 2]]
            old_cols = [c for c, _ in table.columns]
            col = f"r{version}"
            table.columns.append((col, "INTEGER NOT NULL DEFAULT 0"))
            new = f"{table.name}_new"
            body = [
                FOREIGN_KEYS_OFF,
                f"-- bench: the 12-step rebuild of {table.name} (new table, copy, drop, rename, indexes)",
                table.ddl(new),
                f"INSERT INTO {new} ({', '.join(old_cols)}, {col})\n"
                f"    SELECT {', '.join(old_cols)}, id % 7 FROM {table.name};",
                f"DROP TABLE {table.name};",
                f"ALTER TABLE {new} RENAME TO {table.name};",
                *(create for _, create in table.indexes),
            ]
            sql = "\n".join(body) + "\n"
        else:  # create_table
            name = f"t{version}"
            table = _Table(name, [("id", "INTEGER PRIMARY KEY"),
                                  ("document_id", "INTEGER NOT NULL REFERENCES documents(id)"),
                                  ("note", "TEXT NOT NULL")],
                           [(f"idx_{name}_document", f"CREATE INDEX idx_{name}_document ON {name} (document_id);")])
            tables[name] = table
            sql = (f"-- bench: a new table, backfilled from documents\n{table.ddl()}\n{table.indexes[0][1]}\n"
                   f"INSERT INTO {name} (document_id, note) SELECT id, title FROM documents WHERE id % 50 = 0;\n")
        files.append((f"{version:04d}_{kind}_{turn + 1}.sql", sql))
    return files


def write_migrations(directory: Path, m: int) -> Path:
    """The migration directory for M (idempotent: unchanged files are left alone)."""
    directory.mkdir(parents=True, exist_ok=True)
    wanted = dict(migration_texts(m))
    for stale in directory.glob("*.sql"):
        if stale.name not in wanted:
            stale.unlink()
    for name, text in wanted.items():
        path = directory / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    return directory


# ------------------------------------------------------------------------------------------
# Fixture databases
# ------------------------------------------------------------------------------------------


def fixture_versions(n: int, m: int) -> list[int]:
    """Schema version of each of N fixtures: spread over 1..M-1 (1 when M == 1)."""
    top = max(1, m - 1)
    return [1 + (i * top) // n for i in range(n)]


@dataclass(frozen=True)
class Generated:
    name: str
    path: Path
    version: int
    size: int
    sha256: str
    rows: dict[str, int]
    seconds: float  # 0 when it came from the cache


def _templates(work: Path, migrations: Path, m: int) -> dict[int, Path]:
    """An empty database at every version 1..M, built by the harness's sqlfiles engine."""
    root = work / "templates" / f"m{m}-g{GENERATOR_VERSION}"
    done = root / ".done"
    paths = {v: root / f"v{v}.sqlite3" for v in range(1, m + 1)}
    if done.is_file():
        return paths
    root.mkdir(parents=True, exist_ok=True)
    engine = SqlFilesEngine(migrations, "plain")
    with tempfile.TemporaryDirectory(dir=root) as scratch:
        db = Path(scratch) / "t.sqlite3"
        for v in range(1, m + 1):
            outcome = engine.migrate(db, v)
            if not outcome.ok:
                raise RuntimeError(f"building the version {v} template failed: {outcome.describe()}")
            conn = sqlite3.connect(db, isolation_level=None)
            try:  # pin the engine's wall-clock stamps: same bytes on every build
                rows = conn.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
                for (version,) in rows:
                    conn.execute("UPDATE schema_migrations SET applied_at = ? WHERE version = ?",
                                 (PINNED_APPLIED_AT.format(version % 60, version), version))
            finally:
                conn.close()
            shutil.copyfile(db, paths[v])
    done.write_text("ok\n")
    return paths


_POOL_SIZE = 1 << 16
_ALPHABET = "abcdefghijklmnopqrstuvwxyz       ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;:-éàüß漢字"


def _pool(seed: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choices(_ALPHABET, k=_POOL_SIZE + 8192))


def _columns(conn: sqlite3.Connection, table: str) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """Insertable columns (name, declared type) and FK column -> parent table."""
    cols = [(name, decl.upper()) for _, name, decl, _, _, pk in conn.execute(f"PRAGMA table_info({table})")
            if not pk]
    fks = {row[3]: row[2] for row in conn.execute(f"PRAGMA foreign_key_list({table})")}
    return cols, fks


_WEIGHTS = {"accounts": 2, "documents": 12, "events": 40}  # rows per unit (a unit is ~12 KB)
_SIDE_WEIGHT = 1  # each create_table table


def _value_maker(table: str, col: str, decl: str, parent: str | None, pool: str, counts: dict[str, int]):
    span = _POOL_SIZE - 1
    if parent is not None:
        return lambda x: 1 + (x * 2654435761) % max(1, counts[parent])
    if col == "email":
        return lambda x: f"user{x}@example.org"
    if col in ("created_at", "at"):
        return lambda x: f"20{10 + x % 15:02d}-{1 + x % 12:02d}-{1 + x % 28:02d}T{x % 24:02d}:{x % 60:02d}:00Z"
    if "INT" in decl:
        return lambda x: (x * 31) % 1000
    if col == "body":
        return lambda x: pool[(o := (x * 7919) % span):o + (5000 if x % 97 == 0 else 80 + (x * 13) % 520)]
    if col == "payload":
        return lambda x: pool[(o := (x * 104729) % span):o + 40 + (x * 7) % 200]
    return lambda x: pool[(o := (x * 131) % span):o + 8 + x % 32]


def fill(db: Path, size: int, seed: int) -> dict[str, int]:
    """Insert deterministic rows (``executemany``, one transaction) until the file reaches ``size``."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -65536")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        tables = [n for (n,) in conn.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite%' "
            "AND name != 'schema_migrations' ORDER BY rowid")]
        order = [t for t in ("accounts", "documents", "events") if t in tables]
        order += [t for t in tables if t not in order]  # create_table tables reference documents
        pool = _pool(seed)
        counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in order}
        plans = []
        for table in order:
            cols, fks = _columns(conn, table)
            makers = [_value_maker(table, c, d, fks.get(c), pool, counts) for c, d in cols]
            placeholders = ", ".join("?" for _ in cols)
            sql = f"INSERT INTO {table} ({', '.join(c for c, _ in cols)}) VALUES ({placeholders})"
            plans.append((table, sql, makers, _WEIGHTS.get(table, _SIDE_WEIGHT)))
        units = max(1, size // (48 * 12 * 1024))  # ~48 chunks whatever the size: overshoot ~2%
        conn.execute("BEGIN")
        x = seed * 1_000_003
        while conn.execute("PRAGMA page_count").fetchone()[0] * page_size < size:
            for table, sql, makers, weight in plans:
                n = weight * units
                start = x
                conn.executemany(sql, ([make(i) for make in makers] for i in range(start, start + n)))
                x += n
                counts[table] += n
        conn.execute("COMMIT")
        return counts
    finally:
        conn.close()


def generate(work: Path, migrations: Path, m: int, n: int, size: int, log=lambda s: None) -> list[Generated]:
    """N fixtures for M migrations at size S (cached by their parameters)."""
    import time

    templates = _templates(work, migrations, m)
    out: list[Generated] = []
    for i, version in enumerate(fixture_versions(n, m)):
        name = f"m{m}-v{version}-s{size}-i{i}"
        root = work / "fixtures" / f"g{GENERATOR_VERSION}"
        path = root / f"{name}.sqlite3"
        meta = root / f"{name}.meta"
        if path.is_file() and meta.is_file():
            digest, _, rows_text = meta.read_text().partition("\n")
            rows = dict((k, int(v)) for k, v in (p.split("=") for p in rows_text.split()))
            out.append(Generated(name, path, version, path.stat().st_size, digest, rows, 0.0))
            continue
        root.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        tmp = root / f".{name}.tmp"
        shutil.copyfile(templates[version], tmp)
        rows = fill(tmp, size, seed=1 + i + 7919 * version)
        os.replace(tmp, path)
        digest = sha256_file(path)
        meta.write_text(digest + "\n" + " ".join(f"{k}={v}" for k, v in rows.items()))
        seconds = time.perf_counter() - started
        log(f"  generated {name} ({path.stat().st_size / MB:.1f} MB) in {seconds:.1f}s")
        out.append(Generated(name, path, version, path.stat().st_size, digest, rows, seconds))
    return out


# ------------------------------------------------------------------------------------------
# What the harness reads: manifest, stubs, the store's cache, the scenario
# ------------------------------------------------------------------------------------------

STUB = ("-- bench fixture {name}: a {size} byte database, schema version {version}, generated by bench/project.py\n"
        "-- database sha256 {sha256}\n"
        "-- The bench places the database in the harness's fixture cache; this SQL never builds it.\n"
        "SELECT bench_fixture_not_in_cache_run_bench_run_py();\n")


def write_manifest(directory: Path, fixtures: list[Generated], *, stubs: bool = True,
                   tags: tuple[str, ...] = ("legacy",)) -> Path:
    """``manifest.toml`` in ``directory``: stub SQL files (``stubs``) or real SQL dumps."""
    from harness.fixtures import dump

    directory.mkdir(parents=True, exist_ok=True)
    entries = []
    for f in fixtures:
        sql = directory / f"{f.name}.sql"
        if stubs:
            text = STUB.format(name=f.name, size=f.size, version=f.version, sha256=f.sha256)
        else:
            conn = sqlite3.connect(f"file:{f.path}?mode=ro", uri=True)
            try:
                text = dump.dump(conn, header={"fixture": f.name, "schema_version": str(f.version)})
            finally:
                conn.close()
        if not sql.is_file() or sql.read_text(encoding="utf-8") != text:
            sql.write_text(text, encoding="utf-8")
        entries.append(render_entry(name=f.name, file=sql.name, sha256=sha256_file(sql), schema_version=f.version,
                                    history=True, description=f"bench fixture, {f.size} bytes", tags=tags,
                                    journal_mode="delete", rows=f.rows))
    path = directory / "manifest.toml"
    path.write_text("# Written by bench/project.py\n" + "\n".join(entries), encoding="utf-8")
    return path


def place_in_cache(manifest_path: Path, fixtures: list[Generated], cache_dir: Path) -> list[Path]:
    """Put each database where ``FixtureStore.materialise`` looks for it (hard link, else copy)."""
    manifest = manifest_mod.load(manifest_path)
    store = FixtureStore(manifest, cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    placed = []
    for f in fixtures:
        entry = manifest.get(f.name)
        target = cache_dir / f"{entry.name}-{store.key(entry)}.sqlite3"
        if not target.is_file():
            try:
                os.link(f.path, target)
            except OSError:
                shutil.copyfile(f.path, target)
        placed.append(target)
    return placed


def cache_path(manifest_path: Path, name: str, cache_dir: Path) -> Path:
    manifest = manifest_mod.load(manifest_path)
    entry = manifest.get(name)
    return cache_dir / f"{entry.name}-{FixtureStore(manifest, cache_dir).key(entry)}.sqlite3"


def write_scenario(path: Path, migrations: Path, manifest: Path, checks: tuple[str, ...],
                   *, engine: str = "sqlfiles", drill_kinds: tuple[str, ...] = ()) -> Path:
    """A scenario gating the synthetic project: the matrix (sqlfiles) or drills (reference engine)."""
    import json

    q = json.dumps
    lines = ["# Written by bench/project.py", "[suite]", 'name = "bench"', "seed = 1", ""]
    if engine == "sqlfiles":
        lines += ["[engine]", 'adapter = "sqlfiles"', f"directory = {q(str(migrations))}", 'format = "plain"', ""]
    else:  # the reference engine over the same files: it has the open (startup) path drills need
        lines += ["[engine]", 'adapter = "python"', 'target = "harness.reference:ReferenceEngine"',
                  f"options = {{ migrations_dir = {q(str(migrations))} }}", ""]
    lines += ["[fixtures]", f"manifest = {q(str(manifest))}", ""]
    if checks:
        lines += ["[checks.matrix]", 'fixtures = ["tag:legacy"]', f"only = {q(list(checks))}", ""]
    if drill_kinds:
        lines += ["[checks.drills]", 'fixtures = ["tag:legacy"]', f"params = {{ kinds = {q(list(drill_kinds))} }}", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
