"""The sqlfiles adapter: discovery, continuity, atomic files, unwrapped files, the setup hook."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import pytest

from harness.engines.loader import load_engine
from harness.engines.protocol import FAULT_KILL_AFTER_COMMIT, Diagnostics, Fault, Outcome
from harness.engines.sqlfile_formats import discover
from harness.engines.sqlfiles import SqlFilesEngine, continuity
from harness.errors import InputError
from harness.scenario import EngineSpec


def make_dir(root: Path, files: dict[str, str]) -> Path:
    directory = root / "migrations"
    directory.mkdir(exist_ok=True)
    for name, sql in files.items():
        (directory / name).write_text(sql)
    return directory


def history(db: Path) -> list[int]:
    with sqlite3.connect(db) as conn:
        return [v for (v,) in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]


def tables(db: Path) -> set[str]:
    conn = sqlite3.connect(db)
    try:
        return {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')")}
    finally:
        conn.close()


THREE = {
    "1_a.sql": "CREATE TABLE a(x);\n",
    "2_b.sql": "CREATE TABLE b(x);\n",
    "10_c.sql": "ALTER TABLE b ADD COLUMN y;\n",  # needs 2 first: a text sort would run it before
    "README.md": "not a migration",
}


# -- discovery ------------------------------------------------------------------------------


def test_numeric_order_and_ignored_files(tmp_path: Path) -> None:
    directory = make_dir(tmp_path, THREE)
    engine = SqlFilesEngine(directory)
    assert [m.version for m in engine.migrations()] == [1, 2, 10]
    assert [m.name for m in engine.migrations()] == ["a", "b", "c"]
    assert [p.name for p in engine.ignored] == ["README.md"]
    db = tmp_path / "app.db"
    assert engine.migrate(db).ok
    assert history(db) == [1, 2, 10]


def test_checksum_is_sha256_of_the_bytes(tmp_path: Path) -> None:
    directory = make_dir(tmp_path, {"0001_init.sql": "CREATE TABLE a(x);\r\n"})
    (migration,) = discover(directory).files
    assert migration.checksum == hashlib.sha256(b"CREATE TABLE a(x);\r\n").hexdigest()
    assert (migration.version, migration.name) == (1, "init")


def test_duplicate_versions_name_both_files(tmp_path: Path) -> None:
    directory = make_dir(tmp_path, {"0001_init.sql": "", "1_again.sql": "", "2_ok.sql": ""})
    with pytest.raises(InputError) as err:
        SqlFilesEngine(directory)
    assert "0001_init.sql" in str(err.value) and "1_again.sql" in str(err.value)


# -- continuity -------------------------------------------------------------------------------


@pytest.fixture
def migrated(tmp_path: Path) -> tuple[Path, Path]:
    directory = make_dir(tmp_path, THREE)
    db = tmp_path / "app.db"
    assert SqlFilesEngine(directory).migrate(db).ok
    return directory, db


def _assert_refused_untouched(directory: Path, db: Path, code: str) -> None:
    before = db.read_bytes()
    siblings = sorted(p.name for p in db.parent.iterdir())
    engine = SqlFilesEngine(directory)
    outcome = engine.migrate(db)
    assert (outcome.ok, outcome.error_code) == (False, code)
    assert db.read_bytes() == before
    assert sorted(p.name for p in db.parent.iterdir()) == siblings
    report = engine.diagnostics(db)
    assert isinstance(report, Diagnostics) and report.continuity == code


def test_an_edited_file_is_a_checksum_mismatch(migrated: tuple[Path, Path]) -> None:
    directory, db = migrated
    (directory / "2_b.sql").write_text("CREATE TABLE b(x, z);\n")
    _assert_refused_untouched(directory, db, "migration_checksum_mismatch")


def test_an_applied_version_without_a_file_is_unknown(migrated: tuple[Path, Path]) -> None:
    directory, db = migrated
    (directory / "10_c.sql").unlink()
    _assert_refused_untouched(directory, db, "migration_unknown_version")


def test_a_hole_in_the_history_is_a_gap(migrated: tuple[Path, Path]) -> None:
    directory, db = migrated
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM schema_migrations WHERE version = 2")
    _assert_refused_untouched(directory, db, "migration_gap")


def test_validation_leaves_a_wal_database_untouched(migrated: tuple[Path, Path]) -> None:
    directory, db = migrated
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    (directory / "2_b.sql").write_text("CREATE TABLE b(x, z);\n")
    _assert_refused_untouched(directory, db, "migration_checksum_mismatch")


# -- applying ---------------------------------------------------------------------------------


def test_a_failing_statement_rolls_back_its_whole_file(tmp_path: Path) -> None:
    directory = make_dir(tmp_path, {
        "1_a.sql": "CREATE TABLE a(x);\n",
        "2_b.sql": (
            "CREATE TABLE b(x);\n"
            "CREATE TRIGGER b_log AFTER INSERT ON b BEGIN\n"
            "  INSERT INTO a VALUES (new.x);\n"
            "END;\n"
            "INSERT INTO b VALUES (1);\n"
            "-- the next statement fails\n"
            "INSERT INTO nowhere VALUES (2);\n"
        ),
    })
    db = tmp_path / "app.db"
    outcome = SqlFilesEngine(directory).migrate(db)
    assert (outcome.ok, outcome.error_code) == (False, "migration_failed")
    assert "2_b.sql line 7" in outcome.message and "nowhere" in outcome.message
    assert tables(db) == {"a", "schema_migrations"}
    assert history(db) == [1]
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM a").fetchone() == (0,)


def test_target_stops_at_a_version(tmp_path: Path) -> None:
    engine = SqlFilesEngine(make_dir(tmp_path, THREE))
    db = tmp_path / "app.db"
    assert engine.migrate(db, target=2).ok
    assert history(db) == [1, 2]
    report = engine.diagnostics(db)
    assert report == Diagnostics(2, 2, 3, "ok", "ok", 0)
    assert engine.migrate(db).ok and history(db) == [1, 2, 10]


def enable_foreign_keys(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA foreign_keys=ON")


def test_a_file_with_its_own_transaction_and_pragmas_runs_unwrapped(tmp_path: Path) -> None:
    directory = make_dir(tmp_path, {
        "1_init.sql": (
            "CREATE TABLE parent(id INTEGER PRIMARY KEY);\n"
            "CREATE TABLE child(id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id));\n"
            "INSERT INTO parent VALUES (1);\n"
            "INSERT INTO child VALUES (1, 1);\n"
        ),
        # The documented table rebuild: with foreign keys on (the setup hook), DROP TABLE
        # parent fails unless PRAGMA foreign_keys=OFF took effect, which it only does
        # outside a transaction; and the file's own BEGIN cannot nest in a wrapping one.
        "2_rebuild.sql": (
            "PRAGMA foreign_keys=OFF;\n"
            "BEGIN;\n"
            "CREATE TABLE parent_new(id INTEGER PRIMARY KEY, label TEXT NOT NULL DEFAULT '');\n"
            "INSERT INTO parent_new(id) SELECT id FROM parent;\n"
            "DROP TABLE parent;\n"
            "ALTER TABLE parent_new RENAME TO parent;\n"
            "PRAGMA foreign_key_check;\n"
            "COMMIT;\n"
            "PRAGMA foreign_keys=ON;\n"
        ),
    })
    db = tmp_path / "app.db"
    engine = SqlFilesEngine(directory, setup=enable_foreign_keys)
    outcome = engine.migrate(db)
    assert outcome.ok, outcome.message
    assert history(db) == [1, 2]
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT id, label FROM parent").fetchall() == [(1, "")]
    report = engine.diagnostics(db)
    assert isinstance(report, Diagnostics) and report.clean


def test_a_file_that_leaves_its_transaction_open_fails(tmp_path: Path) -> None:
    directory = make_dir(tmp_path, {"1_a.sql": "BEGIN;\nCREATE TABLE a(x);\n"})
    db = tmp_path / "app.db"
    outcome = SqlFilesEngine(directory).migrate(db)
    assert outcome.error_code == "migration_failed" and "1_a.sql" in outcome.message
    assert tables(db) == set()


def test_setup_hook_registers_a_function_a_migration_calls(tmp_path: Path) -> None:
    make_dir(tmp_path, {"1_values.sql": "CREATE TABLE t AS SELECT double_it(21) AS v;\n"})
    (tmp_path / "hooks").mkdir()
    (tmp_path / "hooks" / "app_functions.py").write_text(
        "def register(conn):\n"
        "    conn.create_function('double_it', 1, lambda v: v * 2, deterministic=True)\n")
    scenario = tmp_path / "scenario.toml"
    with_hook = load_engine(EngineSpec("sqlfiles", 2, directory=Path("migrations"),
                                       setup="hooks/app_functions.py:register"), scenario)
    without = load_engine(EngineSpec("sqlfiles", 2, directory=Path("migrations")), scenario)
    failed = without.migrate(tmp_path / "plain.db")
    assert failed.error_code == "migration_failed" and "double_it" in failed.message
    db = tmp_path / "app.db"
    assert with_hook.migrate(db).ok
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT v FROM t").fetchone() == (42,)


def test_a_failing_setup_hook_is_an_outcome(tmp_path: Path) -> None:
    def broken(conn: sqlite3.Connection) -> None:
        raise RuntimeError("extension missing")

    outcome = SqlFilesEngine(make_dir(tmp_path, THREE), setup=broken).migrate(tmp_path / "app.db")
    assert not outcome.ok and "extension missing" in outcome.message


def test_diagnostics_of_a_missing_database_is_a_failed_outcome(tmp_path: Path) -> None:
    engine = SqlFilesEngine(make_dir(tmp_path, THREE))
    report = engine.diagnostics(tmp_path / "missing.db")
    assert isinstance(report, Outcome) and not report.ok
    assert not (tmp_path / "missing.db").exists()


# -- loader -----------------------------------------------------------------------------------


def test_loader_names_and_validates(tmp_path: Path) -> None:
    make_dir(tmp_path, THREE)
    scenario = tmp_path / "scenario.toml"
    engine = load_engine(EngineSpec("sqlfiles", 2, directory=tmp_path / "migrations"), scenario)
    assert engine.name == "migrations" and engine.operations == {"migrate", "diagnostics", "crash"}
    with pytest.raises(InputError, match="engine.format"):
        load_engine(EngineSpec("sqlfiles", 2, directory=tmp_path / "migrations", format="flyway"), scenario)
    with pytest.raises(InputError, match="engine.directory"):
        load_engine(EngineSpec("sqlfiles", 2, directory=tmp_path / "nope"), scenario)
    with pytest.raises(InputError, match="engine.setup"):
        load_engine(EngineSpec("sqlfiles", 2, directory=tmp_path / "migrations", setup="hooks.py:x"),
                    scenario)


# -- formats, sources, hooks ------------------------------------------------------------------

FORMATS_DATA = Path(__file__).resolve().parent / "data" / "formats"


def test_migrations_carry_the_source_relative_to_the_directorys_parent_and_the_up_sql() -> None:
    engine = SqlFilesEngine(FORMATS_DATA / "goose" / "migrations", "goose")
    first = engine.migrations()[0]
    assert first.source == "migrations/1_init.sql"
    assert first.sql is not None and "CREATE TABLE notes" in first.sql and "DROP TABLE" not in first.sql
    plain = SqlFilesEngine(FORMATS_DATA.parent / "sqlfiles_plain")
    assert [m.source for m in plain.migrations()] == [
        "sqlfiles_plain/0001_init.sql", "sqlfiles_plain/0002_tags.sql", "sqlfiles_plain/0010_pinned.sql"]


def test_the_loader_detects_the_format(tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.toml"
    for framework in ("refinery", "sqlx", "goose", "dbmate", "golang-migrate", "flyway"):
        engine = load_engine(EngineSpec("sqlfiles", 2, directory=FORMATS_DATA / framework / "migrations"), scenario)
        assert isinstance(engine, SqlFilesEngine) and engine.format == framework
        assert engine.history_format == framework
    plain = load_engine(EngineSpec("sqlfiles", 2, directory=FORMATS_DATA / "plain" / "migrations"), scenario)
    assert isinstance(plain, SqlFilesEngine) and (plain.format, plain.history_format) == ("plain", "plain")


def test_unknown_and_mismatched_formats_are_input_errors(tmp_path: Path) -> None:
    directory = make_dir(tmp_path, THREE)
    with pytest.raises(InputError, match="unknown migration file format 'liquibase'"):
        SqlFilesEngine(directory, "liquibase")
    with pytest.raises(InputError, match=r"no refinery migrations here: 3 \.sql file\(s\)") as err:
        SqlFilesEngine(directory, "refinery")
    assert err.value.key == "engine.format"
    with pytest.raises(InputError, match=r"1_a\.sql.*goose cannot parse it"):  # named like goose's, no markers
        SqlFilesEngine(directory, "goose")


def test_the_setup_hook_sees_every_connection_including_read_only_ones(tmp_path: Path) -> None:
    calls: list[bool] = []

    def hook(conn: sqlite3.Connection) -> None:
        read_only = conn.execute("PRAGMA query_only").fetchone() == (0,) and _read_only(conn)
        calls.append(read_only)

    engine = SqlFilesEngine(make_dir(tmp_path, THREE), setup=hook)
    db = tmp_path / "app.db"
    assert engine.migrate(db).ok  # a new database: no read-only look first
    assert calls == [False]
    assert engine.migrate(db).ok  # read-only validation, nothing to apply
    assert isinstance(engine.diagnostics(db), Diagnostics)
    assert calls == [False, True, True]


def _read_only(conn: sqlite3.Connection) -> bool:
    try:
        conn.execute("CREATE TEMP TABLE _probe(x)")  # temp tables are writable on a read-only file
        conn.execute("CREATE TABLE main._probe(x)")
    except sqlite3.OperationalError as exc:
        return "readonly" in str(exc)
    conn.execute("DROP TABLE main._probe")
    return False


def test_continuity_accepts_version_checksum_pairs(tmp_path: Path) -> None:
    files = discover(make_dir(tmp_path, THREE)).files
    assert continuity([(1, files[0].checksum), (2, files[1].checksum)], files) is None
    assert continuity([(1, files[0].checksum), (10, files[2].checksum)], files)[0] == "migration_gap"
    assert continuity([(3, "x")], files)[0] == "migration_unknown_version"
    assert continuity([(1, "x")], files)[0] == "migration_checksum_mismatch"


def test_the_engine_supports_in_process_faults(tmp_path: Path) -> None:
    engine = SqlFilesEngine(make_dir(tmp_path, THREE))
    if not hasattr(os, "fork"):
        pytest.skip("no os.fork")
    counted = engine.count_points(tmp_path / "count.db", None, FAULT_KILL_AFTER_COMMIT)
    assert counted.outcome.ok and counted.points == 3  # one commit per file, each with its history row
    run = engine.migrate_with_fault(tmp_path / "crash.db", None, Fault(FAULT_KILL_AFTER_COMMIT, 2))
    assert run.crashed and history(tmp_path / "crash.db") == [1, 2]
