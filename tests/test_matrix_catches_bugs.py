"""Every matrix check goes red on an engine with the bug it exists for, and green on the correct one."""

from __future__ import annotations

import shlex
import sqlite3
import tomllib
from contextlib import closing
from pathlib import Path

import pytest

from gate_helpers import BROKEN, ROOT, run_gate, scenario_for
from harness.checks.matrix import CHECKS

MIGRATION_BUGS = Path(__file__).resolve().parent / "broken_migrations.py"
# Few fault points on purpose: most VM steps of a migration run are read-only inspection before
# its first write, where an interrupt proves nothing. Points are drawn one per stratum of the run
# (harness.checks.matrix_faults.stratified_points), so even 4 reach the migration statements; plain
# hypothesis integers, which favour small values, once let a non-atomic engine pass with 4.
FAULT_EXAMPLES = 4


def _orphan_fixes() -> list[str]:
    """The reference scenario's [checks.matrix.params] orphan_fixes, copied (fixtures with orphans need them)."""
    with open(ROOT / "scenarios" / "reference.toml", "rb") as handle:
        return list(tomllib.load(handle)["checks"]["matrix"]["params"]["orphan_fixes"])


def matrix_families(fixtures: list[str]) -> str:
    quoted = ", ".join(f'"{f}"' for f in fixtures)
    fixes = ", ".join(f'"{f}"' for f in _orphan_fixes())
    return (f"[checks.matrix]\nfixtures = [{quoted}]\n\n"
            f"[checks.matrix.params]\nfault_examples = {FAULT_EXAMPLES}\norphan_fixes = [{fixes}]\n")


def case(fixture: str, check: str) -> str:
    return f"matrix[fixture={fixture}]::{check}"


# (engine target, fixture, check, words the failure must say)
BUGS = [
    (f"{MIGRATION_BUGS.as_posix()}:DropsColumnData", "v3-training-flag", "data-preserved",
     ("table runs: column(s) transcript dropped with their data",)),
    (f"{MIGRATION_BUGS.as_posix()}:ForgetsIndexOnUpgrade", "v3-training-flag", "schema-converges",
     ("upgraded schema differs from the fresh install", "index idx_runs_created: missing in upgraded")),
    (f"{MIGRATION_BUGS.as_posix()}:ConnectionSettingAcrossMigrations", "v6-seed-quests", "path-equivalent",
     ("step-by-step upgrade differs from one run", "content: table settings")),
    (f"{MIGRATION_BUGS.as_posix()}:StampsEveryMigrate", "v2-outline-and-settings", "idempotent",
     ("migrating again at head is not a no-op", "table settings")),
    (f"{MIGRATION_BUGS.as_posix()}:SkipsForeignKeyCheck", "v3-training-flag", "integrity",
     ("foreign_key_check: 1 violations", "runs rowid")),
    (f"{MIGRATION_BUGS.as_posix()}:NormalisedChecksum", "v1-pre-history", "history-continuous",
     ("history after the upgrade", "version 8 checksum")),
    (f"{MIGRATION_BUGS.as_posix()}:AutocommitStatements", "v3-training-flag", "atomic-on-failure",
     ("interrupt-at-step at point", "is no whole number of migrations")),
    (f"{BROKEN.as_posix()}:HistoryCommittedSeparately", "v3-training-flag", "crash-safe",
     ("kill-after-commit at point", "is no whole number of migrations")),
]
IDS = [b[0].rpartition(":")[2] for b in BUGS]
RUNBOOKS = {spec.id: spec.runbook for spec in CHECKS}


def test_every_matrix_check_has_a_bug() -> None:
    assert sorted(check for _, _, check, _ in BUGS) == sorted(set(RUNBOOKS) - {"upgrades"})


@pytest.mark.parametrize(("target", "fixture", "check", "words"), BUGS, ids=IDS)
def test_broken_engine_goes_red(tmp_path: Path, target: str, fixture: str, check: str,
                                words: tuple[str, ...]) -> None:
    case_id = case(fixture, check)
    scenario = scenario_for(tmp_path, target, matrix_families([fixture]))
    run = run_gate(tmp_path, str(scenario), "--case", case_id)
    assert run.status == 1, run.stdout + run.stderr
    assert run.outcome(case_id) == "failed", run.case(case_id)
    found = run.case(case_id)
    for word in words:
        assert word in found["summary"] + "\n" + found["details"], (word, found)
    # The failure says what to do next: the check's runbook, the seed and a command that reruns it.
    assert found["runbook"] == RUNBOOKS[check]
    assert f"runbook {found['runbook_url']}" in run.stdout
    assert f"harness repro {shlex.quote(case_id)} " in run.stdout and "--seed 7" in run.stdout


def test_same_cases_green_on_reference_engine(tmp_path: Path) -> None:
    cases = sorted({case(fixture, check) for _, fixture, check, _ in BUGS})
    fixtures = sorted({fixture for _, fixture, _, _ in BUGS})
    scenario = scenario_for(tmp_path, "harness.reference:ReferenceEngine", matrix_families(fixtures))
    run = run_gate(tmp_path, str(scenario), *[arg for c in cases for arg in ("--case", c)])
    outcomes = {c["case_id"]: c["outcome"] for c in run.results.get("cases", [])}
    assert outcomes == {c: "passed" for c in cases}, run.stdout + run.stderr
    assert run.status == 0, run.stdout + run.stderr


def _like_mode(db: Path) -> str:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute("SELECT value FROM settings WHERE key = 'like_mode'").fetchone()[0]


def test_one_run_keeps_connection_state_between_migrations(tmp_path: Path) -> None:
    """The premise of the path-equivalent bug: the reference applies all pending migrations on one
    connection (0008's PRAGMA still holds in 0009), one step per call uses a new connection."""
    import broken_migrations

    engine = broken_migrations.ConnectionSettingAcrossMigrations()
    assert [m.version for m in engine.migrations()] == list(range(1, 10))
    one_run = tmp_path / "one" / "app.sqlite3"
    one_run.parent.mkdir()
    engine.migrate(one_run)
    stepped = tmp_path / "stepped" / "app.sqlite3"
    stepped.parent.mkdir()
    for version in range(1, 10):
        engine.migrate(stepped, version)
    assert (_like_mode(one_run), _like_mode(stepped)) == ("sensitive", "insensitive")


def test_idempotent_goes_red_on_a_write_that_leaves_the_logical_state_equal(tmp_path: Path) -> None:
    """Idempotency is judged on the bytes first: an engine whose second migrate rewrites
    statistics changes no row or schema entry a state comparison reads, yet writes the file."""
    case_id = case("v3-training-flag", "idempotent")
    target = f"{MIGRATION_BUGS.as_posix()}:AnalyzesEveryMigrate"
    run = run_gate(tmp_path, str(scenario_for(tmp_path, target, matrix_families(["v3-training-flag"]))),
                   "--case", case_id)
    assert run.status == 1, run.stdout + run.stderr
    found = run.case(case_id)
    assert run.outcome(case_id) == "failed", found
    assert "migrating again at head is not a no-op" in found["summary"], found
    assert "files changed: app.sqlite3" in found["summary"] + "\n" + found["details"], found
