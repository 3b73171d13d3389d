"""Zero-config never refuses a directory a supported framework could apply.

Ambiguous names are settled by the repository around the directory, else by a documented
default with one note saying how to override it; generic numbered names are a format of
their own; foreign keys follow the framework's driver where the repository shows it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gate_helpers import ROOT, query
from harness.engines.formats import choose, detect
from harness.engines.formats.detection import foreign_keys
from harness.engines.sqlfiles import SqlFilesEngine
from harness.errors import InputError

V_FILES = {"V1__init.sql": "CREATE TABLE a (id INTEGER PRIMARY KEY, x TEXT);\n",
           "V2__more.sql": "ALTER TABLE a ADD COLUMN y TEXT;\n",
           "V10__last.sql": "CREATE INDEX a_y ON a (y);\n"}
UP_FILES = {"1_init.up.sql": "CREATE TABLE a (id INTEGER PRIMARY KEY, x TEXT);\n", "1_init.down.sql": "DROP TABLE a;\n",
            "2_more.up.sql": "ALTER TABLE a ADD COLUMN y TEXT;\n", "2_more.down.sql": "SELECT 1;\n"}


def make(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory


def migrations(tmp_path: Path, directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", "migrations", str(directory), "--workdir",
                           str(tmp_path / "work"), *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


# -- ambiguous names, settled by the repository --------------------------------------------------


@pytest.mark.parametrize("manifest, text, files, expected", [
    ("Cargo.toml", '[package]\nname = "app"\n\n[dependencies]\nrefinery = { version = "0.8", features = ["rusqlite"] }\n',
     V_FILES, "refinery"),
    ("pom.xml", "<project><dependencies><dependency><artifactId>flyway-core</artifactId></dependency>"
                "</dependencies></project>\n", V_FILES, "flyway"),
    ("go.mod", "module example.com/app\n\nrequire github.com/golang-migrate/migrate/v4 v4.17.0\n", UP_FILES,
     "golang-migrate"),
    ("Cargo.toml", '[package]\nname = "app"\n\n[dependencies]\nsqlx = { version = "0.8", features = ["sqlite"] }\n',
     UP_FILES, "sqlx"),
])
def test_ambiguous_names_are_settled_by_the_repository(tmp_path: Path, manifest: str, text: str,
                                                       files: dict[str, str], expected: str) -> None:
    directory = make(tmp_path / "app" / "db" / "migrations", files)
    (tmp_path / "app" / manifest).write_text(text)
    assert detect(directory) == expected
    choice = choose(directory)
    assert choice.format == expected
    assert choice.note is not None and manifest in choice.note and "override with --format" in choice.note


def test_a_dependency_beats_the_ecosystem_guess(tmp_path: Path) -> None:
    """A Go project whose go.mod names neither framework is golang-migrate by ecosystem; a
    Cargo.toml that depends on sqlx makes up/down pairs sqlx, not refinery-or-sqlx."""
    directory = make(tmp_path / "svc" / "migrations", UP_FILES)
    (tmp_path / "svc" / "go.mod").write_text("module example.com/svc\n")
    assert choose(directory).format == "golang-migrate"
    (tmp_path / "svc" / "go.mod").unlink()
    (tmp_path / "svc" / "package.json").write_text('{"devDependencies": {"left-pad": "1"}}')
    assert choose(directory).format == "golang-migrate"  # nothing said: the default


# -- ambiguous names, nothing around them: the default and one note ------------------------------


@pytest.mark.parametrize("files, default, other", [(V_FILES, "flyway", "refinery"),
                                                   (UP_FILES, "golang-migrate", "sqlx")])
def test_no_hint_takes_the_documented_default_with_one_note(tmp_path: Path, files: dict[str, str], default: str,
                                                            other: str) -> None:
    directory = make(tmp_path / "migrations", files)
    with pytest.raises(InputError, match="cannot tell the migration format"):
        detect(directory)  # the strict answer stays available
    engine = SqlFilesEngine(directory, "auto")
    assert engine.format == default
    notes = [n for n in engine.notes if "fit" in n]
    assert len(notes) == 1 and f"applying them as {default}" in notes[0] and f"--format {other}" in notes[0]
    run = migrations(tmp_path, directory)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = [line for line in run.stdout.splitlines() if line.startswith("note: the file names fit")]
    assert len(lines) == 1 and f"--format {other}" in lines[0]
    assert f"({default} format)" in run.stdout
    overridden = migrations(tmp_path / "o", directory, "--format", other)
    assert overridden.returncode == 0 and f"({other} format)" in overridden.stdout
    assert "note: the file names fit" not in overridden.stdout


# -- generic numbered names ----------------------------------------------------------------------


def test_numbered_names_with_a_letter_and_dots_are_a_format(tmp_path: Path) -> None:
    directory = make(tmp_path / "migrations", {
        "V0001.Init.up.sql": "CREATE TABLE a (id INTEGER PRIMARY KEY, x TEXT);\n",
        "V0001.Init.down.sql": "DROP TABLE a;\n",
        "V0002.AddY.up.sql": "ALTER TABLE a ADD COLUMN y TEXT;\n",
        "V0010.Index.up.sql": "CREATE INDEX a_y ON a (y);\n",
        "V0010.Index.down.sql": "DROP INDEX a_y;\n",
    })
    choice = choose(directory)
    assert choice.format == "numbered" and "V0001.Init.up.sql" in (choice.note or "")
    engine = SqlFilesEngine(directory, "auto")
    assert [(m.version, m.name) for m in engine.migrations()] == [(1, "Init"), (2, "AddY"), (10, "Index")]
    db = tmp_path / "app.db"
    assert engine.migrate(db).ok
    assert query(db, "SELECT version, name FROM schema_migrations ORDER BY version") == [
        (1, "Init"), (2, "AddY"), (10, "Index")]
    assert engine.migrate(db).message == "nothing to apply"
    run = migrations(tmp_path, directory)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "(numbered format)" in run.stdout


def test_dotted_numbered_names_and_their_limits(tmp_path: Path) -> None:
    assert choose(make(tmp_path / "a", {"0001.init.sql": "CREATE TABLE a(x);\n",
                                        "0002.more.sql": "CREATE TABLE b(x);\n"})).format == "numbered"
    # an unmarked 0001_x.sql is plain's: no note, no new format
    assert choose(make(tmp_path / "b", {"0001_init.sql": "CREATE TABLE a(x);\n"})) .format == "plain"
    # files two frameworks can never share are still refused, naming the candidates
    with pytest.raises(InputError, match="different formats"):
        choose(make(tmp_path / "c", {"V1__a.sql": "", "0002_b.sql": ""}))


# -- foreign keys as the framework's driver starts --------------------------------------------------


@pytest.mark.parametrize("fmt, files, expected, words", [
    ("refinery", {"Cargo.toml": '[dependencies]\nrefinery = "0.8"\nrusqlite = { version = "0.31", features = '
                                '["bundled"] }\n'}, True, "bundled"),
    ("refinery", {"Cargo.toml": '[dependencies]\nrefinery = "0.8"\nrusqlite = "0.31"\n'}, False, "system SQLite"),
    ("golang-migrate", {"go.mod": "module x\nrequire (\n\tgithub.com/golang-migrate/migrate/v4 v4.17.0\n"
                                  "\tgithub.com/mattn/go-sqlite3 v1.14.22\n)\n"}, False, "mattn/go-sqlite3"),
    ("drizzle", {"package.json": '{"dependencies": {"drizzle-orm": "0.36", "better-sqlite3": "11"}}'}, True,
     "better-sqlite3"),
    ("diesel", {"Cargo.toml": '[dependencies]\ndiesel = { version = "2", features = ["sqlite"] }\n'}, False,
     "system SQLite"),
    ("diesel", {"Cargo.toml": '[dependencies]\ndiesel = { version = "2", features = ["sqlite"] }\n'
                              'libsqlite3-sys = { version = "0.28", features = ["bundled"] }\n'}, True, "bundled"),
    ("atlas", {"atlas.hcl": 'env "local" {\n  url = "sqlite://app.db"\n}\n'}, False, "mattn/go-sqlite3"),
    ("dbmate", {"package.json": '{"devDependencies": {"dbmate": "2"}}'}, False, "mattn/go-sqlite3"),
    ("dbmate", {}, None, "does not show"),
    ("sqlx", {}, True, "sqlx"),
    ("goose", {}, None, "does not show"),
])
def test_foreign_keys_follow_the_drivers_default_where_the_repository_shows_it(
        tmp_path: Path, fmt: str, files: dict[str, str], expected: bool | None, words: str) -> None:
    make(tmp_path / "app", files)
    directory = make(tmp_path / "app" / "migrations", {})
    found, why = foreign_keys(fmt, directory)
    assert found is expected and words in why


def test_harness_migrations_prints_the_foreign_key_setting_it_used(tmp_path: Path) -> None:
    directory = make(tmp_path / "app" / "migrations", UP_FILES)
    (tmp_path / "app" / "go.mod").write_text("module x\nrequire github.com/golang-migrate/migrate/v4 v4.17.0\n"
                                             "require github.com/mattn/go-sqlite3 v1.14.22\n")
    run = migrations(tmp_path, directory)
    assert run.returncode == 0, run.stdout + run.stderr
    assert any(line.startswith("foreign keys: OFF (") and "mattn/go-sqlite3" in line
               and "--foreign-keys on" in line for line in run.stdout.splitlines()), run.stdout
    assert "foreign_keys = false" in (tmp_path / "work" / "scenario.toml").read_text()
    run = migrations(tmp_path / "given", directory, "--foreign-keys", "on")
    assert "foreign keys: ON (--foreign-keys" in run.stdout
