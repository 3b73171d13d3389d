"""Every check goes red on an engine with the bug it exists for, and green on the correct one."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from gate_helpers import BROKEN, run_gate, scenario_for

SOURCE = "v3-training-flag"
RECOVERY = f'[checks.recovery]\nfixtures = ["{SOURCE}"]\n'


def recovery_case(state: str, check: str) -> str:
    return f"recovery[fixture={SOURCE},snapshots={state}]::{check}"


BUGS = [
    ("AcceptsGappedHistory", '[checks.continuity]\nfixtures = ["neg-gap"]\n', "continuity[fixture=neg-gap]::refused",
     "migrated although its history is invalid"),
    ("HistoryCommittedSeparately", '[checks.install]\nonly = ["crash-atomic"]\n', "install::crash-atomic",
     "is no whole number of migrations"),
    ("NoPosture", "[checks.posture]\n", "posture::pragmas", "journal_mode: expected wal"),
    ("LyingDiagnostics", '[checks.install]\nonly = ["diagnostics-clean"]\n', "install::diagnostics-clean",
     "diagnostics disagree with the database"),
    ("NoSnapshot", RECOVERY, recovery_case("one-valid", "snapshot-before-migrate"), "no snapshot was taken"),
    ("DeletingRecovery", RECOVERY, recovery_case("one-valid", "restores-newest-valid"), "is gone"),
    # SQLite discards the foreign -wal left beside the restored file: the evidence is lost.
    ("ForgetsWal", RECOVERY, recovery_case("one-valid", "restores-newest-valid"), "app.sqlite3-wal is gone"),
    ("UnverifiedRestore", RECOVERY, recovery_case("newest-corrupt", "restores-newest-valid"),
     "open failed although a valid snapshot exists"),
    ("OverwritingQuarantine", RECOVERY, recovery_case("one-valid", "repeated-damage-kept"),
     "a quarantine overwrote an earlier one"),
    ("ResetsToEmpty", RECOVERY, recovery_case("none", "refuses-without-snapshot"), "open succeeded with no snapshot"),
]


@pytest.mark.parametrize(("engine", "families", "case_id", "words"), BUGS, ids=[b[0] for b in BUGS])
def test_broken_engine_goes_red(tmp_path: Path, engine: str, families: str, case_id: str, words: str) -> None:
    scenario = scenario_for(tmp_path, f"{BROKEN.as_posix()}:{engine}", families)
    run = run_gate(tmp_path, str(scenario), "--case", case_id)
    assert run.status == 1, run.stdout + run.stderr
    assert run.outcome(case_id) == "failed"
    case = run.case(case_id)
    assert words in case["summary"] + case["details"], case
    # The failure says what to do next: runbook, seed and a command that reruns it.
    assert f"runbook {case['runbook_url']}" in run.stdout
    assert f"harness repro {shlex.quote(case_id)} " in run.stdout and "--seed 7" in run.stdout


@pytest.mark.parametrize(("engine", "families", "case_id", "words"), BUGS, ids=[b[0] for b in BUGS])
def test_same_case_green_on_reference_engine(tmp_path: Path, engine: str, families: str, case_id: str,
                                             words: str) -> None:
    scenario = scenario_for(tmp_path, "harness.reference:ReferenceEngine", families)
    run = run_gate(tmp_path, str(scenario), "--case", case_id)
    assert run.status == 0, run.stdout + run.stderr
    assert run.outcome(case_id) == "passed"
