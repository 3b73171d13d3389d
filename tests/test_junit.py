"""harness.reporting.junit: JUnit XML that CI consumers can read, whatever the cases contain."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from harness.reporting import junit, results
from harness.reporting.results import CaseResult, RunResult

RUNBOOK = "https://runbooks.example/sqlite#continuity-break"
NASTY = "<script>&\"' \x00\x1b[31m\x07 lone \ud800 bytes " + b"\xff\xfe".decode("utf-8", "surrogateescape")


def make_case(outcome: str, n: int, **overrides) -> CaseResult:
    status = {"passed": "pass", "failed": "fail", "warned": "fail", "errored": "error", "skipped": "skip"}[outcome]
    values = dict(
        case_id=f"continuity[fixture=neg-{n}]::{outcome}",
        suite="integrity" if n < 4 else "durability",
        family="continuity",
        check="continuity.no-gap",
        params={"fixture": f"neg-{n}"},
        outcome=outcome,
        status=status,
        severity="warn" if outcome == "warned" else "error",
        summary=f"summary of {outcome}",
        runbook="continuity-break",
        runbook_url=RUNBOOK,
        scenario="scenarios/continuity.toml",
        line=10 + n,
        seed=4242,
        repro=f"harness run scenarios/continuity.toml --seed 4242 --case 'continuity[fixture=neg-{n}]'",
        seconds=0.25 * n,
        observations={"rows": 12, "gap_ms": 1500.5, "tables": ["a", "b"]},
    )
    values.update(overrides)
    return CaseResult(**values)


@pytest.fixture
def run() -> RunResult:
    return RunResult(
        cases=(
            make_case("passed", 0, observations={}),  # 0 seconds: time must still be written
            make_case(
                "failed",
                1,
                measured="1500 ms",
                threshold="<= 1000 ms",
                details="gap between row 7 and row 8\nsecond line",
                artifacts=("reports/db-copy.sqlite", "reports/wal.bin"),
            ),
            make_case("warned", 2, measured="3 pages", threshold="0 pages"),
            make_case("errored", 3, summary="engine crashed: SIGSEGV", line=None),
            make_case("skipped", 4, summary="needs SQLITE_ENABLE_FTS5"),
            make_case("failed", 5, measured="7", summary="only measured"),
            make_case("failed", 6, summary="nothing measured"),
            make_case(
                "failed",
                7,
                check="nasty." + NASTY,
                summary="summary " + NASTY,
                details="details " + NASTY + "\nsecond \ufffe line",
                params={"p": "param " + NASTY},
                measured="measured " + NASTY,
                threshold="threshold " + NASTY,
                repro="repro " + NASTY,
                observations={"obs": "value " + NASTY, "k" + NASTY: 1},
                artifacts=("art " + NASTY,),
            ),
        ),
        seed=4242,
        seconds=3.5,
        started="2024-05-01T12:00:00Z",
        sqlite_version="3.45.1",
        compile_options=("ENABLE_FTS5", "THREADSAFE=1"),
        python_version="3.11.7",
        harness_version="0.1.0",
        profile="nightly",
        shard="2/4",
    )


def parse(run: RunResult) -> ET.Element:
    return ET.fromstring(junit.render(run))


def find_case(root: ET.Element, n: int) -> ET.Element:
    (found,) = [tc for tc in root.iter("testcase") if f"neg-{n}]" in tc.get("name")]
    return found


def test_counts_and_structure(run):
    root = parse(run)
    assert root.tag == "testsuites"
    assert len(root.findall("testsuite")) == 2
    assert [s.get("name") for s in root.findall("testsuite")] == ["integrity", "durability"]  # first seen
    assert len(list(root.iter("testcase"))) == 8
    assert len(list(root.iter("failure"))) == 4
    assert len(list(root.iter("error"))) == 1
    assert len(list(root.iter("skipped"))) == 1
    assert root.get("tests") == "8" and root.get("failures") == "4" and root.get("errors") == "1"
    for tc in root.iter("testcase"):
        assert tc.get("time") is not None and float(tc.get("time")) > 0, tc.attrib
        assert tc.get("classname") == f"{'durability' if tc in root[1] else 'integrity'}.continuity"


def test_suite_properties(run):
    root = parse(run)
    for suite in root.findall("testsuite"):
        assert suite.get("timestamp") == "2024-05-01T12:00:00Z"
        props = {p.get("name"): p.get("value") for p in suite.iter("property")}
        assert props == {
            "seed": "4242",
            "sqlite_version": "3.45.1",
            "compile_options": "ENABLE_FTS5,THREADSAFE=1",
            "python_version": "3.11.7",
            "harness_version": "0.1.0",
            "profile": "nightly",
            "shard": "2/4",
        }
    unsharded = RunResult(cases=run.cases, seed=1, seconds=1.0, started="t", sqlite_version="3")
    assert "shard" not in {p.get("name") for p in parse(unsharded).iter("property")}


def test_failure_message_and_body(run):
    root = parse(run)
    failure = next(root.iter("failure"))  # the first failure in the document
    assert failure is find_case(root, 1).find("failure")
    message = failure.get("message")
    assert message == f"continuity.no-gap failed: measured 1500 ms vs threshold <= 1000 ms; runbook {RUNBOOK}"
    assert "\n" not in message
    body = failure.text.splitlines()
    assert body[:3] == ["summary of failed", "gap between row 7 and row 8", "second line"]
    assert "params: fixture=neg-1" in body
    assert "seed: 4242" in body
    assert f"reproduce: {run.cases[1].repro}" in body
    assert f"runbook: {RUNBOOK}" in body
    assert body[-2:] == ["artifact: reports/db-copy.sqlite", "artifact: reports/wal.bin"]
    tc = find_case(root, 1)
    assert tc.get("file") == "scenarios/continuity.toml"
    assert tc.get("line") == "11"
    assert tc.get("time") == "0.250000"
    assert tc.find("system-out").text.splitlines() == ["gap_ms: 1500.5", "rows: 12", 'tables: ["a", "b"]']


def test_message_without_measurements(run):
    root = parse(run)
    assert find_case(root, 5).find("failure").get("message") == (
        f"continuity.no-gap failed: measured 7; runbook {RUNBOOK}"
    )
    assert find_case(root, 6).find("failure").get("message") == (
        f"continuity.no-gap failed: nothing measured; runbook {RUNBOOK}"
    )


def test_error_warning_skip_and_pass(run):
    root = parse(run)
    error = find_case(root, 3).find("error")
    assert error.get("message") == f"continuity.no-gap failed: engine crashed: SIGSEGV; runbook {RUNBOOK}"
    assert "seed: 4242" in error.text.splitlines()
    assert find_case(root, 3).get("line") is None  # no line known: no attribute, not line="None"

    warned = find_case(root, 2)
    assert warned.find("failure") is None and warned.find("error") is None
    out = warned.find("system-out").text.splitlines()
    assert out[0] == (
        "WARNING (severity warn, does not fail the gate): "
        f"continuity.no-gap failed: measured 3 pages vs threshold 0 pages; runbook {RUNBOOK}"
    )
    assert "rows: 12" in out

    skipped = find_case(root, 4).find("skipped")
    assert skipped.get("message") == "needs SQLITE_ENABLE_FTS5"

    passed = find_case(root, 0)
    assert list(passed) == []
    assert passed.get("time") == "0.000001"


def test_hostile_text_stays_parseable_and_visible(run):
    root = parse(run)
    tc = find_case(root, 7)
    failure = tc.find("failure")
    visible = "<script>&\"' \\x00\\x07 lone \ufffd bytes \ufffd\ufffd"
    assert tc.get("name").startswith("continuity[fixture=neg-7]")
    assert failure.get("message") == (
        f"nasty.{visible} failed: measured measured {visible} vs threshold threshold {visible}; runbook {RUNBOOK}"
    )
    body = failure.text
    for expected in (
        f"summary {visible}",
        f"details {visible}",
        "second \\ufffe line",
        f"params: p=param {visible}",
        f"reproduce: repro {visible}",
        f"artifact: art {visible}",
    ):
        assert expected in body.splitlines(), expected
    out = tc.find("system-out").text.splitlines()
    assert out == [f"k{visible}: 1", f"obs: value {visible}"]
    text = junit.render(run)
    assert "[31m" not in text and "\x1b" not in text
    assert "&lt;script&gt;" in text


def test_write_is_utf8_and_matches_render(run, tmp_path):
    target = tmp_path / "out" / "junit.xml"
    junit.write(run, target)
    assert target.read_bytes().decode("utf-8") == junit.render(run)
    assert ET.parse(target).getroot().tag == "testsuites"
    assert [p.name for p in target.parent.iterdir()] == ["junit.xml"]  # no temp file left behind


def test_round_trip_through_results_file(run, tmp_path):
    path = tmp_path / "results.json"
    run.write(path)
    again = results.read(path)
    assert junit.render(again) == junit.render(run)


def test_zero_and_odd_seconds_keep_a_time_attribute():
    cases = tuple(
        CaseResult(**{**make_case("passed", 1).__dict__, "case_id": f"c{i}", "seconds": s})
        for i, s in enumerate([0.0, -1.0, float("nan"), float("inf")])
    )
    root = parse(RunResult(cases=cases, seed=1, seconds=0.0, started="t", sqlite_version="3"))
    assert [tc.get("time") for tc in root.iter("testcase")] == ["0.000001"] * 4
