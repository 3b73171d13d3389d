"""The plans family through ``harness gate``: green on the reference engine, each expectation red
on the regression it exists for (an engine variant or a purpose-made query)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gate_helpers import ROOT, GateRun

sys.path.insert(0, str(Path(__file__).resolve().parent / "data" / "plans"))
from plan_scenario import ENGINES, REFERENCE, write_scenario  # noqa: E402

# `python -m harness`, with the plans family added to the catalogue when it is not registered
# there yet (the catalogue is another change); once it is, this is exactly `python -m harness`.
_LAUNCH = """
import sys
import harness.checks.catalogue as catalogue
_families = catalogue.families
def families():
    found = _families()
    if "plans" not in found:
        from harness.checks import plans
        found = {**found, "plans": plans.FAMILY}
    return found
catalogue.families = families
from harness.cli import main
sys.exit(main(sys.argv[1:]))
"""

# Purpose-made regressions in the queries themselves, run on the correct engine.
QUERY_REGRESSIONS = """
[checks.plans.params.datasets.tiny]
rows = { talk_projects = 20, talk_outlines = 20, active_state = 1 }

# One talk holds every outline: at this scale the planner reads the whole table.
[checks.plans.params.datasets.one-big-talk]
rows = { talk_projects = 1, talk_outlines = 2000, active_state = 1 }

[[checks.plans.params.queries]]
name = "outlines-tiny"
sql = "SELECT id, body FROM talk_outlines WHERE project_id = ?"
params = ["x"]
dataset = "tiny"
baseline = false
expect = { no_full_scan = ["talk_outlines"] }

[[checks.plans.params.queries]]
name = "outlines-at-scale"
sql = "SELECT id, body FROM talk_outlines WHERE project_id = ?"
params = ["x"]
dataset = "one-big-talk"
baseline = false
expect = { no_full_scan = ["talk_outlines"] }

[[checks.plans.params.queries]]
name = "runs-by-duration"
sql = "SELECT id FROM runs WHERE project_id = ? ORDER BY duration_ms"
params = ["account"]
dataset = "heavy-user"
baseline = false
expect = { uses_index = "idx_runs_project_created", no_temp_btree = ["ORDER BY"] }

[[checks.plans.params.queries]]
name = "runs-tight-budget"
sql = "SELECT id, audio_path, duration_ms, created_at FROM runs WHERE project_id = ? ORDER BY created_at DESC LIMIT 50"
params = ["account"]
dataset = "heavy-user"
baseline = false
budget = { vm_steps = 50, sorts = 0, full_scan_steps = { limit = 0, severity = "warn" } }

[[checks.plans.params.queries]]
name = "runs-warn-budget"
sql = "SELECT id, audio_path, duration_ms, created_at FROM runs WHERE project_id = ? ORDER BY created_at DESC LIMIT 50"
params = ["account"]
dataset = "heavy-user"
baseline = false
budget = { vm_steps = { limit = 50, severity = "warn" } }

[[checks.plans.params.queries]]
name = "runs-not-covered"
sql = "SELECT id, created_at FROM runs WHERE project_id = ?"
params = ["account"]
dataset = "heavy-user"
baseline = false
expect = { covering = ["runs"] }

[[checks.plans.params.queries]]
name = "notes-matching-transcript"
sql = "SELECT r.id, n.id FROM runs AS r JOIN feedback_notes AS n ON n.body = r.transcript WHERE r.project_id = ?"
params = ["account"]
dataset = "heavy-user"
baseline = false
expect = { no_automatic_index = true, uses_index = "idx_runs_project_created" }
"""


def q(name: str, check: str, fixture: str | None = None) -> str:
    return f"plans[query={name},fixture={fixture}]::{check}" if fixture else f"plans[query={name}]::{check}"


def scenario(directory: Path, baselines: Path, *, target: str = REFERENCE, extra: str = "") -> Path:
    return write_scenario(directory, baselines, target=target, extra=extra)


def harness(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _LAUNCH, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def gate(tmp: Path, scenario_path: Path, *cases: str) -> GateRun:
    reports = tmp / "reports"
    shutil.rmtree(reports, ignore_errors=True)
    args = ["gate", str(scenario_path), "--reports", str(reports), "-n", "0", "--workdir", str(tmp / "work")]
    for case in cases:
        args += ["--case", case]
    proc = harness(*args)
    results_file = reports / "results.json"
    results = json.loads(results_file.read_text()) if results_file.is_file() else {}
    return GateRun(proc.returncode, proc.stdout, proc.stderr, results)


def outcomes(run: GateRun) -> dict[str, str]:
    return {c["case_id"]: c["outcome"] for c in run.results.get("cases", [])}


@pytest.fixture(scope="module")
def baselines(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Baselines written by `harness plans --update` from the correct engine."""
    work = tmp_path_factory.mktemp("baselines")
    directory = work / "plans"
    path = scenario(work, directory)
    proc = harness("plans", str(path), "--update")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "wrote" in proc.stdout
    return directory


