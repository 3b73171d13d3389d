"""Scenario files for the plan tests: a [suite], [engine] and [fixtures] in front of the reference
engine's [checks.plans] section (reference-checks-plans.toml), written where a test wants them."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parent
ROOT = DATA.parents[2]
CHECKS = DATA / "reference-checks-plans.toml"
MANIFEST = ROOT / "fixtures" / "manifest.toml"
ENGINES = DATA / "plan_engines.py"
REFERENCE = "harness.reference:ReferenceEngine"
SEED = 20261122


def scenario_text(baselines: Path, *, target: str = REFERENCE, extra: str = "", name: str = "reference-plans") -> str:
    checks = CHECKS.read_text(encoding="utf-8")
    old = 'baseline_dir = "plans/reference"'
    assert old in checks, old
    checks = checks.replace(old, f'baseline_dir = "{baselines.as_posix()}"')
    head = (f'[suite]\nname = "{name}"\nseed = {SEED}\n\n'
            f'[engine]\nadapter = "python"\ntarget = "{target}"\n\n'
            f'[fixtures]\nmanifest = "{MANIFEST.as_posix()}"\n\n')
    return head + checks + extra


def write_scenario(directory: Path, baselines: Path, *, target: str = REFERENCE, extra: str = "") -> Path:
    """The reference-plans scenario gating ``target``, its plan baselines in ``baselines``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "plans-under-test.toml"
    path.write_text(scenario_text(baselines, target=target, extra=extra), encoding="utf-8")
    return path
