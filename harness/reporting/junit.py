"""JUnit XML for CI consumers, rendered from a ``RunResult`` with the ``junit-xml`` package.

Layout: one ``<testsuites>`` root; one ``<testsuite>`` per ``case.suite`` (first-seen order)
carrying the run's seed, SQLite version and compile options as properties; one
``<testcase>`` per case with ``file`` / ``line`` pointing at the scenario and a ``time``
that is always present.

Outcomes:

* failed  -> ``<failure message="{check} failed: measured M vs threshold T; runbook URL">``
* errored -> ``<error>`` with the same message and body (the gate fails either way)
* skipped -> ``<skipped message="{summary}">``
* blocked -> ``<skipped message="blocked by {case id}: …">`` (the blocking case carries the
  failure; CI tools have no "blocked", and an error per dependent check would repeat it)
* warned  -> a passing testcase whose ``<system-out>`` starts with
  ``WARNING (severity warn, does not fail the gate): `` and the same message line
* hazard  -> like warned with ``HAZARD (fails only on boundary data, severity warn): ``; a
  ``<failure>`` when the scenario gives hazards severity error
* passed  -> a plain testcase

The failure body holds the summary, details, params, ``seed: N``, ``reproduce: <command>``,
``runbook: <url>`` and ``artifact: <path>`` lines; ``<system-out>`` holds the observations
as sorted ``key: value`` lines. Every string is passed through ``sanitize`` first: junit-xml
would otherwise strip control characters silently or emit invalid XML.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Mapping

from junit_xml import TestCase, TestSuite, to_xml_report_string

from harness.reporting.results import (BLOCKED, ERRORED, FAILED, HAZARD, PASSED, SKIPPED, WARNED, CaseResult,
                                      RunResult)
from harness.reporting.sanitize import clean, one_line
from harness.sqlite.files import write_atomic

__all__ = ["render", "write", "failure_message", "failure_body", "WARNING_PREFIX"]

WARNING_PREFIX = "WARNING (severity warn, does not fail the gate): "
HAZARD_PREFIX = "HAZARD (fails only on boundary data, severity warn): "

# junit-xml drops ``time`` when it is 0 and consumers then show NaN: never go below this.
MIN_SECONDS = 1e-6

# Size caps (characters) so one runaway case cannot blow a CI consumer's file limit.
MESSAGE_PART_LIMIT = 200  # check id, measured, threshold, summary inside the message
SUMMARY_LIMIT = 4_000
DETAILS_LIMIT = 32_000
VALUE_LIMIT = 2_000  # one observation value, one param value, one artifact path


def failure_message(case: CaseResult) -> str:
    """The one-line ``message`` attribute of a failing (or erroring / warning) case.

    ``{check} failed: measured {measured} vs threshold {threshold}; runbook {runbook_url}``;
    ``measured {measured}`` alone when there is no threshold; the summary instead when
    neither was measured. The runbook URL is never truncated.
    """
    check = one_line(case.check or case.case_id, MESSAGE_PART_LIMIT)
    measured = None if case.measured is None else one_line(case.measured, MESSAGE_PART_LIMIT)
    threshold = None if case.threshold is None else one_line(case.threshold, MESSAGE_PART_LIMIT)
    summary = one_line(case.summary, MESSAGE_PART_LIMIT) or "no summary given"
    if measured is not None and threshold is not None:
        what = f"measured {measured} vs threshold {threshold}"
    elif measured is not None:
        what = f"measured {measured}"
    elif threshold is not None:
        what = f"{summary} (threshold {threshold})"
    else:
        what = summary
    message = f"{check} failed: {what}"
    runbook = _runbook(case)
    if runbook:
        message += f"; runbook {runbook}"
    return message


def failure_body(case: CaseResult) -> str:
    """The text of ``<failure>`` / ``<error>``: one fact per line, the runbook in plain text."""
    lines = []
    summary = clean(case.summary, SUMMARY_LIMIT).strip()
    if summary:
        lines.append(summary)
    details = clean(case.details, DETAILS_LIMIT).strip("\n")
    if details.strip():
        lines.append(details)
    if case.params:
        lines.append(f"params: {_params(case.params)}")
    lines.append(f"seed: {case.seed}")
    lines.append(f"reproduce: {one_line(case.repro, None)}")
    runbook = _runbook(case)
    if runbook:
        lines.append(f"runbook: {runbook}")
    lines.extend(f"artifact: {one_line(path, VALUE_LIMIT)}" for path in case.artifacts)
    return "\n".join(lines)


def render(run: RunResult) -> str:
    """The JUnit XML document for ``run`` (a ``<testsuites>`` root), as text."""
    suites: dict[str, list[TestCase]] = {}
    for case in run.cases:
        suites.setdefault(case.suite, []).append(_testcase(case))
    properties = _properties(run)
    timestamp = one_line(run.started, None) or None
    test_suites = [
        TestSuite(one_line(name, None), cases, timestamp=timestamp, properties=dict(properties))
        for name, cases in suites.items()
    ]
    return to_xml_report_string(test_suites, prettyprint=True)


def write(run: RunResult, path: Path) -> None:
    """Write ``render(run)`` to ``path`` as UTF-8, atomically (temp file + ``os.replace``)."""
    path = Path(path)
    data = render(run).encode("utf-8")
    write_atomic(path, data)


def _testcase(case: CaseResult) -> TestCase:
    seconds = case.seconds if isinstance(case.seconds, (int, float)) and math.isfinite(case.seconds) else 0.0
    observations = _observations(case.observations)
    testcase = TestCase(
        one_line(case.case_id, None),
        classname=one_line(case.classname, None),
        elapsed_sec=max(float(seconds), MIN_SECONDS),
        file=one_line(case.scenario, None) or None,
        line=case.line if isinstance(case.line, int) and case.line > 0 else None,
    )
    stdout = observations
    if case.outcome == FAILED or (case.outcome == HAZARD and case.breaks_gate):
        testcase.add_failure_info(message=failure_message(case), output=failure_body(case))
    elif case.outcome == ERRORED:
        testcase.add_error_info(message=failure_message(case), output=failure_body(case))
    elif case.outcome == SKIPPED:
        testcase.add_skipped_info(message=one_line(case.summary) or "skipped")
    elif case.outcome == BLOCKED:
        by = one_line(case.blocked_by, None) or "another case"
        summary = one_line(case.summary)
        testcase.add_skipped_info(message=summary if by in summary else f"blocked by {by}: {summary}")
    elif case.outcome in (WARNED, HAZARD):
        prefix = HAZARD_PREFIX if case.outcome == HAZARD else WARNING_PREFIX
        warning = prefix + failure_message(case) + "\n" + failure_body(case)
        stdout = warning + ("\n\n" + observations if observations else "")
    elif case.outcome != PASSED:
        # An outcome this version does not know must not pass silently.
        testcase.add_error_info(
            message=f"unknown outcome {one_line(case.outcome, 50)!r}: " + failure_message(case),
            output=failure_body(case),
        )
    testcase.stdout = stdout or None
    return testcase


def _properties(run: RunResult) -> dict[str, str]:
    properties = {
        "seed": str(run.seed),
        "sqlite_version": one_line(run.sqlite_version, None),
        "compile_options": one_line(",".join(str(o) for o in run.compile_options), None),
        "python_version": one_line(run.python_version, None),
        "harness_version": one_line(run.harness_version, None),
        "profile": one_line(run.profile, None),
    }
    if run.shard:
        properties["shard"] = one_line(run.shard, None)
    return properties


def _runbook(case: CaseResult) -> str:
    return one_line(case.runbook_url or case.runbook, None)


def _params(params: Mapping[str, Any]) -> str:
    return ", ".join(
        f"{one_line(str(k), VALUE_LIMIT)}={_value(v)}" for k, v in sorted(params.items(), key=lambda kv: str(kv[0]))
    )


def _observations(observations: Mapping[str, Any]) -> str:
    return "\n".join(
        f"{one_line(str(k), VALUE_LIMIT)}: {_value(v)}"
        for k, v in sorted(observations.items(), key=lambda kv: str(kv[0]))
    )


def _value(value: Any) -> str:
    # Non-strings as JSON, so a tuple and the list it becomes after a results.json
    # round trip render the same.
    if not isinstance(value, (str, bytes)):
        value = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return one_line(value, VALUE_LIMIT)