# --------------------------------------------------------------------------- green


def test_reference_engine_is_green(tmp_path: Path, baselines: Path) -> None:
    run = gate(tmp_path, scenario(tmp_path, baselines))
    assert run.status == 0, run.stdout + run.stderr
    got = outcomes(run)
    assert set(got.values()) == {"passed"}, {k: v for k, v in got.items() if v != "passed"}
    for case in ("plans::expected-indexes", "plans::unindexed-foreign-keys", "plans::redundant-indexes",
                 q("runs-by-project", "uses-index"), q("runs-by-project", "no-full-scan"),
                 q("runs-by-project", "no-temp-btree"), q("runs-by-project", "budget"), q("runs-by-project", "baseline"),
                 q("run-count-by-project", "covering"), q("training-talks", "uses-index"),
                 q("training-talks", "budget-warn"), q("runs-with-talk", "uses-index"),
                 "plans[fixture=v5-runs-audio-nullable]::expected-indexes",
                 q("runs-by-project", "uses-index", "v1-pre-history")):
        assert got.get(case) == "passed", case
    # only declared expectations become cases
    assert q("setting-by-key", "no-temp-btree") not in got
    assert q("talk-by-id", "covering") not in got
    budget = run.case(q("runs-by-project", "budget"))
    assert budget["observations"]["cost"]["counters"] in ("sqlite_stmt", "apsw trace_v2") or \
        budget["observations"]["cost"]["counters"].startswith("unavailable")


# --------------------------------------------------------------------------- engine regressions


def test_dropped_index_goes_red_with_tree_diff_and_advice(tmp_path: Path, baselines: Path) -> None:
    run = gate(tmp_path, scenario(tmp_path, baselines, target=f"{ENGINES.as_posix()}:DropsRunsIndex"))
    assert run.status == 1, run.stdout + run.stderr
    got = outcomes(run)
    red = [
        "plans::expected-indexes",
        q("runs-by-project", "uses-index"), q("runs-by-project", "no-full-scan"),
        q("runs-by-project", "no-temp-btree"), q("runs-by-project", "budget"), q("runs-by-project", "baseline"),
        q("run-count-by-project", "covering"), q("runs-with-talk", "uses-index"),
        q("runs-by-project", "uses-index", "v3-training-flag"),
        "plans[fixture=v1-pre-history]::expected-indexes",
    ]
    for case in red:
        assert got[case] == "failed", (case, run.case(case)["summary"])
    # what does not depend on the dropped index stays green
    for case in (q("talk-by-id", "uses-index"), q("setting-by-key", "baseline"), q("training-talks", "budget"),
                 "plans::redundant-indexes"):
        assert got[case] == "passed", (case, run.case(case)["summary"])
    # runs.project_id is a foreign key that now leads no index: reported, as a warning
    assert got["plans::unindexed-foreign-keys"] == "warned"

    uses = run.case(q("runs-by-project", "uses-index"))
    assert "does not use index idx_runs_project_created (on runs)" in uses["summary"]
    assert "no index named idx_runs_project_created exists" in uses["details"]
    assert "SCAN runs" in uses["details"]
    if shutil.which("sqlite3"):
        assert "sqlite3 .expert suggests" in uses["details"]
        assert "CREATE INDEX" in uses["details"]

    diff = run.case(q("runs-by-project", "baseline"))["details"].splitlines()
    assert "-    SEARCH runs USING INDEX idx_runs_project_created (project_id=?)" in diff
    assert "+    SCAN runs" in diff
    assert "+    USE TEMP B-TREE FOR ORDER BY" in diff
    assert "  QUERY PLAN" in diff

    budget = run.case(q("runs-by-project", "budget"))
    assert "over budget" in budget["summary"] and "vm_steps" in budget["summary"]
    assert budget["measured"].startswith("vm_steps ") and "vm_steps <= 1000" in budget["threshold"]

    indexes = run.case("plans::expected-indexes")
    assert "index idx_runs_project_created on runs: missing" in indexes["summary"]


