"""What `harness gate` publishes: every report, artifacts of failing cases, GitHub integration."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from gate_helpers import BROKEN, ROOT, scenario_for


def test_failing_gate_publishes_reports_artifacts_and_github_output(tmp_path: Path) -> None:
    scenario = scenario_for(tmp_path, f"{BROKEN.as_posix()}:NoPosture", "[checks.install]\n[checks.posture]\n")
    step_summary = tmp_path / "step-summary.md"
    step_summary.write_text("earlier step\n")
    env = {**os.environ, "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(step_summary),
           "GITHUB_WORKSPACE": str(tmp_path)}
    reports = tmp_path / "reports"
    proc = subprocess.run([sys.executable, "-m", "harness", "gate", str(scenario), "-n", "0", "--reports",
                           str(reports)], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    for name in ("junit.xml", "report.html", "summary.md", "results.json"):
        assert (reports / name).is_file(), name
    annotations = [line for line in proc.stdout.splitlines() if line.startswith("::error ")]
    assert len(annotations) == 1 and "title=posture%3A%3Apragmas" in annotations[0]
    assert "file=under-test.toml" in annotations[0]
    summary = step_summary.read_text()
    assert summary.startswith("earlier step\n") and "posture::pragmas" in summary and "[runbook](" in summary
    kept = list((reports / "artifacts").glob("posture*/data/app.sqlite3"))
    assert kept, list((reports / "artifacts").rglob("*"))
    html = (reports / "report.html").read_text()
    assert "posture::pragmas" in html and "artifacts/posture" in html


def test_report_rerenders_from_results(tmp_path: Path) -> None:
    scenario = scenario_for(tmp_path, "harness.reference:ReferenceEngine", "[checks.posture]\n")
    first = subprocess.run([sys.executable, "-m", "harness", "gate", str(scenario), "-n", "0", "--reports",
                            str(tmp_path / "a")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stdout + first.stderr
    again = subprocess.run([sys.executable, "-m", "harness", "report", str(tmp_path / "a" / "results.json"),
                            "--reports", str(tmp_path / "b")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert (tmp_path / "b" / "junit.xml").read_text() == (tmp_path / "a" / "junit.xml").read_text()
    assert (tmp_path / "b" / "report.html").is_file()
    bad = tmp_path / "broken.json"
    bad.write_text("{not json")
    failed = subprocess.run([sys.executable, "-m", "harness", "report", str(bad)], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert failed.returncode == 2 and "is not a harness results file" in failed.stderr
