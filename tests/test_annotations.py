"""harness.reporting.annotations: GitHub workflow commands at the right file and line, escaped, capped."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gate_helpers import BROKEN, run_gate, scenario_for
from harness.reporting import annotations, results
from harness.reporting.annotations import annotations as annotate
from harness.reporting.results import CaseResult, RunResult

RUNBOOK = "https://runbooks.example/posture-drift.md"
COMMAND = re.compile(r"::(error|warning|notice) ([^:]*)::(.*)")


def make_case(n: int, outcome: str = "failed", **overrides) -> CaseResult:
    values = dict(
        case_id=f"matrix[fixture=v{n}]::integrity", suite="app", family="matrix", check="integrity",
        params={"fixture": f"v{n}"}, outcome=outcome, status="fail" if outcome in ("failed", "warned") else "pass",
        severity="warn" if outcome == "warned" else "error", summary=f"integrity_check reported {n} problems",
        runbook="posture-drift", runbook_url=RUNBOOK, scenario="scenarios/app.toml", line=20 + n, seed=7,
        repro="harness repro x", measured=f"{n} problems", threshold="0",
    )
    values.update(overrides)
    return CaseResult(**values)


def make_run(cases) -> RunResult:
    return RunResult(cases=tuple(cases), seed=7, seconds=1.0, started="2026-01-02T03:04:05+00:00",
                     sqlite_version="3.45.1")


def properties(line: str) -> dict[str, str]:
    match = COMMAND.fullmatch(line)
    assert match, line
    return dict(item.split("=", 1) for item in match.group(2).split(","))


def test_failed_case_annotates_scenario_line(tmp_path: Path) -> None:
    lines = annotate(make_run([make_case(1), make_case(2, "passed"), make_case(3, "skipped")]), root=tmp_path)
    assert lines == [
        "::error file=scenarios/app.toml,line=21,title=matrix[fixture=v1]%3A%3Aintegrity::"
        "integrity_check reported 1 problems%0Ameasured 1 problems vs threshold 0"
        "%0Arunbook: https://runbooks.example/posture-drift.md"
    ]


def test_warned_is_a_warning_errored_an_error(tmp_path: Path) -> None:
    lines = annotate(make_run([make_case(1, "warned"), make_case(2, "errored", measured=None, threshold=None)]),
                     root=tmp_path)
    kinds = [COMMAND.fullmatch(line).group(1) for line in lines]
    assert kinds == ["error", "warning"]  # the most severe first
    assert lines[0].endswith("::integrity_check reported 2 problems%0Arunbook: " + RUNBOOK)


def test_escaping_of_data_and_properties(tmp_path: Path) -> None:
    case = make_case(
        1,
        case_id="recovery[fixture=a,snapshots=b]::x",
        scenario="dir,with:odd/app%.toml",
        summary="100% broken\r\nsecond line: a, b\x1b[31m\x07",
        measured="5%",
        threshold="0%",
        runbook_url="https://r.example/a,b:c%20d",
    )
    (line,) = annotate(make_run([case]), root=tmp_path)
    assert "\n" not in line and "\r" not in line
    assert line == (
        "::error file=dir%2Cwith%3Aodd/app%25.toml,line=21,"
        "title=recovery[fixture=a%2Csnapshots=b]%3A%3Ax::"
        "100%25 broken ⏎ second line: a, b\\x07%0Ameasured 5%25 vs threshold 0%25"
        "%0Arunbook: https://r.example/a,b:c%2520d"
    )
    assert annotations.escape_data("a%b\rc\nd:e,f") == "a%25b%0Dc%0Ad:e,f"
    assert annotations.escape_property("a%b\rc\nd:e,f") == "a%25b%0Dc%0Ad%3Ae%2Cf"


def test_lint_finding_points_at_migration_line(tmp_path: Path) -> None:
    findings = [
        {"migration": "0003_flag", "source": "migrations/0003_flag.sql", "line": 7,
         "message": "VACUUM inside a transaction fails"},
        {"migration": "0005_audio", "source": str(tmp_path / "migrations" / "0005_audio.sql"), "line": 2,
         "message": "VACUUM again"},
    ]
    case = make_case(1, case_id="lint::vacuum-in-transaction", family="lint", check="vacuum-in-transaction",
                     params={}, summary="migrations/0003_flag.sql:7: VACUUM inside a transaction fails",
                     measured="2 findings", observations={"findings": findings})
    lines = annotate(make_run([case]), root=tmp_path)
    assert [properties(line)["file"] for line in lines] == ["migrations/0003_flag.sql", "migrations/0005_audio.sql"]
    assert [properties(line)["line"] for line in lines] == ["7", "2"]
    assert all(properties(line)["title"] == "lint%3A%3Avacuum-in-transaction" for line in lines)
    assert "::VACUUM inside a transaction fails%0Ameasured 2 findings vs threshold 0%0Arunbook: " in lines[0]


def test_finding_without_source_falls_back_to_scenario(tmp_path: Path) -> None:
    case = make_case(1, observations={"findings": [{"migration": "0003", "source": None, "line": 4, "message": "m"}]})
    (line,) = annotate(make_run([case]), root=tmp_path)
    assert properties(line)["file"] == "scenarios/app.toml" and properties(line)["line"] == "21"


def test_no_line_no_line_property(tmp_path: Path) -> None:
    (line,) = annotate(make_run([make_case(1, line=None)]), root=tmp_path)
    assert "line" not in properties(line) and properties(line)["file"] == "scenarios/app.toml"


def test_caps_per_kind_with_notice(tmp_path: Path) -> None:
    cases = [make_case(n, "warned") for n in range(30)] + [make_case(n) for n in range(30, 60)]
    lines = annotate(make_run(cases), root=tmp_path)
    kinds = [COMMAND.fullmatch(line).group(1) for line in lines]
    assert kinds == ["error"] * 10 + ["warning"] * 10 + ["notice"]
    assert "title=matrix[fixture=v30]" in lines[0]  # errors first although the warnings came first
    assert lines[-1].startswith("::notice ") and "::40 more annotations left out" in lines[-1]


def test_cap_total_with_notice(tmp_path: Path) -> None:
    cases = [make_case(n) for n in range(80)]
    lines = annotate(make_run(cases), max_per_kind=100, max_total=50, root=tmp_path)
    assert len(lines) == 50 and lines[-1].startswith("::notice ") and "::31 more annotations left out" in lines[-1]
    assert all(line.startswith("::error ") for line in lines[:-1])
    # exactly at the cap: nothing left out, no notice
    assert len(annotate(make_run(cases[:50]), max_per_kind=100, max_total=50, root=tmp_path)) == 50


def test_each_case_first_location_before_second(tmp_path: Path) -> None:
    findings = [{"source": f"m/{k}.sql", "line": k + 1, "message": f"f{k}"} for k in range(5)]
    lint = make_case(1, case_id="lint::rule", observations={"findings": findings})
    lines = annotate(make_run([lint, make_case(2), make_case(3)]), max_per_kind=3, root=tmp_path)
    files = [properties(line)["file"] for line in lines[:-1]]
    assert files == ["m/0.sql", "scenarios/app.toml", "scenarios/app.toml"]
    assert "::4 more annotations left out" in lines[-1]


def test_absolute_paths_made_relative_to_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path))
    case = make_case(1, scenario=str(tmp_path / "scenarios" / "app.toml"))
    (line,) = annotate(make_run([case]))
    assert properties(line)["file"] == "scenarios/app.toml"
    outside = make_case(1, scenario="/elsewhere/app.toml")
    (line,) = annotate(make_run([outside]))
    assert properties(line)["file"] == "/elsewhere/app.toml"


def test_real_failing_gate_run(tmp_path: Path) -> None:
    scenario = scenario_for(tmp_path, f"{BROKEN.as_posix()}:NoPosture", "[checks.posture]\n")
    gate = run_gate(tmp_path, str(scenario))
    assert gate.status == 1, gate.stdout + gate.stderr
    run = results.read(tmp_path / "reports" / "results.json")
    lines = annotate(run, root=tmp_path)
    assert len(lines) == 1
    props = properties(lines[0])
    case = next(c for c in run.cases if c.case_id == "posture::pragmas")
    assert props["file"] == "under-test.toml" and props["line"] == str(case.line)
    assert props["title"] == "posture%3A%3Apragmas"
    # the line really is the scenario's [checks.posture] table
    assert scenario.read_text().splitlines()[case.line - 1].strip() == "[checks.posture]"
    assert f"measured {case.measured} vs threshold {case.threshold}" in lines[0]
    assert f"runbook: {case.runbook_url}" in lines[0]