def test_renamed_index_is_not_matched_by_substring(tmp_path: Path, baselines: Path) -> None:
    path = scenario(tmp_path, baselines, target=f"{ENGINES.as_posix()}:RenamesRunsIndex")
    cases = [q("runs-by-project", "uses-index"), q("runs-by-project", "no-full-scan"), "plans::expected-indexes",
             q("runs-by-project", "baseline")]
    run = gate(tmp_path, path, *cases)
    got = outcomes(run)
    assert run.status == 1, run.stdout + run.stderr
    uses = run.case(q("runs-by-project", "uses-index"))
    assert got[q("runs-by-project", "uses-index")] == "failed"
    assert "the plan uses idx_runs_project_created_old" in uses["summary"]
    assert got[q("runs-by-project", "no-full-scan")] == "passed"  # still indexed, under another name
    assert got["plans::expected-indexes"] == "failed"
    assert "exists as idx_runs_project_created_old" in run.case("plans::expected-indexes")["summary"]
    assert got[q("runs-by-project", "baseline")] == "failed"


def test_index_missing_on_one_upgrade_path_only(tmp_path: Path, baselines: Path) -> None:
    run = gate(tmp_path, scenario(tmp_path, baselines, target=f"{ENGINES.as_posix()}:LosesIndexUpgradingFromV5"))
    assert run.status == 1, run.stdout + run.stderr
    failed = sorted(case for case, outcome in outcomes(run).items() if outcome != "passed")
    v5 = "v5-runs-audio-nullable"
    assert failed == sorted([
        f"plans[fixture={v5}]::expected-indexes",
        q("runs-by-project", "uses-index", v5),
        q("run-count-by-project", "uses-index", v5),
        q("runs-with-talk", "uses-index", v5),
    ])
    case = run.case(q("runs-by-project", "uses-index", v5))
    assert f"on fixture {v5} upgraded to head" in case["summary"]


def test_unindexed_foreign_key_warns(tmp_path: Path, baselines: Path) -> None:
    path = scenario(tmp_path, baselines, target=f"{ENGINES.as_posix()}:DropsNotesRunIndex")
    run = gate(tmp_path, path, "plans::unindexed-foreign-keys", "plans::redundant-indexes")
    assert run.status == 0, run.stdout + run.stderr  # a warning does not fail the gate
    assert run.outcome("plans::unindexed-foreign-keys") == "warned"
    assert "feedback_notes(run_id) -> runs" in run.case("plans::unindexed-foreign-keys")["summary"]
    assert run.outcome("plans::redundant-indexes") == "passed"


def test_redundant_index_warns(tmp_path: Path, baselines: Path) -> None:
    path = scenario(tmp_path, baselines, target=f"{ENGINES.as_posix()}:AddsRedundantIndex")
    run = gate(tmp_path, path, "plans::redundant-indexes", "plans::unindexed-foreign-keys")
    assert run.status == 0, run.stdout + run.stderr
    assert run.outcome("plans::redundant-indexes") == "warned"
    assert "idx_runs_project (project_id) is a prefix of idx_runs_project_created" in \
        run.case("plans::redundant-indexes")["summary"]
    assert run.outcome("plans::unindexed-foreign-keys") == "passed"


# --------------------------------------------------------------------------- query regressions


def test_query_regressions_red_on_the_correct_engine(tmp_path: Path, baselines: Path) -> None:
    path = scenario(tmp_path, baselines, extra=QUERY_REGRESSIONS)
    expected = {
        q("outlines-tiny", "no-full-scan"): "passed",  # small: the index is used ...
        q("outlines-at-scale", "no-full-scan"): "failed",  # ... at scale the same query scans the table
        q("runs-by-duration", "uses-index"): "passed",
        q("runs-by-duration", "no-temp-btree"): "failed",
        q("runs-tight-budget", "budget"): "failed",
        q("runs-tight-budget", "budget-warn"): "passed",
        q("runs-warn-budget", "budget-warn"): "warned",
        q("runs-not-covered", "covering"): "failed",
        q("notes-matching-transcript", "no-automatic-index"): "failed",
        q("notes-matching-transcript", "uses-index"): "passed",
        q("runs-by-project", "no-temp-btree"): "passed",
        q("run-count-by-project", "covering"): "passed",
        q("runs-by-project", "budget"): "passed",
    }
    run = gate(tmp_path, path, *expected)
    assert run.status == 1, run.stdout + run.stderr
    assert outcomes(run) == expected
    scan = run.case(q("outlines-at-scale", "no-full-scan"))
    assert "full scan of talk_outlines: SCAN talk_outlines" in scan["summary"]
    temp = run.case(q("runs-by-duration", "no-temp-btree"))
    assert "USE TEMP B-TREE FOR ORDER BY" in temp["summary"]
    budget = run.case(q("runs-tight-budget", "budget"))
    assert "vm_steps" in budget["summary"] and "> budget 50" in budget["summary"]
    assert budget["threshold"] == "vm_steps <= 50, sorts <= 0"
    assert budget["measured"].startswith("vm_steps ") and "sorts 0" in budget["measured"]
    automatic = run.case(q("notes-matching-transcript", "no-automatic-index"))
    assert "AUTOMATIC COVERING INDEX" in automatic["summary"] and "feedback_notes" in automatic["summary"]
    covering = run.case(q("runs-not-covered", "covering"))
    assert "runs: SEARCH runs USING INDEX idx_runs_project_created" in covering["summary"]


