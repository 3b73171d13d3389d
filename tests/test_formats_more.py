"""Prisma, Drizzle, Diesel and Atlas directories, read, ordered, wrapped and recorded as each framework does.

tests/data/formats/<framework>/ holds a small project per framework with the same three
migrations (notes, tags with ON DELETE CASCADE, a pinned column), written the framework's way.
History rows are checked against the documented layouts (the frameworks' DDL and writes).
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from gate_helpers import ROOT, query
from harness.checks.history_rules import history_problems
from harness.engines.formats import detect, read_history
from harness.engines.formats.atlas import hash_file, sum_text
from harness.engines.sqlfiles import SqlFilesEngine
from harness.errors import InputError

DATA = Path(__file__).resolve().parent / "data" / "formats"
MIGRATIONS = {"prisma": "prisma/migrations", "drizzle": "drizzle", "diesel": "migrations", "atlas": "migrations"}
FRAMEWORKS = tuple(MIGRATIONS)
STAMPS = (20240101120000, 20240215093000, 20240310080000)
VERSIONS = {"prisma": STAMPS, "diesel": STAMPS, "atlas": STAMPS,
            "drizzle": (1704110400000, 1707989400000, 1710057600000)}
SOURCES = {
    "prisma": ("20240101120000_init/migration.sql", "20240215093000_add_tags/migration.sql",
               "20240310080000_pinned/migration.sql"),
    "drizzle": ("0000_init.sql", "0001_add_tags.sql", "0002_pinned.sql"),
    "diesel": ("2024-01-01-120000_init/up.sql", "2024-02-15-093000_add_tags/up.sql",
               "2024-03-10-080000_pinned/up.sql"),
    "atlas": ("20240101120000_init.sql", "20240215093000_add_tags.sql", "20240310080000_pinned.sql"),
}
HISTORY_COLUMNS = {
    "prisma": ["id", "checksum", "finished_at", "migration_name", "logs", "rolled_back_at", "started_at",
               "applied_steps_count"],
    "drizzle": ["id", "hash", "created_at"],
    "diesel": ["version", "run_on"],
    "atlas": ["version", "description", "type", "applied", "total", "executed_at", "execution_time", "error",
              "error_stmt", "hash", "partial_hashes", "operator_version"],
}
TABLES = {"prisma": "_prisma_migrations", "drizzle": "__drizzle_migrations", "diesel": "__diesel_schema_migrations",
          "atlas": "atlas_schema_revisions"}


def copy_of(tmp_path: Path, framework: str) -> Path:
    shutil.copytree(DATA / framework, tmp_path / framework)
    return tmp_path / framework / MIGRATIONS[framework]


def migrated(tmp_path: Path, framework: str, **kwargs: object) -> tuple[Path, Path]:
    directory = copy_of(tmp_path, framework)
    db = tmp_path / "app.db"
    outcome = SqlFilesEngine(directory, "auto", **kwargs).migrate(db)  # type: ignore[arg-type]
    assert outcome.ok, outcome.message
    return directory, db


def execute(db: Path, *statements: str) -> None:
    conn = sqlite3.connect(db)
    try:
        for statement in statements:
            conn.execute(statement)
        conn.commit()
    finally:
        conn.close()


def in_transaction_probe(conn: sqlite3.Connection) -> None:
    conn.create_function("in_tx", 0, lambda: int(conn.in_transaction))


# -- read and ordered -----------------------------------------------------------------------------


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_detected_and_ordered_as_the_framework_orders_them(framework: str) -> None:
    directory = DATA / framework / MIGRATIONS[framework]
    assert detect(directory) == framework
    engine = SqlFilesEngine(directory, "auto")
    assert engine.format == framework
    migrations = engine.migrations()
    assert tuple(m.version for m in migrations) == VERSIONS[framework]
    assert tuple((m.source or "").split("/", 1)[1] for m in migrations) == SOURCES[framework]
    assert "ALTER TABLE" in (migrations[2].sql or "") or "new_notes" in (migrations[2].sql or "")


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_fresh_install_writes_the_documented_history_table(tmp_path: Path, framework: str) -> None:
    directory, db = migrated(tmp_path, framework)
    assert [r[1] for r in query(db, "PRAGMA table_info(notes)")] == ["id", "body", "created_at", "pinned"]
    names = {n for (n,) in query(db, "SELECT name FROM sqlite_master")}
    assert {"tags", "idx_notes_created", "idx_tags_note", "idx_notes_pinned", TABLES[framework]} <= names
    assert [r[1] for r in query(db, f"PRAGMA table_info({TABLES[framework]})")] == HISTORY_COLUMNS[framework]
    files = [directory / s for s in SOURCES[framework]]
    if framework == "prisma":
        rows = query(db, "SELECT id, checksum, typeof(finished_at), migration_name, logs, rolled_back_at, "
                         "typeof(started_at), applied_steps_count FROM _prisma_migrations ORDER BY started_at, rowid")
        assert [r[3] for r in rows] == [f.parent.name for f in files]
        assert [r[1] for r in rows] == [hashlib.sha256(f.read_bytes()).hexdigest() for f in files]
        assert all(uuid.UUID(r[0]).version == 4 for r in rows)
        assert {(r[2], r[4], r[5], r[6], r[7]) for r in rows} == {("integer", None, None, "integer", 1)}
    elif framework == "drizzle":
        rows = query(db, "SELECT id, hash, created_at FROM __drizzle_migrations ORDER BY rowid")
        assert rows == [(None, hashlib.sha256(f.read_bytes()).hexdigest(), w)
                        for f, w in zip(files, VERSIONS["drizzle"])]
    elif framework == "diesel":
        rows = query(db, "SELECT version, typeof(version), run_on IS NOT NULL FROM __diesel_schema_migrations "
                         "ORDER BY rowid")
        assert rows == [(str(v), "text", 1) for v in STAMPS]
    else:
        rows = query(db, "SELECT version, description, type, applied, total, error, hash FROM "
                         "atlas_schema_revisions ORDER BY rowid")
        hashes = dict(hash_file(sorted((p.name, p.read_bytes()) for p in directory.glob("*.sql"))))
        assert rows == [(str(v), d, 2, t, t, None, hashes[f.name])
                        for v, d, t, f in zip(STAMPS, ("init", "add_tags", "pinned"), (2, 2, 4), files)]
    found = read_history(sqlite3.connect(db))
    assert (found.format, found.table) == (framework, TABLES[framework])
    assert history_problems(found, SqlFilesEngine(directory, framework).migrations(), complete=True) == []


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_second_migrate_changes_nothing_and_steps_reach_the_same_history(tmp_path: Path, framework: str) -> None:
    directory, db = migrated(tmp_path, framework)
    before = db.read_bytes()
    engine = SqlFilesEngine(directory, "auto")
    assert engine.migrate(db).message == "nothing to apply" and db.read_bytes() == before
    stepped = tmp_path / "stepped.db"
    for migration in engine.migrations():
        assert engine.migrate(stepped, migration.version).ok
    table = TABLES[framework]
    key = {"prisma": "migration_name", "drizzle": "created_at", "diesel": "version", "atlas": "version"}[framework]
    assert query(stepped, f"SELECT {key} FROM {table} ORDER BY rowid") == query(
        db, f"SELECT {key} FROM {table} ORDER BY rowid")


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_hole_in_the_history_is_a_gap(tmp_path: Path, framework: str) -> None:
    directory, db = migrated(tmp_path, framework)
    key = {"prisma": "migration_name LIKE '20240215%'", "drizzle": "created_at = 1707989400000",
           "diesel": "version = '20240215093000'", "atlas": "version = '20240215093000'"}[framework]
    execute(db, f"DELETE FROM {TABLES[framework]} WHERE {key}")
    before = db.read_bytes()
    outcome = SqlFilesEngine(directory, framework).migrate(db)
    assert (outcome.ok, outcome.error_code) == (False, "migration_gap") and db.read_bytes() == before


@pytest.mark.parametrize("framework, refused", [("prisma", True), ("atlas", True), ("drizzle", False),
                                                ("diesel", False)])
def test_an_edited_file_is_refused_where_the_framework_checks_it(tmp_path: Path, framework: str,
                                                                 refused: bool) -> None:
    directory, db = migrated(tmp_path, framework)
    path = directory / SOURCES[framework][1]
    path.write_text(path.read_text().replace("label", "label_text"))
    if framework == "atlas":  # Atlas refuses the directory itself until atlas.sum is rehashed
        with pytest.raises(InputError, match="atlas.sum.*checksum mismatch: 20240215093000_add_tags.sql"):
            SqlFilesEngine(directory, framework)
        (directory / "atlas.sum").write_text(sum_text(sorted((p.name, p.read_bytes())
                                                             for p in directory.glob("*.sql"))))
    outcome = SqlFilesEngine(directory, framework).migrate(db)
    if refused:  # the recorded hash of that file (and, for Atlas, every later one) no longer matches
        assert (outcome.ok, outcome.error_code) == (False, "migration_checksum_mismatch"), outcome.message
        assert SOURCES[framework][1] in outcome.message
    else:  # Drizzle records a hash it never compares; Diesel records none
        assert outcome.ok and outcome.message == "nothing to apply"


# -- wrapped as the framework wraps them ---------------------------------------------------------

PROBE = "CREATE TABLE probe AS SELECT in_tx() AS wrapped;\n"


def probe(tmp_path: Path, framework: str, files: dict[str, str]) -> int:
    directory = tmp_path / "migrations"
    for name, text in files.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(text)
    if framework == "atlas":
        (directory / "atlas.sum").write_text(sum_text(sorted((p.name, p.read_bytes()) for p in directory.glob("*.sql"))))
    db = tmp_path / "app.db"
    outcome = SqlFilesEngine(directory, framework, setup=in_transaction_probe).migrate(db)
    assert outcome.ok, outcome.message
    return query(db, "SELECT wrapped FROM probe")[0][0]


JOURNAL = '{"version": "7", "dialect": "sqlite", "entries": [%s]}'


@pytest.mark.parametrize("framework, files, wrapped", [
    ("prisma", {"20240101120000_p/migration.sql": PROBE}, 0),
    ("drizzle", {"0000_p.sql": PROBE, "meta/_journal.json": JOURNAL % '{"idx": 0, "when": 1, "tag": "0000_p"}'}, 1),
    ("diesel", {"2024-01-01-000000_p/up.sql": PROBE}, 1),
    ("diesel", {"2024-01-01-000000_p/up.sql": PROBE, "2024-01-01-000000_p/metadata.toml":
                "run_in_transaction = false\n"}, 0),
    ("diesel", {"2024-01-01-000000_p/up.sql": PROBE, "2024-01-01-000000_p/metadata.toml": "# no key\n"}, 0),
    ("atlas", {"1_p.sql": PROBE}, 1),
    ("atlas", {"1_p.sql": "-- atlas:txmode none\n\n" + PROBE}, 0),
])
def test_each_file_is_wrapped_exactly_when_its_framework_wraps_it(tmp_path: Path, framework: str,
                                                                  files: dict[str, str], wrapped: int) -> None:
    assert probe(tmp_path, framework, files) == wrapped


def test_drizzle_runs_every_pending_file_in_one_transaction(tmp_path: Path) -> None:
    directory = copy_of(tmp_path, "drizzle")
    (directory / "0003_broken.sql").write_text("CREATE TABLE fine (x);\n--> statement-breakpoint\n"
                                               "INSERT INTO nowhere VALUES (1);\n")
    journal = directory / "meta" / "_journal.json"
    journal.write_text(journal.read_text().replace(
        '"tag": "0002_pinned", "breakpoints": true}',
        '"tag": "0002_pinned", "breakpoints": true},\n    {"idx": 3, "when": 1710100000000, "tag": "0003_broken"}'))
    db = tmp_path / "app.db"
    outcome = SqlFilesEngine(directory, "drizzle").migrate(db)
    assert (outcome.ok, outcome.error_code) == (False, "migration_failed")
    assert "0003_broken.sql line 3" in outcome.message and "rolled back" in outcome.message
    # the table is created before BEGIN; the batch's three good files are rolled back with the bad one
    assert query(db, "SELECT name FROM sqlite_master WHERE type = 'table'") == [("__drizzle_migrations",)]


def test_drizzle_foreign_keys_off_is_a_no_op_inside_its_batch(tmp_path: Path) -> None:
    """drizzle-kit's rebuild: foreign_keys=OFF inside the batch transaction does nothing, so
    DROP TABLE cascades into tags (drizzle-orm #1813, #4640): the harness reproduces it."""
    directory = copy_of(tmp_path, "drizzle")
    engine = SqlFilesEngine(directory, "drizzle")
    db = tmp_path / "app.db"
    assert engine.migrate(db, target=VERSIONS["drizzle"][1]).ok
    execute(db, "INSERT INTO notes VALUES (1, 'a', '2024')", "INSERT INTO tags VALUES (1, 1, 'x')")
    (directory / "0002_pinned.sql").write_text(
        "PRAGMA foreign_keys=OFF;--> statement-breakpoint\n"
        "CREATE TABLE `__new_notes` (`id` integer PRIMARY KEY NOT NULL, `body` text NOT NULL, "
        "`created_at` text NOT NULL, `pinned` integer DEFAULT 0 NOT NULL);--> statement-breakpoint\n"
        "INSERT INTO `__new_notes`(\"id\", \"body\", \"created_at\") SELECT \"id\", \"body\", \"created_at\" "
        "FROM `notes`;--> statement-breakpoint\n"
        "DROP TABLE `notes`;--> statement-breakpoint\n"
        "ALTER TABLE `__new_notes` RENAME TO `notes`;--> statement-breakpoint\n"
        "PRAGMA foreign_keys=ON;\n")
    assert SqlFilesEngine(directory, "drizzle").migrate(db).ok
    assert query(db, "SELECT count(*) FROM notes") == [(1,)]
    assert query(db, "SELECT count(*) FROM tags") == [(0,)]  # the cascade the framework lets through


def test_drizzle_refuses_a_chunk_with_two_statements(tmp_path: Path) -> None:
    directory = copy_of(tmp_path, "drizzle")
    (directory / "0001_add_tags.sql").write_text("CREATE TABLE a(x);\nCREATE TABLE b(x);\n")
    with pytest.raises(InputError, match="0001_add_tags.sql:2: a chunk between statement breakpoints holds 2"):
        SqlFilesEngine(directory, "drizzle")
    (directory / "meta" / "_journal.json").write_text(JOURNAL % '{"idx": 0, "when": 1, "tag": "0009_gone"}')
    with pytest.raises(InputError, match="No file 0009_gone.sql found"):
        SqlFilesEngine(directory, "drizzle")


def test_prisma_runs_its_rebuild_unwrapped_so_tags_keep_their_rows(tmp_path: Path) -> None:
    directory = copy_of(tmp_path, "prisma")
    engine = SqlFilesEngine(directory, "prisma")
    db = tmp_path / "app.db"
    assert engine.migrate(db, target=STAMPS[1]).ok
    execute(db, "INSERT INTO notes VALUES (1, 'a', '2024')", "INSERT INTO tags VALUES (1, 1, 'x')")
    assert engine.migrate(db).ok
    assert query(db, "SELECT count(*) FROM tags") == [(1,)]  # foreign_keys=OFF took effect: no cascade


def test_prisma_records_a_failed_migration_and_then_refuses(tmp_path: Path) -> None:
    directory = copy_of(tmp_path, "prisma")
    (directory / "20240401000000_broken").mkdir()
    (directory / "20240401000000_broken" / "migration.sql").write_text("CREATE TABLE t(x);\nINSERT INTO nowhere "
                                                                        "VALUES (1);\n")
    engine = SqlFilesEngine(directory, "prisma")
    db = tmp_path / "app.db"
    outcome = engine.migrate(db)
    assert not outcome.ok and "20240401000000_broken/migration.sql line 2" in outcome.message
    assert query(db, "SELECT finished_at, logs LIKE '%no such table: nowhere%', applied_steps_count FROM "
                     "_prisma_migrations WHERE migration_name = '20240401000000_broken'") == [(None, 1, 0)]
    assert query(db, "SELECT count(*) FROM sqlite_master WHERE name = 't'") == [(1,)]  # no transaction
    again = engine.migrate(db)
    assert (again.ok, again.error_code) == (False, "migration_dirty")


def test_atlas_checks_foreign_keys_before_commit_with_them_off_inside(tmp_path: Path) -> None:
    directory = copy_of(tmp_path, "atlas")
    engine = SqlFilesEngine(directory, "atlas")
    db = tmp_path / "app.db"
    assert engine.migrate(db, target=STAMPS[1]).ok
    execute(db, "INSERT INTO notes VALUES (1, 'a', '2024')", "INSERT INTO tags VALUES (1, 1, 'x')")
    (directory / "20240310080000_pinned.sql").write_text(  # a rebuild that forgets to copy the rows
        "CREATE TABLE `new_notes` (`id` integer NOT NULL, `body` text NOT NULL, `created_at` text NOT NULL, "
        "`pinned` integer NOT NULL DEFAULT 0, PRIMARY KEY (`id`));\n"
        "DROP TABLE `notes`;\nALTER TABLE `new_notes` RENAME TO `notes`;\n")
    (directory / "atlas.sum").write_text(sum_text(sorted((p.name, p.read_bytes()) for p in directory.glob("*.sql"))))
    outcome = SqlFilesEngine(directory, "atlas").migrate(db)
    assert (outcome.ok, outcome.error_code) == (False, "migration_failed")
    assert "foreign key mismatch" in outcome.message
    # foreign keys were off inside the transaction: no cascade; the check rolled the file back
    assert query(db, "SELECT count(*) FROM tags") == [(1,)]
    assert query(db, "SELECT count(*) FROM atlas_schema_revisions") == [(2,)]


def test_atlas_refuses_a_directory_without_its_sum_file(tmp_path: Path) -> None:
    directory = copy_of(tmp_path, "atlas")
    (directory / "atlas.sum").write_text("h1:x\n")
    with pytest.raises(InputError, match="checksum mismatch"):
        SqlFilesEngine(directory, "atlas")
    (directory / "atlas.sum").unlink()
    with pytest.raises(InputError, match="checksum file not found"):
        SqlFilesEngine(directory, "atlas")


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_harness_migrations_gates_each_directory(tmp_path: Path, framework: str) -> None:
    run = subprocess.run([sys.executable, "-m", "harness", "migrations", str(DATA / framework / MIGRATIONS[framework]),
                          "--workdir", str(tmp_path / "work")], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"({framework} format)" in run.stdout
