"""``python -m harness.reference``: exit codes and output, run as a real subprocess."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ERROR_LINE = re.compile(r"^error_code=(?P<code>[a-z_]+) \S.*$")


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run(
        [sys.executable, "-m", "harness.reference", *map(str, args)],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=60,
    )


def error_code(result: subprocess.CompletedProcess[str]) -> str:
    (line,) = result.stderr.splitlines()
    match = ERROR_LINE.match(line)
    assert match, line
    return match["code"]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "profile.db"


def test_migrations_prints_the_shipped_set() -> None:
    result = cli("migrations")
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    assert [m["version"] for m in listed] == list(range(1, 8))
    assert set(listed[0]) == {"version", "name", "checksum"}
    assert listed[0]["name"] == "init" and re.fullmatch(r"[0-9a-f]{64}", listed[0]["checksum"])


def test_migrate_then_diagnostics(db: Path) -> None:
    result = cli("migrate", "--db", db, "--target", "3")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    report = json.loads(cli("diagnostics", "--db", db).stdout)
    assert report["schema_version"] == 3 and report["applied_migrations"] == 3

    assert cli("migrate", "--db", db).returncode == 0
    result = cli("diagnostics", "--db", db)
    assert result.returncode == 0
    report = json.loads(result.stdout)
    assert {k: report[k] for k in ("schema_version", "applied_migrations", "expected_migrations",
                                   "continuity", "integrity", "foreign_key_violations")} == {
        "schema_version": 7, "applied_migrations": 7, "expected_migrations": 7,
        "continuity": "ok", "integrity": "ok", "foreign_key_violations": 0,
    }
    assert report["extra"]["user_version"] == 7


def test_posture_prints_values_read_back(db: Path) -> None:
    result = cli("posture", "--db", db)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"journal_mode": "wal", "synchronous": 1, "foreign_keys": 1,
                                         "busy_timeout": 5000}


def test_open_creates_then_accepts(db: Path) -> None:
    assert cli("open", "--db", db).returncode == 0
    assert db.exists()
    assert cli("open", "--db", db).returncode == 0


def test_refusals_exit_1_with_an_error_code(db: Path) -> None:
    assert cli("migrate", "--db", db).returncode == 0
    with closing(sqlite3.connect(db, isolation_level=None)) as conn:
        conn.execute("DELETE FROM schema_migrations WHERE version = 4")
    result = cli("migrate", "--db", db)
    assert result.returncode == 1 and result.stdout == ""
    assert error_code(result) == "migration_gap"

    db.write_bytes(b"this is not a database at all" * 10)
    result = cli("open", "--db", db)
    assert result.returncode == 1
    assert error_code(result) == "db_recovery_no_snapshot"

    result = cli("diagnostics", "--db", db.with_name("absent.db"))
    assert (result.returncode, error_code(result)) == (1, "db_not_found")

    result = cli("migrate", "--db", db.with_name("new.db"), "--target", "42")
    assert (result.returncode, error_code(result)) == (1, "migration_target_invalid")


@pytest.mark.parametrize("args", [
    (),
    ("explode", "--db", "x.db"),
    ("migrate",),
    ("migrate", "--db", "x.db", "--target", "three"),
    ("open", "--db", "x.db", "--target", "3"),
])
def test_bad_arguments_exit_2(args: tuple[str, ...]) -> None:
    result = cli(*args)
    assert result.returncode == 2
    assert "usage:" in result.stderr and result.stdout == ""
