"""Corruption drills go red on engines with the recovery bugs they exist for, green on the reference."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from gate_helpers import BROKEN, run_gate, scenario_for

SOURCE = "v3-training-flag"
KINDS = ["header-magic", "busy-locked", "snapshot-newest-corrupt", "table-leaf-damaged"]
DRILLS = f'[checks.drills]\nparams = {{ kinds = {KINDS!r}, cross = true }}\n'.replace("'", '"')
RECOVERY = f'[checks.recovery]\nfixtures = ["{SOURCE}"]\n'


def drill(kind: str, snapshots: str, journal: str = "wal") -> str:
    return f"drills[fixture={SOURCE},kind={kind},snapshots={snapshots},journal={journal}]::handled"


BUGS = [
    ("DeletingRecovery", DRILLS, drill("header-magic", "one-valid"), "is gone"),
    ("UnverifiedRestore", DRILLS, drill("snapshot-newest-corrupt", "generations"),
     "the database at the original path is not sound"),
    ("ForgetsWal", RECOVERY, f"recovery[fixture={SOURCE},snapshots=one-valid]::restores-newest-valid",
     "app.sqlite3-wal is gone"),
    ("SecondResolutionQuarantine", RECOVERY, f"recovery[fixture={SOURCE},snapshots=one-valid]::repeated-damage-kept",
     "a quarantine overwrote an earlier one"),
    ("QuarantinesOnTransientError", DRILLS, drill("busy-locked", "one-valid"), "quarantined on a transient fault"),
    ("ResetsToEmpty", DRILLS, drill("table-leaf-damaged", "none"), "open succeeded with no valid snapshot"),
    ("DeletingRecovery", "[checks.drills]\n", f"drills[fixture={SOURCE},power=open]::power-loss",
     "neither the damaged original nor a sound restored copy survives"),
    ("NoStartupCheck", "[checks.drills]\n", f"drills[fixture={SOURCE},random=page-damage]::random-damage",
     "random damage: "),
]


@pytest.mark.parametrize(("engine", "families", "case_id", "words"), BUGS, ids=[f"{b[0]}-{b[2].split('::')[1]}"
                                                                             for b in BUGS])
def test_broken_engine_fails_the_drill(tmp_path: Path, engine: str, families: str, case_id: str, words: str) -> None:
    scenario = scenario_for(tmp_path, f"{BROKEN.as_posix()}:{engine}", families)
    run = run_gate(tmp_path, str(scenario), "--case", case_id)
    assert run.status == 1, run.stdout + run.stderr
    case = run.case(case_id)
    assert case["outcome"] == "failed" and words in case["summary"] + case["details"], case
    if "kind" in case["params"]:
        # every drill failure names the kind, the seed, the files and hashes, the runbook, a repro
        kind = case["params"]["kind"]
        assert f"{kind} (seed {case['observations']['damage'].split('seed ')[1].split(')')[0]})" in case["details"]
        assert "damaged file app.sqlite3: sha256 " in case["details"]
        assert case["runbook_url"].endswith(".md") and "drill-" in case["runbook_url"]
        assert f"harness repro {shlex.quote(case_id)}" in case["repro"]


def test_reference_engine_passes_the_same_drills(tmp_path: Path) -> None:
    scenario = scenario_for(tmp_path, "harness.reference:ReferenceEngine", DRILLS + RECOVERY)
    cases = sorted({case_id for _, families, case_id, _ in BUGS if families in (DRILLS, RECOVERY)})
    run = run_gate(tmp_path, str(scenario), *[arg for c in cases for arg in ("--case", c)])
    assert run.status == 0, run.stdout + run.stderr
    assert {c["case_id"]: c["outcome"] for c in run.results["cases"]} == {c: "passed" for c in cases}


def test_reference_engine_survives_power_loss_and_random_damage(tmp_path: Path) -> None:
    scenario = scenario_for(tmp_path, "harness.reference:ReferenceEngine", "[checks.drills]\n")
    cases = sorted({case_id for _, families, case_id, _ in BUGS if families == "[checks.drills]\n"})
    run = run_gate(tmp_path, str(scenario), *[arg for c in cases for arg in ("--case", c)])
    assert run.status == 0, run.stdout + run.stderr
    assert {c["case_id"]: c["outcome"] for c in run.results["cases"]} == {c: "passed" for c in cases}


def test_slow_recovery_is_judged_at_the_thresholds_severity(tmp_path: Path) -> None:
    families = DRILLS + "thresholds = { recovery_seconds = { limit = 0.000001, severity = \"warn\" } }\n"
    scenario = scenario_for(tmp_path, "harness.reference:ReferenceEngine", families)
    case_id = drill("header-magic", "one-valid")
    run = run_gate(tmp_path, str(scenario), "--case", case_id)
    assert run.status == 0, run.stdout + run.stderr  # a warning does not fail the gate
    case = run.case(case_id)
    assert case["outcome"] == "warned" and "recovery took" in case["summary"]
    assert case["threshold"] == "1e-06s"


def test_default_drills_cover_every_kind_state_and_journal_mode() -> None:
    from harness.checks.drills import JOURNALS, _axes
    from harness.checks.recovery import STATES
    from harness.corruption import catalogue
    from harness.fixtures.manifest import load
    from harness.scenario import FamilySpec

    from gate_helpers import MANIFEST

    from harness.scenario import load as load_scenario
    from gate_helpers import ROOT

    scenario = load_scenario(ROOT / "scenarios" / "reference.toml")
    combos = [dict(p) for p in _axes(scenario, FamilySpec("drills", None), load(MANIFEST)) if "kind" in dict(p)]
    assert {c["kind"] for c in combos} == set(catalogue.ids())
    assert {c["snapshots"] for c in combos} == set(STATES)
    assert {c["journal"] for c in combos} == set(JOURNALS)
    cross = [dict(p) for p in _axes(scenario, FamilySpec("drills", None, params={"cross": True}), load(MANIFEST))
             if "kind" in dict(p)]
    assert len(cross) > 2 * len(combos)  # the nightly profile: every kind x state x journal mode it allows
