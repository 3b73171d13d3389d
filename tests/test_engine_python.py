"""The python adapter and its loading: targets, the native contract, error codes, posture."""

from __future__ import annotations

import sqlite3
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.engines.loader import load_engine
from harness.engines.protocol import Diagnostics, Outcome
from harness.engines.python import PythonEngine
from harness.errors import InputError
from harness.scenario import EngineSpec

ENGINE_SOURCE = textwrap.dedent('''
    import sqlite3
    from dataclasses import dataclass

    class Refused(Exception):
        def __init__(self, message, code):
            super().__init__(message)
            self.code = code

    @dataclass
    class Report:
        schema_version: int | None
        applied_migrations: int
        expected_migrations: int
        continuity: str
        integrity: str
        foreign_key_violations: int

    class Engine:
        def __init__(self, mode="normal"):
            self.mode = mode
            self.calls = []

        def migrations(self):
            return [{"version": 1, "name": "init", "checksum": "c1", "sql": "CREATE TABLE t(x);"},
                    type("M", (), {"version": 2, "name": "more", "checksum": "c2"})()]

        def migrate(self, db, target=None):
            self.calls.append(("migrate", target))
            if self.mode == "gap":
                raise Refused("version 3 is missing", "migration_gap")
            if self.mode == "numeric":
                raise Refused("numeric code", 17)
            if self.mode == "plain":
                raise RuntimeError("disk on fire")
            if self.mode == "interrupt":
                raise KeyboardInterrupt
            sqlite3.connect(db).close()

        def diagnostics(self, db):
            return Report(2, 2, 2, "ok", "ok", 0)

        def connect(self, db):
            conn = sqlite3.connect(db)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=4321")
            self.last_connection = conn
            return conn

        def posture(self, db):  # a claim the harness must not trust
            return {"journal_mode": "delete", "synchronous": "0"}

    def make_engine(mode="normal"):
        return Engine(mode)

    def make_nothing():
        return 42

    ready = Engine()
''')


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A scenario directory with the engine as ``engines/fake_engine.py``."""
    (tmp_path / "engines").mkdir()
    (tmp_path / "engines" / "fake_engine.py").write_text(ENGINE_SOURCE)
    return tmp_path / "scenario.toml"


def load(scenario: Path, target: str, **kwargs: object) -> PythonEngine:
    engine = load_engine(EngineSpec("python", 4, target=target, **kwargs), scenario)  # type: ignore[arg-type]
    assert isinstance(engine, PythonEngine)
    return engine


# -- targets ------------------------------------------------------------------------------------


def test_target_by_file_path_relative_to_the_scenario(project: Path) -> None:
    engine = load(project, "engines/fake_engine.py:Engine")
    assert engine.name == "engines/fake_engine.py:Engine"
    assert engine.operations == {"migrate", "crash", "diagnostics", "posture"}
    assert engine.migrate(project.parent / "a.db").ok


def test_target_by_module_with_sys_path(project: Path, tmp_path: Path) -> None:
    module = f"fake_engine_mod_{tmp_path.name.replace('-', '_')}"
    (tmp_path / "pkgroot").mkdir()
    (tmp_path / "pkgroot" / f"{module}.py").write_text(ENGINE_SOURCE)
    engine = load(project, f"{module}:make_engine", sys_path=(tmp_path / "pkgroot",),
                  options={"mode": "gap"})
    assert engine.migrate(tmp_path / "a.db").error_code == "migration_gap"
    assert str(tmp_path / "pkgroot") not in sys.path  # only while importing


def test_an_engine_object_is_used_as_is_and_a_class_is_called_with_options(project: Path) -> None:
    assert load(project, "engines/fake_engine.py:ready").migrate(project.parent / "a.db").ok
    gap = load(project, "engines/fake_engine.py:Engine", options={"mode": "gap"})
    assert gap.migrate(project.parent / "a.db").error_code == "migration_gap"
    with pytest.raises(InputError, match="engine.options"):
        load(project, "engines/fake_engine.py:ready", options={"mode": "gap"})


@pytest.mark.parametrize("target", [
    "engines/missing.py:Engine",
    "engines/fake_engine.py:NoSuchThing",
    "no_such_module_for_harness_tests:Engine",
    "engines/fake_engine.py:",
    "engines/fake_engine.py:make_nothing",  # a factory whose product is not an engine
    "engines/fake_engine.py:sqlite3",  # neither an engine nor callable
])
def test_bad_target_is_an_input_error_naming_the_key(project: Path, target: str) -> None:
    with pytest.raises(InputError) as err:
        load(project, target)
    assert err.value.key == "engine.target"
    assert "engine.target" in str(err.value) and str(project) in str(err.value)


def test_bad_options_are_an_input_error(project: Path) -> None:
    with pytest.raises(InputError, match="engine.target.*unexpected keyword"):
        load(project, "engines/fake_engine.py:Engine", options={"colour": "red"})


def test_a_module_that_fails_to_import_is_an_input_error(project: Path) -> None:
    (project.parent / "engines" / "broken.py").write_text("raise RuntimeError('no config')\n")
    with pytest.raises(InputError, match="RuntimeError: no config"):
        load(project, "engines/broken.py:Engine")


# -- operations ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode, code, message", [
    ("gap", "migration_gap", "version 3 is missing"),
    ("numeric", "engine_error", "numeric code"),  # a non-string code is not an error code
    ("plain", "engine_error", "disk on fire"),
])
def test_exception_code_mapping(project: Path, mode: str, code: str, message: str) -> None:
    outcome = load(project, "engines/fake_engine.py:Engine", options={"mode": mode}).migrate(
        project.parent / "a.db")
    assert (outcome.ok, outcome.error_code, outcome.message) == (False, code, message)
    assert outcome.seconds > 0


def test_keyboard_interrupt_propagates(project: Path) -> None:
    engine = load(project, "engines/fake_engine.py:Engine", options={"mode": "interrupt"})
    with pytest.raises(KeyboardInterrupt):
        engine.migrate(project.parent / "a.db")


def test_target_is_passed_only_when_given(project: Path) -> None:
    engine = load(project, "engines/fake_engine.py:Engine")
    engine.isolate = False  # type: ignore[attr-defined]  # the calls are recorded in the object: call it here
    engine.migrate(project.parent / "a.db")
    engine.migrate(project.parent / "a.db", target=1)
    assert engine._obj.calls == [("migrate", None), ("migrate", 1)]  # type: ignore[attr-defined]


def test_migrations_from_dicts_and_objects(project: Path) -> None:
    migrations = load(project, "engines/fake_engine.py:Engine").migrations()
    assert [(m.version, m.name, m.checksum, m.sql) for m in migrations] == [
        (1, "init", "c1", "CREATE TABLE t(x);"), (2, "more", "c2", None)]


def test_an_unusable_migration_list_is_an_input_error() -> None:
    class NoVersions:
        def migrations(self) -> list[dict[str, str]]:
            return [{"name": "init", "checksum": "x"}]

        def migrate(self, db: Path) -> None:
            pass

    with pytest.raises(InputError, match="version"):
        PythonEngine(NoVersions(), "x:NoVersions").migrations()


def test_diagnostics_from_a_dataclass(project: Path) -> None:
    report = load(project, "engines/fake_engine.py:Engine").diagnostics(project.parent / "a.db")
    assert report == Diagnostics(2, 2, 2, "ok", "ok", 0)


def test_diagnostics_from_a_mapping_and_a_bad_report() -> None:
    @dataclass
    class Fake:
        report: object

        def migrations(self) -> list[object]:
            return []

        def migrate(self, db: Path) -> None:
            pass

        def diagnostics(self, db: Path) -> object:
            return self.report

    good = {"schema_version": None, "applied_migrations": 0, "expected_migrations": 3,
            "continuity": "ok", "integrity": "ok", "foreign_key_violations": 0, "note": "fresh"}
    parsed = PythonEngine(Fake(good), "x").diagnostics(Path("a.db"))
    assert isinstance(parsed, Diagnostics) and parsed.extra == {"note": "fresh"}
    bad = PythonEngine(Fake({**good, "applied_migrations": "zero"}), "x").diagnostics(Path("a.db"))
    assert isinstance(bad, Outcome) and not bad.ok and "applied_migrations" in bad.message


def test_missing_optional_operations() -> None:
    class Minimal:
        def migrations(self) -> list[object]:
            return []

        def migrate(self, db: Path) -> None:
            pass

    engine = PythonEngine(Minimal(), "x")
    assert engine.operations == {"migrate", "crash"}
    outcome = engine.open(Path("a.db"))
    assert isinstance(outcome, Outcome) and not outcome.ok


def test_posture_is_read_by_the_adapter_from_the_returned_connection(project: Path) -> None:
    engine = load(project, "engines/fake_engine.py:Engine")
    engine.isolate = False  # type: ignore[attr-defined]  # the connection is kept in the object: call it here
    posture = engine.posture(project.parent / "a.db")
    assert posture == {"journal_mode": "wal", "synchronous": "1", "foreign_keys": "1",
                       "busy_timeout": "4321"}
    with pytest.raises(sqlite3.ProgrammingError):  # the adapter closed it
        engine._obj.last_connection.execute("SELECT 1")  # type: ignore[attr-defined]
