"""A Python engine that hangs, aborts, segfaults, exits or hard-exits ends only its own case:
the case is ERRORED naming the cause, the other cases run, the reports are written, and no
traceback or "Fatal Python error" reaches the output. Each run is bounded in time."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.engines.protocol import CODE_CRASH, CODE_TIMEOUT
from harness.engines.python import PythonEngine

from gate_helpers import MANIFEST, ROOT
from hostile_engines import (
    AbortsInMigrate, ExitsZeroInMigrate, HangsInMigrate, HardExitsInMigrate, SegfaultsInMigrate,
)
from hostile_helpers import bounded

ENGINES = Path(__file__).resolve().parent / "hostile_engines.py"


@pytest.mark.parametrize(
    ("engine", "code", "words"),
    [
        (HangsInMigrate, CODE_TIMEOUT, "within the 1 s timeout"),
        (AbortsInMigrate, CODE_CRASH, "SIGABRT"),
        (SegfaultsInMigrate, CODE_CRASH, "SIGSEGV"),
        (ExitsZeroInMigrate, CODE_CRASH, "sys.exit(0)"),
        (HardExitsInMigrate, CODE_CRASH, "exit status 3"),
    ],
)
def test_each_operation_is_isolated_and_bounded(tmp_path: Path, engine: type, code: str, words: str) -> None:
    adapter = PythonEngine(engine(), engine.__name__, timeout=1.0)
    with bounded(60):
        outcome = adapter.migrate(tmp_path / "app.sqlite3")
    assert not outcome.ok and outcome.error_code == code, outcome
    assert words in outcome.message, outcome.message
    assert adapter.migrate.__self__ is adapter  # the harness's process is still here to ask again


def gate(tmp_path: Path, target: str) -> tuple[subprocess.CompletedProcess[str], dict, float]:
    scenario = tmp_path / "s.toml"
    scenario.write_text(f'[suite]\nname = "hostile"\nseed = 1\n\n[engine]\nadapter = "python"\ntarget = "{target}"\n'
                        f'timeout = 2\n\n[fixtures]\nmanifest = "{MANIFEST.as_posix()}"\n\n'
                        '[checks.install]\nonly = ["migrates-to-head"]\n\n[checks.lint]\n', encoding="utf-8")
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "harness", "gate", str(scenario), "--reports", str(tmp_path / "r"),
                           "-n", "0", "--workdir", str(tmp_path / "w")], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    results_file = tmp_path / "r" / "results.json"
    return proc, json.loads(results_file.read_text()) if results_file.is_file() else {}, time.monotonic() - start


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("HangsInMigrate", "timeout"),
        ("AbortsInMigrate", "SIGABRT"),
        ("ExitsZeroInMigrate", "sys.exit(0)"),
        ("HardExitsInMigrate", "exit status 3"),
    ],
)
def test_the_gate_survives_a_hostile_engine(tmp_path: Path, name: str, words: str) -> None:
    proc, results, seconds = gate(tmp_path, f"{ENGINES.as_posix()}:{name}")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert "Traceback" not in output and "Fatal Python error" not in output
    assert len(output.splitlines()) < 80, output
    cases = {c["case_id"]: c for c in results["cases"]}
    case = cases["install::migrates-to-head"]
    assert case["outcome"] == "errored" and words in case["summary"] + case["details"], case
    assert len(cases) > 1 and all(c["outcome"] != "errored" for k, c in cases.items() if k.startswith("lint"))
    for report in ("junit.xml", "report.html", "summary.md"):
        assert (tmp_path / "r" / report).is_file()
    assert seconds < 120
