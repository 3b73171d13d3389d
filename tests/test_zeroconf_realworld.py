"""`harness migrations DIR` on the patterns real projects' migrations hold.

Each directory under tests/data/zeroconf/<case> is a small, purpose-written migration set
with one pattern found in open-source projects' SQLite migrations: a table rebuild that
loses rows, a framework that wraps a file whose PRAGMA then does nothing, renames, columns
left out of a rebuild on purpose, a column whose type (and so storage class) changes, new
random ids, a CHECK that calls a function that raises, a function the application
registers. The first two are bugs the gate must catch; the others are false alarms it must
not raise.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from gate_helpers import ROOT, query
from harness.checks.preservation import compare, declared_mutations
from harness.engines.formats import detect
from harness.engines.sqlfiles import SqlFilesEngine
from harness.fixtures.store import CACHE_ENV

DATA = Path(__file__).resolve().parent / "data" / "zeroconf"


def migrations(tmp_path: Path, directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, CACHE_ENV: str(tmp_path / "cache")}  # a fixture cached by another run proves nothing
    env.pop("HARNESS_DBMATE", None)  # the formats' emulation is under test, not a dbmate binary
    return subprocess.run([sys.executable, "-m", "harness", "migrations", str(directory), "--workdir",
                           str(tmp_path / "work"), "--reports", str(tmp_path / "reports"), *args], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env=env)


def failed_lines(run: subprocess.CompletedProcess[str]) -> list[str]:
    """The root-cause lines of the gate's summary that fail it."""
    return [line.strip() for line in run.stdout.splitlines() if line.strip().startswith(("FAILED   ", "ERRORED  "))]


