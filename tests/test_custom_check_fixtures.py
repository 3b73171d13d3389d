"""A custom check written as a plain pytest test with harness_engine / harness_fixture_db."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.gate_helpers import scenario_for

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "tests" / "data" / "custom_checks" / "team_rules.py"  # not test_*.py: run only here


def pytest_run(tmp_path: Path, target: str, *extra: str) -> subprocess.CompletedProcess[str]:
    scenario = scenario_for(tmp_path, target, "[checks.install]\n")
    return subprocess.run([sys.executable, "-m", "pytest", str(RULES), "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
                           "--rootdir", str(tmp_path), "--harness-scenario", str(scenario), *extra],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)


def test_team_rule_green_on_the_reference_engine(tmp_path: Path) -> None:
    proc = pytest_run(tmp_path, "harness.reference:ReferenceEngine")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 passed" in proc.stdout


def test_team_rule_red_on_an_engine_that_skips_its_snapshot(tmp_path: Path) -> None:
    proc = pytest_run(tmp_path, f"{ROOT / 'tests' / 'broken_engines.py'}:NoSnapshot")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 failed, 1 passed" in proc.stdout
    assert "no snapshot was taken before migrating" in proc.stdout


def test_fixtures_without_a_scenario_say_how_to_give_one(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "pytest", str(RULES), "-q", "-p", "no:cacheprovider",
                           "--rootdir", str(tmp_path)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "harness_scenario" in proc.stdout + proc.stderr
