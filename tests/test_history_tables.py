"""History tables: each format owns its own; any other one can be declared, with versions of any kind."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from gate_helpers import query
from harness import lint, scenario
from harness.checks.history_rules import history_problems
from harness.engines.formats import (
    FORMATS, REGISTRY, Layout, history_spec, history_tables, presets, read_history,
)
from harness.engines.formats.history import HistoryLayoutError
from harness.engines.protocol import Migration, version_index
from harness.engines.sqlfiles import SqlFilesEngine
from harness.errors import InputError
from harness.runner.zeroconf import history_option

ROOT = Path(__file__).resolve().parent.parent


def db_with(path: Path, *statements: str) -> Path:
    conn = sqlite3.connect(path)
    try:
        for statement in statements:
            conn.execute(statement)
        conn.commit()
    finally:
        conn.close()
    return path


def recorded(db: Path, spec: object = None):  # type: ignore[no-untyped-def]
    conn = sqlite3.connect(db)
    try:
        return read_history(conn, spec)  # type: ignore[arg-type]
    finally:
        conn.close()


# -- one owner -----------------------------------------------------------------------------------


def test_every_format_owns_its_history_table_and_the_lists_derive_from_the_registry() -> None:
    tables = {name: fmt.history.name for name, fmt in REGISTRY.items()}
    assert tables["plain"] == tables["dbmate"] == tables["golang-migrate"] == "schema_migrations"
    assert history_tables() == frozenset(tables.values())
    assert lint.HISTORY_TABLES == history_tables()
    assert set(presets()) == set(FORMATS)
    assert all(layout.table == tables[name] for name, layout in presets().items())


def test_the_plain_format_has_one_name(tmp_path: Path) -> None:
    directory = tmp_path / "migrations"
    directory.mkdir()
    (directory / "1_a.sql").write_text("CREATE TABLE a(x);\n")
    engine = SqlFilesEngine(directory, "auto")
    db = tmp_path / "app.db"
    assert engine.migrate(db).ok
    assert (engine.format, engine.history_format, recorded(db).format) == ("plain", "plain", "plain")


# -- a table it does not expect --------------------------------------------------------------------


def test_a_known_table_with_an_unexpected_column_is_an_input_error_naming_table_and_column(tmp_path: Path) -> None:
    db = db_with(tmp_path / "app.db",
                 "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT, checksum TEXT, "
                 "installed_on TEXT)", "INSERT INTO schema_migrations VALUES (1, 'a', 'x', '2024-01-01')")
    with pytest.raises(HistoryLayoutError) as err:
        recorded(db)
    message = str(err.value)
    assert "schema_migrations" in message and "no column applied_at" in message and "installed_on" in message
    assert isinstance(err.value, InputError)
    declared = Layout("schema_migrations", "version", name="name", checksum="checksum", applied_at="installed_on")
    found = recorded(db, declared)
    assert (found.format, found.versions, found.rows[0].applied_at) == ("declared", (1,), "2024-01-01")


def test_a_declared_column_that_is_missing_is_an_input_error(tmp_path: Path) -> None:
    db = db_with(tmp_path / "app.db", "CREATE TABLE migrations (id INTEGER, installed_on TEXT)")
    with pytest.raises(HistoryLayoutError, match="history table migrations has no column applied_at"):
        recorded(db, Layout("migrations", "id", applied_at="applied_at"))
    assert recorded(db, Layout("absent", "id")).table is None  # no table yet: no history


def test_a_version_that_is_not_of_the_declared_kind_is_an_input_error(tmp_path: Path) -> None:
    db = db_with(tmp_path / "app.db", "CREATE TABLE m (v TEXT)", "INSERT INTO m VALUES ('ae1027a6acf')")
    with pytest.raises(HistoryLayoutError, match="column v holds 'ae1027a6acf', not a version of kind integer"):
        recorded(db, Layout("m", "v"))
    assert recorded(db, Layout("m", "v", kind="text")).versions == ("ae1027a6acf",)


# -- versions of any kind --------------------------------------------------------------------------

REVISIONS = tuple(Migration(rev, f"step {i}", "") for i, rev in enumerate(("ae10", "1c2f", "0b7d"), 1))


def test_text_ids_are_ordered_by_the_engines_list_not_by_their_text(tmp_path: Path) -> None:
    layout = Layout("revisions", "rev", applied_at="at", kind="text")
    db = db_with(tmp_path / "ok.db", "CREATE TABLE revisions (rev TEXT, at TEXT)",
                 "INSERT INTO revisions VALUES ('ae10', '1'), ('1c2f', '2'), ('0b7d', '3')")
    assert history_problems(recorded(db, layout), REVISIONS, complete=True) == []
    swapped = db_with(tmp_path / "swapped.db", "CREATE TABLE revisions (rev TEXT, at TEXT)",
                      "INSERT INTO revisions VALUES ('1c2f', '1'), ('ae10', '2'), ('0b7d', '3')")
    assert history_problems(recorded(swapped, layout), REVISIONS, complete=True) == [
        "history rows are out of order: ['1c2f', 'ae10', '0b7d']"]
    gap = db_with(tmp_path / "gap.db", "CREATE TABLE revisions (rev TEXT, at TEXT)",
                  "INSERT INTO revisions VALUES ('ae10', '1'), ('0b7d', '3'), ('ffff', '4')")
    assert history_problems(recorded(gap, layout), REVISIONS, complete=False) == [
        "version ffff is not a migration the engine knows"]
    db_with(gap, "DELETE FROM revisions WHERE rev = 'ffff'")
    assert history_problems(recorded(gap, layout), REVISIONS, complete=False) == [
        "gap in history: recorded ['ae10', '0b7d'], missing ['1c2f']"]
    assert version_index(REVISIONS, "1c2f") == 2 and version_index(REVISIONS, None) == 0
    with pytest.raises(LookupError):
        version_index(REVISIONS, "nope")


def test_timestamp_versions_read_digits_in_any_separator(tmp_path: Path) -> None:
    db = db_with(tmp_path / "app.db", "CREATE TABLE runs (version TEXT)",
                 "INSERT INTO runs VALUES ('2024-01-01-120000'), ('20240202000000')")
    found = recorded(db, Layout("runs", "version", kind="timestamp"))
    assert found.versions == (20240101120000, 20240202000000)
    migrations = (Migration(20240101120000, "a", ""), Migration(20240202000000, "b", ""))
    assert history_problems(found, migrations, complete=True) == []


# -- the sqlfiles adapter writes and reads a declared table ----------------------------------------


def test_sqlfiles_writes_and_judges_a_declared_history_table(tmp_path: Path) -> None:
    directory = tmp_path / "migrations"
    directory.mkdir()
    for i, name in enumerate(("a", "b", "c"), 1):
        (directory / f"{i:04d}_{name}.sql").write_text(f"CREATE TABLE {name}(x);\n")
    layout = Layout("app_migrations", "id", name="filename", applied_at="installed_on")
    engine = SqlFilesEngine(directory, "auto", history=layout)
    db = tmp_path / "app.db"
    assert engine.migrate(db, target=2).ok
    assert [r[:2] for r in query(db, "SELECT id, filename FROM app_migrations ORDER BY rowid")] == [
        (1, "a"), (2, "b")]
    assert "schema_migrations" not in {n for (n,) in query(db, "SELECT name FROM sqlite_master")}
    assert engine.migrate(db).ok and engine.migrate(db).message == "nothing to apply"
    found = recorded(db, layout)
    assert found.versions == (1, 2, 3) and history_problems(found, engine.migrations(), complete=True) == []
    db_with(db, "DELETE FROM app_migrations WHERE id = 2")
    outcome = engine.migrate(db)
    assert (outcome.ok, outcome.error_code) == (False, "migration_gap")


# -- declarations: scenario and command line -------------------------------------------------------


def write_scenario(tmp_path: Path, engine_tail: str) -> Path:
    (tmp_path / "migrations").mkdir(exist_ok=True)
    path = tmp_path / "s.toml"
    path.write_text('[suite]\nname = "s"\n\n[engine]\nadapter = "sqlfiles"\ndirectory = "migrations"\n'
                    + engine_tail)
    return path


def test_scenario_declares_a_history_table(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, '\n[engine.history]\ntable = "migrations"\nversion = "id"\n'
                                    'applied_at = "installed_on"\nkind = "timestamp"\n')
    spec = scenario.load(path).engine.history
    assert spec == Layout("migrations", "id", applied_at="installed_on", kind="timestamp")
    path = write_scenario(tmp_path, '\n[engine.history]\npreset = "plain"\napplied_at = "installed_on"\n')
    assert scenario.load(path).engine.history == Layout(
        "schema_migrations", "version", name="name", checksum="checksum", applied_at="installed_on",
        order="applied_at, rowid")
    path = write_scenario(tmp_path, 'history = "flyway"\n')
    assert scenario.load(path).engine.history == "flyway"


@pytest.mark.parametrize("tail, line, key, problem", [
    ('\n[engine.history]\ntable = "m"\nversion = "id"\nkind = "semver"\n', 7, "engine.history.kind",
     "'semver' is not a version kind"),
    ('\n[engine.history]\ntable = "m"\nversoin = "id"\n', 7, "engine.history.versoin", "unknown key 'versoin'"),
    ('\n[engine.history]\ntable = "m"\n', 7, "engine.history", "missing required key 'version'"),
    ('history = "liquibase"\n', 6, "engine.history", "unknown history table preset 'liquibase'"),
    ('\n[engine.history]\ntable = "m"\nversion = 3\n', 7, "engine.history.version", "expected a non-empty string"),
])
def test_a_bad_declaration_names_file_line_and_key(tmp_path: Path, tail: str, line: int, key: str,
                                                    problem: str) -> None:
    path = write_scenario(tmp_path, tail)
    with pytest.raises(InputError) as err:
        scenario.load(path)
    assert (err.value.path, err.value.key) == (str(path), key)
    assert problem in err.value.problem
    assert err.value.line is not None and err.value.line >= line


def test_the_command_line_declares_a_history_table() -> None:
    assert history_option("flyway") == "flyway"
    assert history_option("table=runs,version=rev,kind=text") == Layout("runs", "rev", kind="text")
    with pytest.raises(InputError, match="--history.*unknown key 'colour'"):
        history_option("table=runs,version=rev,colour=blue")
    with pytest.raises(InputError, match="--history.*'runs' is not key=value"):
        history_option("table=x,runs")
    assert history_spec({"preset": "sqlx"}, lambda k, p: ValueError(p)) == "sqlx"


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


def test_gate_refuses_fixtures_whose_history_table_does_not_fit_the_declaration(tmp_path: Path) -> None:
    directory = tmp_path / "migrations"
    directory.mkdir()
    (directory / "0001_a.sql").write_text("CREATE TABLE a(id INTEGER PRIMARY KEY, x TEXT);\n")
    (directory / "0002_b.sql").write_text("ALTER TABLE a ADD COLUMN y TEXT;\n")
    work = tmp_path / "work"
    done = run_cli("migrations", str(directory), "--workdir", str(work), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    scenario_file = work / "scenario.toml"
    text = scenario_file.read_text()
    scenario_file.write_text(text.replace('foreign_keys = true\n', 'foreign_keys = true\n'
                                          'history = { preset = "plain", applied_at = "installed_on" }\n'))
    refused = run_cli("gate", str(scenario_file), "--reports", str(tmp_path / "reports"), cwd=tmp_path)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "schema_migrations has no column installed_on" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_harness_migrations_with_a_declared_history_table(tmp_path: Path) -> None:
    directory = tmp_path / "migrations"
    directory.mkdir()
    (directory / "0001_a.sql").write_text("CREATE TABLE a(id INTEGER PRIMARY KEY, x TEXT);\n")
    (directory / "0002_b.sql").write_text("ALTER TABLE a ADD COLUMN y TEXT;\n")
    work = tmp_path / "work"
    done = run_cli("migrations", str(directory), "--workdir", str(work), "--history",
                   "table=app_migrations,version=id,name=filename,applied_at=installed_on", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert 'table = "app_migrations"' in (work / "scenario.toml").read_text()
    bad = run_cli("migrations", str(directory), "--history", "table=t", cwd=tmp_path)
    assert bad.returncode == 2 and "missing required key 'version'" in bad.stderr
    assert "Traceback" not in bad.stderr