def make(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


# -- missed bugs ---------------------------------------------------------------------------------


def test_a_rebuild_that_loses_rows_through_a_join_fails_data_preserved(tmp_path: Path) -> None:
    run = migrations(tmp_path, DATA / "rebuild_inner_join")
    assert run.returncode == 1, run.stdout + run.stderr
    assert failed_lines(run) == [
        "FAILED   rebuild_inner_join/0002_posts_need_an_author.sql line 4: rows of posts not carried over by "
        "`INSERT INTO posts_new (id, author_name, body) SELECT posts.…` before `DROP TABLE posts` "
        "\u2014 matrix::data-preserved at v1 (1 case)"], run.stdout


def test_a_table_dropped_and_recreated_is_not_declared_dropped() -> None:
    rebuild = declared_mutations(["CREATE TABLE t_new (id INTEGER PRIMARY KEY);",
                                  "INSERT INTO t_new SELECT id FROM t; DROP TABLE t;",
                                  "ALTER TABLE t_new RENAME TO t;"])
    assert not rebuild.table("t")
    recreated = declared_mutations(["DROP TABLE t;", "CREATE TABLE t (id INTEGER PRIMARY KEY);"])
    assert not recreated.table("t")
    dropped = declared_mutations(["DROP TABLE IF EXISTS t;", "CREATE TABLE u (x);"])
    assert dropped.table("t")
    deleted = declared_mutations(["DELETE FROM t WHERE x IS NULL;", "DROP TABLE t;", "CREATE TABLE t (x);"])
    assert deleted.table("t")
    dropped_again = declared_mutations(["DROP TABLE t;", "CREATE TABLE t (x);", "DROP TABLE t;"])
    assert dropped_again.table("t")


def test_goose_wraps_the_file_so_its_pragma_is_a_no_op_and_the_cascade_deletes_children(tmp_path: Path) -> None:
    run = migrations(tmp_path, DATA / "goose_fk_rebuild")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "(goose format)" in run.stdout
    failed = failed_lines(run)
    assert failed == [  # the DROP's line in the file (line 6 of the up section)
        "FAILED   goose_fk_rebuild/0002_parent_created_at.sql line 7: rows of child deleted by `DROP TABLE parent` "
        "(ON DELETE CASCADE from child.parent_id, foreign_keys on) \u2014 matrix::data-preserved at v1 (1 case)"], \
        run.stdout
    assert any(line.strip().startswith("WARNED   goose_fk_rebuild/0002_parent_created_at.sql:4")
               and "lint::pragma-in-transaction (1 case)" in line for line in run.stdout.splitlines()), run.stdout
    scenario = (tmp_path / "work" / "scenario.toml").read_text()
    assert "foreign_keys = true" in scenario and "params = { wrapped = true }" in scenario


def test_with_foreign_keys_off_the_same_goose_file_keeps_the_children(tmp_path: Path) -> None:
    run = migrations(tmp_path, DATA / "goose_fk_rebuild", "--foreign-keys", "off")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "foreign_keys = false" in (tmp_path / "work" / "scenario.toml").read_text()


WRAPPING = {  # framework: a file with its own BEGIN/COMMIT and no opt-out marker
    "goose": ("1_own_tx.sql", "-- +goose Up\nBEGIN;\nCREATE TABLE t (x);\nCOMMIT;\n-- +goose Down\n"),
    "sqlx": ("1_own_tx.sql", "BEGIN;\nCREATE TABLE t (x);\nCOMMIT;\n"),
    "dbmate": ("1_own_tx.sql", "-- migrate:up\nBEGIN;\nCREATE TABLE t (x);\nCOMMIT;\n-- migrate:down\n"),
    "refinery": ("V1__own_tx.sql", "BEGIN;\nCREATE TABLE t (x);\nCOMMIT;\n"),
    "flyway": ("V1__own_tx.sql", "BEGIN;\nCREATE TABLE t (x);\nCOMMIT;\n"),
}


@pytest.mark.parametrize("framework", sorted(WRAPPING))
def test_a_wrapping_framework_fails_on_a_files_own_begin(tmp_path: Path, framework: str) -> None:
    name, text = WRAPPING[framework]
    directory = make(tmp_path / "migrations", {name: text})
    outcome = SqlFilesEngine(directory, framework).migrate(tmp_path / "app.db")
    assert not outcome.ok
    assert "cannot start a transaction within a transaction" in outcome.message


PRAGMA_FILE = {  # framework: (file, text) turning foreign keys off, then recording what is in force
    "goose": ("1_fk.sql", "-- +goose Up\nPRAGMA foreign_keys = OFF;\nCREATE TABLE probe AS SELECT foreign_keys AS fk "
                          "FROM pragma_foreign_keys;\n-- +goose Down\n"),
    "sqlx": ("1_fk.sql", "PRAGMA foreign_keys = OFF;\nCREATE TABLE probe AS SELECT foreign_keys AS fk "
                         "FROM pragma_foreign_keys;\n"),
    "plain": ("1_fk.sql", "PRAGMA foreign_keys = OFF;\nCREATE TABLE probe AS SELECT foreign_keys AS fk "
                          "FROM pragma_foreign_keys;\n"),
}


@pytest.mark.parametrize(("framework", "in_force"), [("goose", 1), ("sqlx", 1), ("plain", 0)])
def test_pragma_foreign_keys_takes_effect_only_where_the_file_runs_unwrapped(tmp_path: Path, framework: str,
                                                                             in_force: int) -> None:
    name, text = PRAGMA_FILE[framework]
    directory = make(tmp_path / "migrations", {name: text})
    db = tmp_path / "app.db"
    outcome = SqlFilesEngine(directory, framework).migrate(db)
    assert outcome.ok, outcome.message
    assert query(db, "SELECT fk FROM probe") == [(in_force,)]


def test_golang_migrate_with_files_of_their_own_transaction_runs_every_file_as_written(tmp_path: Path) -> None:
    directory = make(tmp_path / "migrations", {
        "1_init.up.sql": "CREATE TABLE parent (id INTEGER PRIMARY KEY);\n",
        "2_fk_off.up.sql": "PRAGMA foreign_keys = OFF;\nCREATE TABLE probe AS SELECT foreign_keys AS fk "
                           "FROM pragma_foreign_keys;\n",
        "3_own.up.sql": "BEGIN;\nCREATE TABLE t (x);\nCOMMIT;\nPRAGMA foreign_keys = ON;\n",
    })
    engine = SqlFilesEngine(directory, "golang-migrate")
    assert not any(f.transaction for f in engine.files) and not engine.wraps
    assert any("x-no-tx-wrap" in note for note in engine.notes)
    db = tmp_path / "app.db"
    outcome = engine.migrate(db)
    assert outcome.ok, outcome.message
    assert query(db, "SELECT fk FROM probe") == [(0,)]


def test_golang_migrate_wraps_by_default(tmp_path: Path) -> None:
    directory = make(tmp_path / "migrations", {
        "1_fk_off.up.sql": "PRAGMA foreign_keys = OFF;\nCREATE TABLE probe AS SELECT foreign_keys AS fk "
                           "FROM pragma_foreign_keys;\n",
    })
    engine = SqlFilesEngine(directory, "golang-migrate")
    assert engine.wraps
    db = tmp_path / "app.db"
    assert engine.migrate(db).ok
    assert query(db, "SELECT fk FROM probe") == [(1,)]


def test_engine_foreign_keys_option_from_the_scenario(tmp_path: Path) -> None:
    from harness import scenario as scenario_mod
    from harness.engines.loader import load_engine

    make(tmp_path / "migrations", {"1_probe.sql": "CREATE TABLE probe AS SELECT foreign_keys AS fk "
                                                              "FROM pragma_foreign_keys;\n"})
    for value, expected in (("false", 0), ("true", 1), (None, 1)):
        path = tmp_path / "s.toml"
        line = f"foreign_keys = {value}\n" if value else ""
        path.write_text(f'[suite]\nname = "s"\n\n[engine]\nadapter = "sqlfiles"\ndirectory = "migrations"\n{line}',
                        encoding="utf-8")
        loaded = scenario_mod.load(path)
        assert loaded.engine.foreign_keys is (expected == 1)
        db = tmp_path / f"{value}.db"
        assert load_engine(loaded.engine, path).migrate(db).ok
        assert query(db, "SELECT fk FROM probe") == [(expected,)]


# -- false alarms --------------------------------------------------------------------------------


def test_random_ids_give_the_same_values_in_one_run_and_step_by_step(tmp_path: Path) -> None:
    run = migrations(tmp_path, DATA / "random_ids")
    assert run.returncode == 0, run.stdout + run.stderr


def test_random_is_seeded_per_migration_but_still_random_per_row(tmp_path: Path) -> None:
    directory = make(tmp_path / "migrations", {
        "1_t.sql": "CREATE TABLE t (id INTEGER PRIMARY KEY, r, b);\n"
                   "INSERT INTO t (id) VALUES (1), (2), (3);\n"
                   "UPDATE t SET r = random(), b = randomblob(8);\n",
    })
    first, second = tmp_path / "a.db", tmp_path / "b.db"
    for db in (first, second):
        assert SqlFilesEngine(directory).migrate(db).ok
    rows = query(first, "SELECT r, b FROM t ORDER BY id")
    assert rows == query(second, "SELECT r, b FROM t ORDER BY id")
    assert len({r for r, _ in rows}) == 3 and len({b for _, b in rows}) == 3
    assert all(isinstance(b, bytes) and len(b) == 8 for _, b in rows)


def test_renamed_columns_and_tables_are_not_dropped_data(tmp_path: Path) -> None:
    run = migrations(tmp_path, DATA / "renames")
    assert run.returncode == 0, run.stdout + run.stderr


def legacy_and_head(tmp_path: Path, old_sql: str, new_sql: str) -> tuple[Path, Path]:
    before, after = tmp_path / "before.db", tmp_path / "after.db"
    for db, sql in ((before, old_sql), (after, new_sql)):
        conn = sqlite3.connect(db)
        conn.executescript(sql)
        conn.close()
    return before, after


def test_a_renamed_column_is_compared_under_its_new_name(tmp_path: Path) -> None:
    before, after = legacy_and_head(
        tmp_path, "CREATE TABLE runs (id INTEGER PRIMARY KEY, path TEXT); INSERT INTO runs VALUES (1, 'a'), (2, 'b');",
        "CREATE TABLE runs (id INTEGER PRIMARY KEY, function_path TEXT); "
        "INSERT INTO runs VALUES (1, 'a'), (2, 'changed');")
    declared = declared_mutations(["ALTER TABLE runs RENAME COLUMN path TO fpath;",
                                   "ALTER TABLE runs RENAME COLUMN fpath TO function_path;"])
    report = compare(before, after, declared=declared)
    assert report.problems == ["table runs: 1 values changed, first: 2.path (now function_path): 'b' -> 'changed'"]


def test_a_renamed_table_is_compared_under_its_new_name(tmp_path: Path) -> None:
    before, after = legacy_and_head(
        tmp_path, "CREATE TABLE tags (id INTEGER PRIMARY KEY, label TEXT); INSERT INTO tags VALUES (1, 'a'), (2, 'b');",
        "CREATE TABLE labels (id INTEGER PRIMARY KEY, label TEXT); INSERT INTO labels VALUES (1, 'a');")
    report = compare(before, after, declared=declared_mutations(["ALTER TABLE tags RENAME TO labels;"]))
    assert report.problems == ["table tags (now labels): 1 of 2 rows lost (by id: 2)"]


def test_a_column_left_out_of_a_rebuild_on_purpose_is_declared(tmp_path: Path) -> None:
    run = migrations(tmp_path, DATA / "rebuild_drops_column")
    assert run.returncode == 0, run.stdout + run.stderr


def test_a_dropped_column_is_data_loss_only_when_it_held_data(tmp_path: Path) -> None:
    schema = "CREATE TABLE t (id INTEGER PRIMARY KEY, keep TEXT, gone TEXT);"
    head = "CREATE TABLE t (id INTEGER PRIMARY KEY, keep TEXT); INSERT INTO t VALUES (1, 'x');"
    empty, after = legacy_and_head(tmp_path, schema + "INSERT INTO t VALUES (1, 'x', NULL);", head)
    assert compare(empty, after).problems == []
    (tmp_path / "before.db").unlink()
    (tmp_path / "after.db").unlink()
    full, after = legacy_and_head(tmp_path, schema + "INSERT INTO t VALUES (1, 'x', 'data');", head)
    assert compare(full, after).problems == ["table t: column(s) gone dropped with their data"]


def test_a_value_stored_differently_because_the_column_type_changed_is_kept(tmp_path: Path) -> None:
    run = migrations(tmp_path, DATA / "affinity_change")
    assert run.returncode == 0, run.stdout + run.stderr


def test_affinity_is_applied_before_values_are_compared(tmp_path: Path) -> None:
    before, after = legacy_and_head(
        tmp_path, "CREATE TABLE s (id INTEGER PRIMARY KEY, v, p TEXT);"
                  "INSERT INTO s VALUES (1, 35555, 'abc'), (2, -388.065, 'x'), (3, 'text', 'y'), (4, 7, 'z');",
        "CREATE TABLE s (id INTEGER PRIMARY KEY, v TEXT, p BLOB);"
        "INSERT INTO s VALUES (1, '35555', CAST('abc' AS BLOB)), (2, '-388.065', CAST('x' AS BLOB)),"
        "(3, 'text', CAST('y' AS BLOB)), (4, '8', CAST('z' AS BLOB));")
    report = compare(before, after)
    assert report.problems == ["table s: 1 values changed, first: 4.v: 7 -> '8'"]


def test_a_check_that_raises_refuses_rows_instead_of_crashing(tmp_path: Path) -> None:
    run = migrations(tmp_path, DATA / "raising_check")
    assert "Traceback" not in run.stderr, run.stderr
    assert run.returncode == 0, run.stdout + run.stderr


def test_an_unexpected_error_while_preparing_is_one_line_and_exit_2(monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from harness import cli
    from harness.runner import zeroconf

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("generator blew up")

    monkeypatch.setattr(zeroconf, "prepare", broken)
    assert cli.main(["migrations", str(DATA / "renames")]) == 2
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0 and "RuntimeError: generator blew up" in err and "Traceback" not in err


def test_fixtures_whose_schema_calls_a_hook_function_load(tmp_path: Path) -> None:
    case = DATA / "hook_function"
    run = migrations(tmp_path, case / "migrations", "--setup", f"{case / 'hook.py'}:register")
    assert run.returncode == 0, run.stdout + run.stderr


def test_fixture_store_calls_the_setup_hook_before_loading(tmp_path: Path) -> None:
    from harness.fixtures.manifest import load as load_manifest
    from harness.fixtures.store import FixtureStore

    sql = ("CREATE TABLE p (id INTEGER PRIMARY KEY, title TEXT, s TEXT GENERATED ALWAYS AS (shout(title)) STORED);\n"
           "INSERT INTO p (id, title) VALUES (1, 'a');\n")
    (tmp_path / "f.sql").write_text(sql, encoding="utf-8")
    digest = hashlib.sha256((tmp_path / "f.sql").read_bytes()).hexdigest()
    (tmp_path / "manifest.toml").write_text(
        f'[[fixture]]\nname = "f"\nfile = "f.sql"\nsha256 = "{digest}"\nschema_version = 1\n', encoding="utf-8")
    manifest = load_manifest(tmp_path / "manifest.toml")
    fixture = manifest.fixtures[0]

    def setup(conn: sqlite3.Connection) -> None:
        conn.create_function("shout", 1, lambda s: s.upper(), deterministic=True)

    db = FixtureStore(manifest, tmp_path / "cache", setup).materialise(fixture)
    assert query(db, "SELECT s FROM p") == [("A",)]


# -- format detection ----------------------------------------------------------------------------


@pytest.mark.parametrize(("directory", "expected"), [
    ("sqlx_cargo/migrations", "sqlx"),
    ("flyway_sbt/migrations", "flyway"),
    ("flyway_layout/src/main/resources/db/migration", "flyway"),
    ("mixed_languages/migrations", "plain"),
])
def test_project_files_and_layout_settle_the_format(directory: str, expected: str) -> None:
    assert detect(DATA / directory) == expected


def test_a_skipped_migration_in_another_language_is_reported(tmp_path: Path) -> None:
    run = migrations(tmp_path, DATA / "mixed_languages" / "migrations")
    assert run.returncode == 0, run.stdout + run.stderr
    assert any(line.startswith("note: 0002_backfill.py: warning: a migration that is not SQL")
               for line in run.stdout.splitlines()), run.stdout
