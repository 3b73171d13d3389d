"""Fault points on executables are a pure function of the seed and the counted points: the
same gate gives the same results every time, and a flaky engine is reported as flaky, with
both outcomes, never as an error of the harness."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from gate_helpers import MANIFEST, run_gate, scenario_for
from harness.engines.faults import strace_tool

CLI = (Path(__file__).resolve().parent / "durability_cli.py").as_posix()
ENGINES = (Path(__file__).resolve().parent / "durability_engines.py").as_posix()
FIXTURE = "v1-pre-history"

pytestmark = pytest.mark.skipif(not strace_tool().usable, reason=f"needs strace: {strace_tool().reason}")


def command_scenario(tmp_path: Path, engine: str, *state: str) -> Path:
    base = [sys.executable, CLI, engine, *state]

    def argv(*rest: str) -> str:
        return "[" + ", ".join(f'"{a}"' for a in (*base, *rest)) + "]"

    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "scenario.toml"
    path.write_text(
        f'[suite]\nname = "faults"\nseed = 11\n\n'
        f'[engine]\nadapter = "command"\ntimeout = 120\n[engine.commands]\n'
        f'migrate = {argv("migrate", "--db", "{db}", "--target", "{target}")}\n'
        f'migrations = {argv("migrations")}\n\n'
        f'[fixtures]\nmanifest = "{MANIFEST.as_posix()}"\n\n'
        f'[checks.matrix]\nonly = ["crash-safe"]\nfixtures = ["{FIXTURE}"]\nparams = {{ fault_examples = 4 }}\n',
        encoding="utf-8")
    return path


CASE = f"matrix[fixture={FIXTURE}]::crash-safe"


def results(run_dir: Path, engine: str, *state: str) -> tuple[str, str, str, object]:
    run = run_gate(run_dir, str(command_scenario(run_dir, engine, *state)), "--case", CASE, timeout=900)
    case = run.case(CASE)
    return case["outcome"], case["summary"], case["measured"], case["observations"].get("faults")


def test_an_executable_gated_five_times_with_one_seed_gives_identical_results(tmp_path: Path) -> None:
    runs = [results(tmp_path / f"run-{i}", "MemoryJournal") for i in range(5)]
    assert runs[0][0] == "failed", runs[0]  # a bug the faults find, at a point that must not move
    assert all(run == runs[0] for run in runs), runs


def test_a_flaky_engine_is_reported_as_flaky_with_both_outcomes(tmp_path: Path) -> None:
    # Splits its commits (a crash between them is caught at the first commit point) until
    # it has been killed once: the failing point passes when it is run again.
    state = tmp_path / "engine-state"
    state.mkdir()
    scenario = scenario_for(tmp_path, f"{ENGINES}:FlakyUntilKilled",
                            f'[checks.matrix]\nonly = ["crash-safe"]\nfixtures = ["{FIXTURE}"]\n',
                            name="flaky")
    text = scenario.read_text(encoding="utf-8").replace(
        'target = "', f'options = {{ state = "{state.as_posix()}" }}\ntarget = "')
    scenario.write_text(text, encoding="utf-8")
    run = run_gate(tmp_path, str(scenario), "--case", CASE, timeout=900)
    case = run.case(CASE)
    assert case["outcome"] == "failed" and case["summary"].startswith("flaky: "), case
    assert "failed once and passed on an identical run" in case["summary"]
    assert "failed 1 of 2 runs" in case["measured"] and "the passing run" in case["details"]
    assert case["observations"]["flaky"] is True
