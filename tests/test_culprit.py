"""Naming the migration that did it: the first migration after which the upgraded copy
differs, and the statement in it.

tests/data/migrations_bugs/parent_rebuild_cascade rebuilds a parent table (projects) with
foreign keys on and nothing turning them off, so ``DROP TABLE projects`` deletes every task
through ON DELETE CASCADE: the data loss on both legacy versions that hold tasks is one root
cause naming 0003_project_archived.sql line 10 and the cascade. With foreign keys off (as
an application that opens its connections so would migrate) the same files keep every row.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from gate_helpers import ROOT
from harness.checks.culprit import loss_cause, schema_line, tables_of, upgrade_cause
from harness.engines.protocol import Migration
from harness.fixtures.store import CACHE_ENV
from harness.sqlite import schema

CASCADE = Path(__file__).resolve().parent / "data" / "migrations_bugs" / "parent_rebuild_cascade"
EXPECTED = ("parent_rebuild_cascade/0003_project_archived.sql line 10: rows of tasks deleted by "
            "`DROP TABLE projects` (ON DELETE CASCADE from tasks.project_id, foreign_keys on)")


def migrations(tmp_path: Path, directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, CACHE_ENV: str(tmp_path / "cache")}
    return subprocess.run([sys.executable, "-m", "harness", "migrations", str(directory), "--workdir",
                           str(tmp_path / "work"), "--reports", str(tmp_path / "work" / "reports"), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, env=env)


def test_a_parent_rebuild_cascading_into_its_child_names_the_drop_and_the_cascade(tmp_path: Path) -> None:
    run = migrations(tmp_path, CASCADE)
    assert run.returncode == 1, run.stdout + run.stderr
    roots = [line.strip() for line in run.stdout.splitlines() if line.strip().startswith("FAILED   ")]
    assert roots == [f"FAILED   {EXPECTED} \u2014 matrix::data-preserved at v1, v2 (2 cases)"], run.stdout
    body = json.loads((tmp_path / "work" / "reports" / "results.json").read_text())
    (rc,) = [rc for rc in body["root_causes"] if rc["severity"] == "error"]
    assert (rc["migration"], rc["line"], rc["versions"]) == (
        "parent_rebuild_cascade/0003_project_archived.sql", 10, ["v1", "v2"])
    assert rc["mechanism"].startswith("rows of tasks deleted by `DROP TABLE projects` (ON DELETE CASCADE")
    case = next(c for c in body["cases"] if c["case_id"] == "matrix[fixture=v1]::data-preserved")
    assert case["summary"].startswith("table tasks: 20 of 20 rows lost")
    assert case["summary"].endswith(": rows of tasks deleted by `DROP TABLE projects` in "
                                    "parent_rebuild_cascade/0003_project_archived.sql line 10 (ON DELETE CASCADE "
                                    "from tasks.project_id, foreign_keys on)")


def test_the_same_files_with_foreign_keys_off_keep_every_task(tmp_path: Path) -> None:
    run = migrations(tmp_path, CASCADE, "--foreign-keys", "off")
    assert run.returncode == 0, run.stdout + run.stderr
    assert not [line for line in run.stdout.splitlines() if line.strip().startswith("FAILED   ")]


def _schema_of(sql: str) -> schema.Schema:
    import sqlite3

    conn = sqlite3.connect(":memory:")
    try:
        conn.executescript(sql)
        return schema.read(conn)
    finally:
        conn.close()


PARENT_CHILD = ("CREATE TABLE p (id INTEGER PRIMARY KEY);"
                "CREATE TABLE c (id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES p(id) ON DELETE {action});")


def test_the_statement_that_took_the_rows_is_named() -> None:
    cascade = _schema_of(PARENT_CHILD.format(action="CASCADE"))
    sql = "CREATE TABLE x (a);\n-- note\nDELETE FROM main.p WHERE id > 3;\nDROP TABLE IF EXISTS x;\n"
    m = Migration(7, "trim", "", sql, "m/0007_trim.sql")
    cause = loss_cause(m, "c", cascade)
    assert (cause.migration, cause.line) == ("m/0007_trim.sql", 3)
    assert cause.mechanism == ("rows of c deleted by `DELETE FROM main.p WHERE id > 3` (ON DELETE CASCADE from "
                               "c.p_id, foreign_keys on)")
    set_null = loss_cause(m, "c", _schema_of(PARENT_CHILD.format(action="SET NULL")))
    assert "orphaned and changed" in set_null.mechanism and "ON DELETE SET NULL" in set_null.mechanism
    no_action = loss_cause(m, "c", _schema_of(PARENT_CHILD.format(action="NO ACTION")))
    assert (no_action.mechanism, no_action.line) == ("rows of c lost", None)  # no statement could have
    direct = loss_cause(Migration(8, "d", "", "\n\nDELETE FROM c;", "m/0008_d.sql"), "c", cascade)
    assert (direct.mechanism, direct.line) == ("rows of c deleted by `DELETE FROM c`", 3)


def test_a_rebuild_that_leaves_rows_behind_names_its_copy() -> None:
    sql = ("CREATE TABLE t2 (id INTEGER PRIMARY KEY);\nINSERT INTO t2 SELECT id FROM t WHERE id > 1;\n"
           "DROP TABLE t;\nALTER TABLE t2 RENAME TO t;\n")
    cause = loss_cause(Migration(2, "r", "", sql, "0002_r.sql"), "t", _schema_of("CREATE TABLE t (id);"))
    assert cause.line == 2 and cause.mechanism.startswith("rows of t not carried over by `INSERT INTO t2 SELECT")


def test_schema_line_and_problem_tables() -> None:
    m = Migration(3, "idx", "", "CREATE TABLE a (x);\nCREATE INDEX notes_by_title ON notes(title);\n"
                  "ALTER TABLE notes ADD COLUMN color TEXT;\n", "0003_idx.sql")
    assert schema_line(m, "index notes_by_title: missing in upgraded") == 2
    assert schema_line(m, "table notes: column color missing in upgraded") == 3
    assert schema_line(m, "table other: present in upgraded only") is None
    assert tables_of(["table tasks: 20 of 20 rows lost", "table a (now b): column(s) x dropped", "invariant x"]) == [
        "tasks", "a"]


def test_an_upgrade_failure_names_its_file_and_line_from_the_engines_message(tmp_path: Path) -> None:
    from harness.checks.context import CaseContext
    from harness.engines.protocol import Outcome

    class Engine:
        def migrations(self) -> tuple[Migration, ...]:
            return (Migration(1, "a", "", "", "m/0001_a.sql"), Migration(2, "b", "", "", "m/0002_b.sql"))

    ctx = CaseContext(case=None, scenario=None, engine=Engine(), store=None, workdir=tmp_path)  # type: ignore[arg-type]
    failure = Outcome("migrate", ok=False, error_code="migration_failed",
                      message="0002_b.sql line 4: UNIQUE constraint failed: t.x")
    cause = upgrade_cause(ctx, tmp_path / "copy.db", 1, failure)
    assert (cause.migration, cause.line, cause.mechanism) == (
        "m/0002_b.sql", 4, "upgrade fails: UNIQUE constraint failed: t.x")
    coded = upgrade_cause(ctx, tmp_path / "copy.db", 0, Outcome("migrate", ok=False, error_code="schema_mismatch",
                                                                 message="0001_a.sql: table t exists"))
    assert (coded.migration, coded.line, coded.mechanism) == (
        "m/0001_a.sql", None, "upgrade fails (schema_mismatch): table t exists")


def test_an_upgrade_failure_the_engine_does_not_locate_is_found_by_stepping(tmp_path: Path) -> None:
    from harness.checks.context import CaseContext
    from harness.engines.protocol import Outcome

    class Engine:
        """Applies migrations up to a target; the third fails, saying only what went wrong."""

        def __init__(self) -> None:
            self.targets: list[int | None] = []

        def migrations(self) -> tuple[Migration, ...]:
            return tuple(Migration(v, f"m{v}", "", "", f"m/000{v}_m{v}.sql") for v in (1, 2, 3, 4))

        def migrate(self, db: Path, target: int | None = None) -> Outcome:
            self.targets.append(target)
            if target is None or target >= 3:
                return Outcome("migrate", ok=False, error_code="engine_error", message="CHECK constraint failed: x")
            return Outcome("migrate", ok=True)

    engine = Engine()
    ctx = CaseContext(case=None, scenario=None, engine=engine, store=None, workdir=tmp_path)  # type: ignore[arg-type]
    failure = Outcome("migrate", ok=False, error_code="engine_error", message="CHECK constraint failed: x")
    cause = upgrade_cause(ctx, tmp_path / "copy.db", 1, failure)
    assert (cause.migration, cause.line, cause.mechanism) == ("m/0003_m3.sql", None,
                                                              "upgrade fails: CHECK constraint failed: x")
    assert engine.targets == [2, 3]  # one migration at a time from the start's version, stopping at the failure
