"""One line per root cause: blocked dependants, root-cause keys, versions in migration order.

A purpose-made history (tests/data/migrations_bugs/fails_at_20_versions) whose last
migration fails on every legacy database that holds a note (it adds a NOT NULL column and
never fills it): twenty legacy versions fail the same way, so the run has one root cause
naming the file and line, twenty failed cases and 120 blocked ones, none errored. Runs
built by hand check the grouping, the order and the gate rule for blocked cases alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from gate_helpers import ROOT
from harness.checks import verdict as v
from harness.fixtures.store import CACHE_ENV
from harness.reporting import causes, html, junit, markdown
from harness.reporting.console import summary
from harness.reporting.results import CaseResult, RunResult, outcome_of, read
from test_reports_html import chromium, dump_dom, parse  # noqa: F401 - chromium is the installing fixture

DATA = Path(__file__).resolve().parent / "data" / "migrations_bugs"
TWENTY = DATA / "fails_at_20_versions"
VERSIONS = [f"v{n}" for n in range(1, 21)]
DEPENDANTS = ("schema-converges", "path-equivalent", "data-preserved", "integrity", "idempotent",
              "history-continuous")


# --- the status type ----------------------------------------------------------------------------


def test_status_is_one_typed_vocabulary_with_blocked() -> None:
    assert v.Status("blocked") is v.BLOCKED and v.BLOCKED == "blocked"
    with pytest.raises(ValueError, match="unknown verdict status"):
        v.Verdict("bloked", "typo")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="names the case"):
        v.Verdict(v.BLOCKED, "blocked by nothing")
    blocked = v.blocked("matrix[fixture=v3]::upgrades", "the upgrade failed")
    assert blocked.status is v.Status.BLOCKED and blocked.blocked_by == "matrix[fixture=v3]::upgrades"
    assert outcome_of(blocked.status, "error") == "blocked"
    assert outcome_of(v.HAZARD, "warn") == "hazard"


# --- grouping, order, gate rule (runs built by hand) --------------------------------------------


def case(fixture: str, check: str, outcome: str, **over: object) -> CaseResult:
    case_id = f"matrix[fixture={fixture}]::{check}"
    status = {"passed": "pass", "failed": "fail", "warned": "fail", "errored": "error", "skipped": "skip",
              "blocked": "blocked", "hazard": "hazard"}[outcome]
    values: dict[str, object] = dict(
        case_id=case_id, suite="app", family="matrix", check=check, params={"fixture": fixture},
        outcome=outcome, status=status, severity="warn" if outcome in ("warned", "hazard") else "error",
        summary=f"{check} {outcome} on {fixture}", runbook="upgrade-failed", runbook_url="runbooks/upgrade-failed.md",
        scenario="s.toml", line=3, seed=1, repro=f"harness repro '{case_id}' --scenario s.toml --seed 1")
    values.update(over)
    return CaseResult(**values)  # type: ignore[arg-type]


def run_of(*cases: CaseResult) -> RunResult:
    return RunResult(cases=tuple(cases), seed=1, seconds=1.0, started="2026-01-01T00:00:00+00:00",
                     sqlite_version="3.40.1")


CAUSE = {"mechanism": "upgrade fails: NOT NULL constraint failed: notes_new.author",
         "migration": "m/0021_note_author.sql", "line": 12}


def upgrade_bug(fixture: str) -> list[CaseResult]:
    by = f"matrix[fixture={fixture}]::upgrades"
    return [case(fixture, "upgrades", "failed", cause=CAUSE, summary=f"upgrade to head failed on {fixture}")] + [
        case(fixture, check, "blocked", blocked_by=by, summary=f"blocked by {by}: the upgrade failed")
        for check in DEPENDANTS]


def test_the_same_cause_on_many_fixtures_is_one_root_cause_in_migration_order() -> None:
    cases = [c for f in ("v10", "v2", "v1", "v11") for c in upgrade_bug(f)]
    cases.append(case("v3", "data-preserved", "failed", summary="table notes: 3 of 20 rows lost"))
    cases.append(case("v12", "data-preserved", "failed", summary="table notes: 7 of 20 rows lost"))
    cases.append(case("v4", "idempotent", "hazard", summary="NULL in notes.body breaks 0007 line 2"))
    found = causes.root_causes(run_of(*cases))
    assert [c.cls for c in found] == ["bug", "bug", "hazard"]
    first = found[0]
    assert (first.migration, first.line, first.mechanism) == (CAUSE["migration"], 12, CAUSE["mechanism"])
    assert first.versions == ("v1", "v2", "v10", "v11")  # numbers by value, not as text
    assert first.case_ids == tuple(f"matrix[fixture={f}]::upgrades" for f in first.versions)
    assert len(first.blocked) == 4 * len(DEPENDANTS) and first.severity == "error"
    # a cause the check did not name: the same summary up to the case's numbers
    assert found[1].versions == ("v3", "v12") and found[1].check == "data-preserved"
    assert found[2].severity == "warn"
    line = causes.line_of(first)
    assert line.startswith("FAILED   m/0021_note_author.sql line 12: upgrade fails: NOT NULL constraint")
    assert line.endswith("matrix::upgrades at v1, v2, v10, v11 (4 cases, 24 blocked)")


def test_root_causes_lead_every_report_and_results_json(tmp_path: Path) -> None:
    run = run_of(*[c for f in ("v1", "v2") for c in upgrade_bug(f)],
                 case("v1", "crash-safe", "warned", summary="crash-safe warns"))
    text = summary(run, "reports/")
    lines = text.splitlines()
    assert "2 failed, 1 warned, 12 blocked" in lines[0]
    assert lines[1].strip().startswith("FAILED   m/0021_note_author.sql line 12")
    assert lines[3].strip().startswith("WARNED   crash-safe warns")
    assert sum(1 for line in lines if "upgrades" in line and line.strip().startswith("FAILED")) == 1
    md = markdown.render(run)
    assert md.index("### Root causes (2)") < md.index("### Failures (2)")
    body = json.loads(run.to_json())
    assert [rc["class"] for rc in body["root_causes"]] == ["bug", "bug"]
    rc = body["root_causes"][0]
    assert {k: rc[k] for k in ("migration", "line", "mechanism", "severity", "versions")} == {
        "migration": CAUSE["migration"], "line": 12, "mechanism": CAUSE["mechanism"], "severity": "error",
        "versions": ["v1", "v2"]}
    assert rc["case_ids"] == ["matrix[fixture=v1]::upgrades", "matrix[fixture=v2]::upgrades"]
    assert rc["id"].startswith("rc-") and len(rc["blocked"]) == 12
    run.write(tmp_path / "results.json")
    assert read(tmp_path / "results.json") == run  # root_causes are derived, never read back


def test_a_blocked_case_fails_the_gate_only_when_its_blocker_is_not_in_the_run() -> None:
    whole = run_of(*upgrade_bug("v1"))
    assert not whole.passed  # by the failed upgrade itself
    blocked_only = run_of(*upgrade_bug("v1")[1:])  # a shard or --case without the upgrade
    assert not blocked_only.passed
    (cause,) = causes.root_causes(blocked_only)
    assert cause.outcome == "blocked" and "matrix[fixture=v1]::upgrades" in cause.mechanism
    passing = run_of(case("v1", "upgrades", "passed"), case("v1", "integrity", "passed"))
    assert passing.passed and causes.root_causes(passing) == ()


def test_junit_reports_a_blocked_case_as_skipped_naming_its_blocker() -> None:
    root = ET.fromstring(junit.render(run_of(*upgrade_bug("v1"))))
    cases = {tc.get("name"): tc for tc in root.iter("testcase")}
    assert len(cases) == 1 + len(DEPENDANTS)  # one testcase per case, blocked ones included
    assert cases["matrix[fixture=v1]::upgrades"].find("failure") is not None
    skipped = cases["matrix[fixture=v1]::integrity"].find("skipped")
    assert skipped is not None and skipped.get("message", "").startswith("blocked by matrix[fixture=v1]::upgrades")
    assert not any(tc.find("error") is not None for tc in cases.values())


def test_html_lists_root_causes_first_bugs_before_hazards_before_blocked() -> None:
    run = run_of(case("v1", "idempotent", "hazard", summary="NULL in notes.body"),
                 *upgrade_bug("v2")[1:],  # blocked, blocker not in the run
                 *upgrade_bug("v3"))
    page = html.render(run)
    order = [page.index(text) for text in ("class=\"cause failed\"", "class=\"cause hazard\"",
                                           "class=\"cause blocked\"")]
    assert order == sorted(order)
    assert page.index("id=\"root-causes\"") < page.index("class=\"problems\"")


# --- the purpose-made history, end to end -------------------------------------------------------


@dataclass(frozen=True)
class TwentyRun:
    proc: subprocess.CompletedProcess[str]
    reports: Path
    run: RunResult
    body: dict


@pytest.fixture(scope="module")
def twenty(tmp_path_factory: pytest.TempPathFactory) -> TwentyRun:
    work = tmp_path_factory.mktemp("twenty")
    env = {**os.environ, CACHE_ENV: str(work / "cache")}
    proc = subprocess.run([sys.executable, "-m", "harness", "migrations", str(TWENTY), "--workdir", str(work / "w"),
                           "--reports", str(work / "w" / "reports"), "-n", "2"], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env=env)
    reports = work / "w" / "reports"
    body = json.loads((reports / "results.json").read_text())
    return TwentyRun(proc, reports, read(reports / "results.json"), body)


def test_one_upgrade_bug_at_twenty_versions_is_one_console_line(twenty: TwentyRun) -> None:
    out = twenty.proc.stdout
    assert twenty.proc.returncode == 1, out + twenty.proc.stderr
    roots = [line.strip() for line in out.splitlines() if line.strip().startswith("FAILED   ")]
    assert len(roots) == 1, out
    assert roots[0].startswith("FAILED   fails_at_20_versions/0021_note_author.sql line 12: upgrade fails: "
                               "NOT NULL constraint failed: notes_new.author")
    assert roots[0].endswith(f"matrix::upgrades at {', '.join(VERSIONS)} (20 cases, 120 blocked)")
    counts = twenty.run.counts()
    assert (counts["failed"], counts["blocked"], counts["errored"]) == (20, 120, 0)


def test_twenty_versions_results_json_and_junit(twenty: TwentyRun) -> None:
    bugs = [rc for rc in twenty.body["root_causes"] if rc["severity"] == "error"]
    assert len(bugs) == 1
    rc = bugs[0]
    assert rc == twenty.body["root_causes"][0]
    assert (rc["class"], rc["migration"], rc["line"]) == ("bug", "fails_at_20_versions/0021_note_author.sql", 12)
    assert rc["versions"] == VERSIONS and len(rc["case_ids"]) == 20 and len(rc["blocked"]) == 120
    matrix = [c for c in twenty.run.cases if c.family == "matrix"]
    fixtures = list(dict.fromkeys(c.params["fixture"] for c in matrix))
    assert fixtures == ["fresh"] + VERSIONS  # cases in migration order
    root = ET.parse(twenty.reports / "junit.xml").getroot()
    testcases = list(root.iter("testcase"))
    assert len(testcases) == len(twenty.run.cases)
    skipped = [tc for tc in testcases if tc.find("skipped") is not None]
    assert len(skipped) == 120 and all("blocked by matrix[fixture=v" in tc.find("skipped").get("message", "")
                                       for tc in skipped)
    assert not any(tc.find("error") is not None for tc in testcases)


def test_chromium_shows_the_root_cause_first(twenty: TwentyRun, chromium: str, tmp_path: Path) -> None:  # noqa: F811
    dom = parse(dump_dom(chromium, twenty.reports / "report.html", tmp_path / "profile"))
    section = next(n for n in dom.iter() if n.attrs.get("id") == "problems")
    items = [n for n in section.iter() if n.tag == "li"]
    first = items[0]
    assert "cause" in first.classes() and "failed" in first.classes()
    text = " ".join(first.text().split())
    assert "fails_at_20_versions/0021_note_author.sql line 12" in text
    assert "NOT NULL constraint failed: notes_new.author" in text
    assert f"at {', '.join(VERSIONS)} (20 cases, 120 blocked)" in text


def test_sharded_gate_merged_equals_one_run(twenty: TwentyRun, tmp_path: Path) -> None:
    scenario = twenty.reports.parent / "scenario.toml"
    env = {**os.environ, CACHE_ENV: str(twenty.reports.parent.parent / "cache")}

    def harness(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "harness", *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=600, env=env)

    parts = []
    for shard in ("1/2", "2/2"):
        out = tmp_path / shard.replace("/", "-")
        ran = harness("gate", str(scenario), "-n", "2", "--shard", shard, "--reports", str(out))
        assert ran.returncode == 1, ran.stdout + ran.stderr  # each shard holds failed or orphan-blocked cases
        parts.append(str(out / "results.json"))
    merged = harness("merge", *parts, "--reports", str(tmp_path / "merged"))
    assert merged.returncode == 1, merged.stdout + merged.stderr
    body = json.loads((tmp_path / "merged" / "results.json").read_text())
    assert {c["case_id"]: c["outcome"] for c in body["cases"]} == {c.case_id: c.outcome for c in twenty.run.cases}
    assert body["root_causes"] == twenty.body["root_causes"]
    assert [line for line in merged.stdout.splitlines() if line.strip().startswith("FAILED   ")] == [
        line for line in twenty.proc.stdout.splitlines() if line.strip().startswith("FAILED   ")]


def test_shard_results_merged_keep_one_root_cause(twenty: TwentyRun) -> None:
    from harness.reporting.merge import merge

    halves = [replace(twenty.run, cases=twenty.run.cases[i::2], shard=f"{i + 1}/2") for i in range(2)]
    assert not halves[0].passed and not halves[1].passed
    merged = merge(halves)
    assert [c.as_json() for c in causes.root_causes(merged)] == [c.as_json() for c in causes.root_causes(twenty.run)]


def test_a_root_cause_line_stays_one_inert_line_whatever_the_engine_said() -> None:
    hostile = {**CAUSE, "mechanism": "upgrade fails: \x1b[31mred\x1b[0m\nFAILED   fake line\r\x07"}
    run = run_of(case("v1", "upgrades", "failed", cause=hostile))
    lines = summary(run, "reports/").splitlines()
    assert len(lines) == 4 and "\x1b" not in lines[1] and "\x07" not in lines[1] and "\r" not in lines[1]
    assert "fake line" in lines[1]  # shown, on the same line
