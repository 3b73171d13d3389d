"""Reports are one run's set; a second run on the same directory is refused; processes an
engine leaves behind are ended and reported; kept case files are capped; terminal and CI
log text is sanitised."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from gate_helpers import MANIFEST, ROOT

ENGINES = Path(__file__).resolve().parent / "hostile_engines.py"
REPORTS = ("junit.xml", "results.json", "report.html", "summary.md")


def scenario(tmp_path: Path, target: str = "harness.reference:ReferenceEngine",
             checks: str = "[checks.install]\n", name: str = "s") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(f'[suite]\nname = "rep"\nseed = 1\n\n[engine]\nadapter = "python"\ntarget = "{target}"\n\n'
                    f'[fixtures]\nmanifest = "{MANIFEST.as_posix()}"\n\n{checks}', encoding="utf-8")
    return path


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "harness", "gate", *args]


def test_a_second_run_on_the_same_reports_directory_is_refused(tmp_path: Path) -> None:
    first = subprocess.Popen(command(str(scenario(tmp_path, checks="[checks.matrix]\n")), "--reports", "r", "-n", "0",
                                     "--workdir", "w"), cwd=tmp_path, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "r" / ".harness.lock").exists() or not (tmp_path / "r" / ".harness.lock").read_text():
            assert time.monotonic() < deadline and first.poll() is None, "the first run never took the lock"
            time.sleep(0.1)
        second = subprocess.run(command(str(scenario(tmp_path)), "--reports", "r", "-n", "0"), cwd=tmp_path,
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 2
        assert "another harness run" in second.stderr and str(first.pid) in second.stderr
    finally:
        first.kill()
        first.communicate()


def test_after_sigint_every_report_is_this_runs_and_marked_partial(tmp_path: Path) -> None:
    reports = tmp_path / "r"
    done = subprocess.run(command(str(scenario(tmp_path)), "--reports", "r", "-n", "0"), cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "PASSED" in (reports / "summary.md").read_text()
    hangs = scenario(tmp_path, f"{ENGINES.as_posix()}:HangsInMigrate", name="hangs")
    run = subprocess.Popen(command(str(hangs), "--reports", "r", "-n", "0", "--workdir", "w"),
                           cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not any((tmp_path / "w").glob("*/*")) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1)  # the first case is running (and hangs)
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=120)
    assert run.returncode == 130, out + err
    for name in REPORTS:
        text = (reports / name).read_text()
        assert "interrupted" in text, name
        assert "PASSED" not in text.split("\n", 3)[0] or name == "results.json", name
    results = json.loads((reports / "results.json").read_text())
    assert any(case["case_id"] == "harness::interrupted" for case in results["cases"])
    assert not any(case["outcome"] == "passed" for case in results["cases"])  # nothing of the first run


def test_a_process_left_running_is_ended_and_a_finding(tmp_path: Path) -> None:
    target = f"{ENGINES.as_posix()}:LeavesAChildRunning"
    proc = subprocess.run(command(str(scenario(tmp_path, target, '[checks.install]\nonly = ["migrates-to-head"]\n')),
                                  "--reports", "r", "-n", "0", "--workdir", "w"), cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    results = json.loads((tmp_path / "r" / "results.json").read_text())
    case = next(c for c in results["cases"] if c["case_id"] == "install::migrates-to-head")
    assert case["outcome"] == "errored" and "left 1 process running" in case["summary"]
    survivors = subprocess.run(["pgrep", "-f", "time.sleep\\(600\\)"], capture_output=True, text=True).stdout.split()
    mine = [pid for pid in survivors if Path(f"/proc/{pid}/cwd").exists()
            and os.path.realpath(f"/proc/{pid}/cwd") == os.path.realpath(tmp_path)]
    assert not mine


def test_passing_cases_leave_no_directories_behind(tmp_path: Path) -> None:
    proc = subprocess.run(command(str(scenario(tmp_path)), "--reports", "r", "-n", "0", "--workdir", "w"),
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert list((tmp_path / "w").iterdir()) == []


def test_kept_case_files_are_capped(tmp_path: Path) -> None:
    target = f"{Path(ROOT / 'tests' / 'broken_engines.py').as_posix()}:LyingDiagnostics"
    args = [sys.executable, "-m", "pytest", str(scenario(tmp_path, target)), "-q", "-p", "no:randomly", "-p", "no:cacheprovider", "--harness-workdir", str(tmp_path / "w"),
            "--harness-keep-cap", "1", "--harness-results", str(tmp_path / "results.json")]
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    results = json.loads((tmp_path / "results.json").read_text())
    failing = [c for c in results["cases"] if c["outcome"] in ("failed", "errored")]
    assert failing, proc.stdout
    assert all("cap on kept case files" in c["details"] for c in failing)
    assert not any(p.is_dir() for run in (tmp_path / "w").iterdir() for p in run.iterdir())


def test_engine_text_cannot_drive_the_terminal_or_the_ci_log(tmp_path: Path) -> None:
    target = f"{ENGINES.as_posix()}:InjectsIntoTheTerminal"
    proc = subprocess.run(command(str(scenario(tmp_path, target, '[checks.install]\nonly = ["migrates-to-head"]\n')),
                                  "--reports", "r", "-n", "0", "--workdir", "w"), cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, env={**os.environ, "GITHUB_ACTIONS": ""})
    assert proc.returncode == 1
    output = proc.stdout + proc.stderr
    assert "boom" in output
    assert "\x1b" not in output and "\x07" not in output
    for line in output.splitlines():
        assert not line.lstrip().startswith("::"), line
        assert "\r" not in line