def test_budgets_are_deterministic(tmp_path: Path, baselines: Path) -> None:
    path = scenario(tmp_path, baselines)
    case = q("quest-attempts-by-quest", "budget")
    first = gate(tmp_path / "one", path, case).case(case)["observations"]["cost"]
    second = gate(tmp_path / "two", path, case).case(case)["observations"]["cost"]
    assert first == second
    assert first["vm_steps"] > 0 and first["rows"] == 50


# --------------------------------------------------------------------------- baselines and the command


def test_missing_baseline_fails_with_the_command_to_write_it(tmp_path: Path) -> None:
    path = scenario(tmp_path, tmp_path / "no-baselines")
    case = q("talk-by-id", "baseline")
    run = gate(tmp_path, path, case)
    assert run.status == 1
    assert "--update" in run.case(case)["summary"]
    assert "SEARCH talk_projects USING INDEX sqlite_autoindex_talk_projects_1 (id=?)" in run.case(case)["details"]


def test_plans_command_prints_updates_and_diffs(tmp_path: Path) -> None:
    directory = tmp_path / "golden"
    path = scenario(tmp_path, directory)
    shown = harness("plans", str(path), "--query", "runs-with-talk")
    assert shown.returncode == 0, shown.stderr
    assert "|--SEARCH p USING INDEX idx_talk_projects_talk_number (talk_number=?)" in shown.stdout
    assert "`--SEARCH r USING INDEX idx_runs_project_created (project_id=?)" in shown.stdout
    assert "no baseline" in shown.stdout and not directory.exists()

    written = harness("plans", str(path), "--update", "--query", "runs-with-talk")
    assert written.returncode == 0, written.stderr
    golden = directory / "runs-with-talk.plan"
    text = golden.read_text()
    assert text.startswith("# plan baseline for query 'runs-with-talk'")
    assert text.endswith("QUERY PLAN\n|--SEARCH p USING INDEX idx_talk_projects_talk_number (talk_number=?)\n"
                         "`--SEARCH r USING INDEX idx_runs_project_created (project_id=?)\n")
    again = harness("plans", str(path), "--update", "--query", "runs-with-talk")
    assert "unchanged" in again.stdout

    golden.write_text(text.replace("idx_runs_project_created (project_id=?)", "idx_other (project_id=?)"))
    differs = harness("plans", str(path), "--query", "runs-with-talk")
    assert "differs from" in differs.stdout
    assert "  -    SEARCH r USING INDEX idx_other (project_id=?)" in differs.stdout
    assert "  +    SEARCH r USING INDEX idx_runs_project_created (project_id=?)" in differs.stdout

    unknown = harness("plans", str(path), "--query", "nope")
    assert unknown.returncode == 2 and "no query named nope" in unknown.stderr


def test_bad_plans_params_are_input_errors(tmp_path: Path) -> None:
    path = scenario(tmp_path, tmp_path / "b")
    text = path.read_text().replace('expect = { uses_index = "sqlite_autoindex_settings_1", no_full_scan = true }',
                                    'expect = { uses_idx = "sqlite_autoindex_settings_1" }')
    path.write_text(text)
    line = next(k for k, l in enumerate(text.splitlines(), 1) if "uses_idx" in l)
    run = gate(tmp_path, path)
    assert run.status == 2
    assert f"{path}:{line}: key 'checks.plans.params.queries.9.expect.uses_idx'" in run.stderr, run.stderr
    assert "did you mean 'uses_index'" in run.stderr
