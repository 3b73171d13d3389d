"""The command adapter: argv templates, error codes, timeouts, JSON reports."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from harness.engines.command import MAX_OUTPUT, CommandEngine, expand
from harness.engines.loader import load_engine
from harness.engines.protocol import Diagnostics, Outcome
from harness.errors import InputError
from harness.scenario import EngineSpec

CLI = str(Path(__file__).parent / "engines_fake" / "cli.py")


def engine(*behaviour: str, op: str = "migrate", **kwargs: object) -> CommandEngine:
    return CommandEngine("fake", {op: (sys.executable, CLI, *behaviour)}, **kwargs)  # type: ignore[arg-type]


# -- placeholders ---------------------------------------------------------------------------


def test_placeholders_are_replaced_in_every_argument_and_braces_survive(tmp_path: Path) -> None:
    db = tmp_path / "data" / "app.db"
    argv = expand(["{harness_python}", "--db={db}", "{data_dir}/backups", "{target}", "{x}", "{}"],
                  db=db, target=7)
    assert argv == (sys.executable, f"--db={db}", f"{db.parent}/backups", "7", "{x}", "{}")


@pytest.mark.parametrize("template, expected", [
    (["app", "migrate", "--to", "{target}"], ("app", "migrate")),
    (["app", "migrate", "-t", "{target}", "--verbose"], ("app", "migrate", "--verbose")),
    (["app", "migrate", "--to={target}"], ("app", "migrate")),
    (["app", "migrate", "{target}"], ("app", "migrate")),
    (["app", "--db", "{db}", "{target}"], ("app", "--db", "X")),  # a value, not a flag, stays
])
def test_an_empty_target_drops_its_argument_and_flag(template: list[str], expected: tuple[str, ...]) -> None:
    assert expand(template, db=Path("X"), target=None) == expected


def test_the_target_reaches_the_program(tmp_path: Path) -> None:
    eng = engine("echo", "{db}", "--to", "{target}")
    db = tmp_path / "app.db"
    with_target = eng.migrate(db, target=3)
    without = eng.migrate(db)
    assert json.loads(with_target.stdout) == [str(db), "--to", "3"]
    assert json.loads(without.stdout) == [str(db)]


def test_env_is_added_to_the_harness_environment(tmp_path: Path) -> None:
    outcome = engine("env", "FAKE_ENGINE_MODE", env={"FAKE_ENGINE_MODE": "strict"}).migrate(tmp_path / "a.db")
    assert outcome.stdout.strip() == "strict"


# -- results and error codes ------------------------------------------------------------------


def test_exit_zero_is_ok_and_measured(tmp_path: Path) -> None:
    outcome = engine("echo").migrate(tmp_path / "a.db")
    assert outcome.ok and outcome.error_code is None and outcome.seconds > 0


@pytest.mark.parametrize("stream, text, code", [
    ("stderr", "refused: error_code=migration_gap (version 3)", "migration_gap"),
    ("stdout", 'error code: "db_recovery_no_snapshot"', "db_recovery_no_snapshot"),
    ("stderr", "something went wrong", "engine_error"),
])
def test_error_code_from_the_default_pattern(tmp_path: Path, stream: str, text: str, code: str) -> None:
    outcome = engine("fail", stream, text).migrate(tmp_path / "a.db")
    assert not outcome.ok
    assert outcome.error_code == code
    assert "exit status 3" in outcome.message


def test_error_code_from_a_custom_pattern(tmp_path: Path) -> None:
    named = engine("fail", "stderr", "E[migration_gap] boom", error_pattern=r"E\[(?P<code>\w+)\]")
    numbered = engine("fail", "stderr", "E[migration_gap] boom", error_pattern=r"E\[(\w+)\]")
    default = engine("fail", "stderr", "E[migration_gap] boom")
    assert named.migrate(tmp_path / "a.db").error_code == "migration_gap"
    assert numbered.migrate(tmp_path / "a.db").error_code == "migration_gap"
    assert default.migrate(tmp_path / "a.db").error_code == "engine_error"


def test_killed_by_a_signal_is_a_crash(tmp_path: Path) -> None:
    outcome = engine("crash").migrate(tmp_path / "a.db")
    assert (outcome.ok, outcome.error_code) == (False, "engine_crash")
    assert "SIGKILL" in outcome.message


def test_a_missing_program_is_a_crash_outcome_not_an_exception(tmp_path: Path) -> None:
    eng = CommandEngine("ghost", {"migrate": ("no-such-engine-program-xyz", "migrate")})
    outcome = eng.migrate(tmp_path / "a.db")
    assert (outcome.ok, outcome.error_code) == (False, "engine_crash")
    assert "no-such-engine-program-xyz" in outcome.message


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a killed process may linger as a zombie until its new parent reaps it
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_a_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    start = time.monotonic()
    outcome = engine("hang", str(pids), timeout=1.0).migrate(tmp_path / "a.db")
    elapsed = time.monotonic() - start
    assert outcome.timed_out and outcome.error_code == "harness_timeout" and not outcome.ok
    assert "1 s" in outcome.message
    assert elapsed < 5
    child, grandchild = (int(p) for p in pids.read_text().split())
    deadline = time.monotonic() + 3
    while (_alive(child) or _alive(grandchild)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)
    assert not _alive(grandchild)


# -- output -------------------------------------------------------------------------------------


def test_non_utf8_output_survives(tmp_path: Path) -> None:
    ok = engine("bytes").migrate(tmp_path / "a.db")
    failed = engine("bytes", "2").migrate(tmp_path / "a.db")
    assert ok.ok and "before \ufffd\ufffd after" in ok.stdout
    assert failed.error_code == "bad_" and "\ufffd" in failed.stderr


def test_output_is_capped(tmp_path: Path) -> None:
    outcome = engine("flood").migrate(tmp_path / "a.db")
    assert outcome.ok
    assert outcome.stdout.startswith("x" * MAX_OUTPUT) and "truncated" in outcome.stdout
    assert len(outcome.stdout) < MAX_OUTPUT + 100


DIAG = {"schema_version": 4, "applied_migrations": 4, "expected_migrations": 5,
        "continuity": "ok", "integrity": "ok", "foreign_key_violations": 0, "wal_frames": 12}


def test_json_diagnostics(tmp_path: Path) -> None:
    report = engine("json", json.dumps(DIAG), op="diagnostics").diagnostics(tmp_path / "a.db")
    after_log = engine("json", json.dumps(DIAG), "opening db...", op="diagnostics").diagnostics(tmp_path / "a.db")
    assert isinstance(report, Diagnostics)
    assert (report.schema_version, report.expected_migrations, report.clean) == (4, 5, False)
    assert report.extra == {"wal_frames": 12}
    assert after_log == report


@pytest.mark.parametrize("printed", ["not json", json.dumps([1, 2]), json.dumps({"schema_version": 1})])
def test_unusable_diagnostics_are_a_failed_outcome(tmp_path: Path, printed: str) -> None:
    report = engine("json", printed, op="diagnostics").diagnostics(tmp_path / "a.db")
    assert isinstance(report, Outcome) and not report.ok and report.error_code == "engine_error"


def test_json_posture_values_are_text(tmp_path: Path) -> None:
    printed = json.dumps({"journal_mode": "wal", "synchronous": 1, "foreign_keys": True})
    posture = engine("json", printed, op="posture").posture(tmp_path / "a.db")
    assert posture == {"journal_mode": "wal", "synchronous": "1", "foreign_keys": "1"}


def test_migrations_are_read_once_from_json(tmp_path: Path) -> None:
    counter = tmp_path / "count"
    script = tmp_path / "list.py"
    script.write_text(
        "import json, pathlib, sys\n"
        "p = pathlib.Path(sys.argv[1]); p.write_text(p.read_text() + 'x' if p.exists() else 'x')\n"
        "print(json.dumps([{'version': 1, 'name': 'init', 'checksum': 'abc'},\n"
        "                  {'version': '2', 'name': 'users', 'checksum': 7, 'sql': 'SELECT 1;'}]))\n")
    eng = CommandEngine("fake", {"migrate": ("true",),
                                 "migrations": (sys.executable, str(script), str(counter))})
    first, second = eng.migrations(), eng.migrations()
    assert [(m.version, m.name, m.checksum, m.sql) for m in first] == [
        (1, "init", "abc", None), (2, "users", "7", "SELECT 1;")]
    assert second is first and counter.read_text() == "x"


def test_bad_migrations_json_names_the_command() -> None:
    eng = CommandEngine("fake", {"migrate": ("true",), "migrations": (sys.executable, CLI, "json", "[{")})
    with pytest.raises(InputError) as err:
        eng.migrations()
    assert err.value.key == "engine.commands.migrations" and "cli.py" in str(err.value)


def test_operations_follow_the_commands() -> None:
    eng = CommandEngine("fake", {"migrate": ("a",), "posture": ("b",), "migrations": ("c",)})
    assert eng.operations == {"migrate", "posture"}
    assert CommandEngine("fake", {"migrate": ("a",)}).migrations() == ()
    assert eng.open(Path("x.db")).error_code == "engine_error"


# -- loader ---------------------------------------------------------------------------------------


def test_loader_names_the_engine_after_its_program(tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.toml"
    native = EngineSpec("command", 3, commands={"migrate": ("bin/appctl", "migrate")})
    script = EngineSpec("command", 3, commands={"migrate": ("{harness_python}", "-u", "tools/cli.py")})
    assert load_engine(native, scenario).name == "appctl"
    assert load_engine(script, scenario).name == "cli.py"


def test_loader_rejects_a_missing_cwd_and_db_in_migrations(tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.toml"
    with pytest.raises(InputError, match="engine.cwd"):
        load_engine(EngineSpec("command", 3, commands={"migrate": ("a",)}, cwd=tmp_path / "nope"), scenario)
    with pytest.raises(InputError, match="engine.commands.migrations"):
        load_engine(EngineSpec("command", 3, commands={"migrate": ("a",), "migrations": ("a", "{db}")}),
                    scenario)
