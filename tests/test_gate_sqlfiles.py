"""Gating a plain directory of SQL migration files, which the harness applies itself."""

from __future__ import annotations

from pathlib import Path

from gate_helpers import run_gate

DATA = Path(__file__).resolve().parent / "data"


def scenario(tmp_path: Path, directory: str) -> Path:
    path = tmp_path / "sqlfiles.toml"
    path.write_text(
        f'[suite]\nname = "sqlfiles"\nseed = 3\n\n[engine]\nadapter = "sqlfiles"\n'
        f'directory = "{(DATA / directory).as_posix()}"\n\n[checks.install]\n',
        encoding="utf-8",
    )
    return path


def test_plain_directory_is_green(tmp_path: Path) -> None:
    run = run_gate(tmp_path, str(scenario(tmp_path, "sqlfiles_plain")))
    assert run.status == 0, run.stdout + run.stderr
    assert {c["case_id"]: c["outcome"] for c in run.results["cases"]} == {
        "install::migrates-to-head": "passed",
        "install::diagnostics-clean": "passed",
        "install::crash-atomic": "passed",
    }


def test_file_with_its_own_transaction_is_not_crash_atomic(tmp_path: Path) -> None:
    run = run_gate(tmp_path, str(scenario(tmp_path, "sqlfiles_own_tx")))
    assert run.status == 1, run.stdout + run.stderr
    assert run.outcome("install::crash-atomic") == "failed"
    assert run.outcome("install::migrates-to-head") == "passed"
    assert "history [1, 2]" in run.case("install::crash-atomic")["details"]
