"""Hostile migration SQL: a runaway statement is a hang of its file and line, not a hung run;
ATTACH / VACUUM INTO outside the database's directory and load_extension() are refused and
reported on their file and line; nothing is written outside the case's directory."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from harness.engines.protocol import CODE_TIMEOUT
from harness.engines.sqlfiles import SqlFilesEngine
from harness.sqlite.guard import Guard

from gate_helpers import ROOT
from hostile_helpers import bounded

ENDLESS = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c;"


def migrations(tmp_path: Path, second: str) -> Path:
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_init.sql").write_text("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);\n")
    (folder / "0002_second.sql").write_text(f"CREATE TABLE u(x);\n{second}\n")
    return folder


def test_endless_recursive_cte_is_a_hang_named_by_file_and_line(tmp_path: Path) -> None:
    engine = SqlFilesEngine(migrations(tmp_path, ENDLESS), "plain", timeout=0.5)
    data = tmp_path / "data"
    data.mkdir()
    with bounded(60):
        outcome = engine.migrate(data / "app.sqlite3")
    assert not outcome.ok and outcome.error_code == CODE_TIMEOUT and outcome.timed_out
    assert "0002_second.sql line 2" in outcome.message and "hang" in outcome.message
    assert outcome.seconds < 20


@pytest.mark.parametrize(
    ("sql", "words"),
    [
        ("ATTACH '{outside}' AS e; CREATE TABLE e.z(x);", "ATTACH or VACUUM INTO"),
        ("VACUUM INTO '{outside}';", "ATTACH or VACUUM INTO"),
        ("SELECT load_extension('/usr/lib/x86_64-linux-gnu/libz.so');", "load_extension"),
        ("PRAGMA temp_store_directory = '{parent}';", "temp_store_directory"),
    ],
)
def test_escapes_are_refused_and_named(tmp_path: Path, sql: str, words: str) -> None:
    outside = tmp_path / "outside.db"
    folder = migrations(tmp_path, sql.format(outside=outside, parent=tmp_path))
    data = tmp_path / "data"
    data.mkdir()
    outcome = SqlFilesEngine(folder, "plain").migrate(data / "app.sqlite3")
    assert not outcome.ok
    assert "0002_second.sql line 2" in outcome.message and "sandbox" in outcome.message and words in outcome.message
    assert not outside.exists()


def test_attach_inside_the_database_directory_still_works(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    conn = sqlite3.connect(":memory:")
    inside = Guard(data)
    inside.install(conn)
    conn.execute(f"ATTACH '{data / 'side.db'}' AS s")
    conn.execute("DETACH s")
    conn.execute("ATTACH ':memory:' AS m")
    with pytest.raises(sqlite3.DatabaseError):
        conn.execute(f"ATTACH '{tmp_path / 'x.db'}' AS x")
    assert inside.refusals and not (tmp_path / "x.db").exists()
    conn.close()


def test_zero_config_gate_does_not_hang_on_an_endless_migration(tmp_path: Path) -> None:
    folder = migrations(tmp_path, ENDLESS)
    proc = subprocess.run([sys.executable, "-m", "harness", "migrations", str(folder), "--timeout", "0.5",
                           "--workdir", str(tmp_path / "work")], cwd=ROOT, capture_output=True, text=True,
                          timeout=240)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "0002_second.sql line 2: still running after the 0.5 s budget" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_zero_config_refuses_an_escape_without_writing_outside(tmp_path: Path) -> None:
    outside = tmp_path / "escaped.db"
    folder = migrations(tmp_path, f"VACUUM INTO '{outside}';")
    (folder / "0003_third.sql").write_text("CREATE TABLE w(x);\n")
    proc = subprocess.run([sys.executable, "-m", "harness", "migrations", str(folder),
                           "--workdir", str(tmp_path / "work")], cwd=ROOT, capture_output=True, text=True,
                          timeout=240)
    assert proc.returncode in (1, 2), proc.stdout + proc.stderr
    assert "0002_second.sql line 2" in proc.stdout + proc.stderr
    assert "sandbox" in proc.stdout + proc.stderr and "Traceback" not in proc.stdout + proc.stderr
    assert not outside.exists()


def test_a_measured_hot_query_that_never_ends_is_interrupted(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.sqlite import cost

    monkeypatch.setattr(cost, "MAX_QUERY_STEPS", 200_000)
    conn = sqlite3.connect(":memory:")
    with bounded(60), pytest.raises(cost.QueryHang, match="200,000 VM steps"):
        cost.measure(conn, ENDLESS, ())
    conn.close()
