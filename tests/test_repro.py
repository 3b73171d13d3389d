"""`harness repro CASE_ID`: a failing case from a report reruns alone and fails the same way."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

from gate_helpers import BROKEN, ROOT, run_gate, scenario_for


def test_repro_reproduces_a_reported_failure(tmp_path: Path) -> None:
    scenario = scenario_for(tmp_path, f"{BROKEN.as_posix()}:NoPosture", "[checks.install]\n[checks.posture]\n")
    gate = run_gate(tmp_path, str(scenario))
    assert gate.status == 1
    failing = [c for c in gate.results["cases"] if c["outcome"] == "failed"]
    assert [c["case_id"] for c in failing] == ["posture::pragmas"]
    command = shlex.split(failing[0]["repro"])  # exactly what the report tells a developer to run
    assert command[:3] == ["harness", "repro", "posture::pragmas"]
    workdir = tmp_path / "repro"
    proc = subprocess.run([sys.executable, "-m", "harness", *command[1:], "--workdir", str(workdir)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "posture::pragmas FAILED" in proc.stdout
    assert failing[0]["summary"] in proc.stdout  # the same failure, word for word
    kept = Path(proc.stdout.split("case files: ")[1].splitlines()[0])
    assert kept.is_dir() and (kept / "data" / "app.sqlite3").is_file()
    rerun = json.loads((workdir / "reports" / "results.json").read_text())
    assert [c["case_id"] for c in rerun["cases"]] == ["posture::pragmas"]
    assert rerun["cases"][0]["seed"] == failing[0]["seed"]


def test_repro_of_an_unknown_case_exits_2(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "harness", "repro", "posture::nope", "--scenario",
                           "scenarios/reference.toml"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "no case 'posture::nope'" in proc.stderr
