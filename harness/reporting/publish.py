"""Every report of a run, written in one place: what `gate`, `report` and `merge` produce.

JUnit for CI consumers, ``report.html`` for people, ``summary.md`` (also appended to
``$GITHUB_STEP_SUMMARY`` on GitHub Actions), annotations on the CI log, and the failing
cases' files preserved under ``artifacts/`` with a size cap.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Callable

from harness.reporting import annotations, artifacts, html, junit, links, markdown
from harness.reporting.results import RunResult

ARTIFACT_CAP_BYTES = 50 * 1024 * 1024  # per case: enough for the damaged and upgraded copies of real fixtures


def keep_artifacts(run: RunResult, reports: Path, cap_bytes: int = ARTIFACT_CAP_BYTES) -> RunResult:
    """Copy each failing case's kept files into ``reports/artifacts/<case>/`` and record them."""
    cases = []
    for case in run.cases:
        workdir = case.observations.get("workdir")
        if (case.breaks_gate or case.outcome == "warned") and workdir and not case.artifacts:
            case = replace(case, artifacts=artifacts.preserve(case, Path(str(workdir)), reports, cap_bytes))
        cases.append(case)
    return replace(run, cases=tuple(cases))


def write_all(run: RunResult, reports: Path, *, echo: Callable[[str], None] = print) -> list[Path]:
    reports.mkdir(parents=True, exist_ok=True)
    run = links.ship(keep_artifacts(run, reports), reports)
    run.write(reports / "results.json")
    junit.write(run, reports / "junit.xml")
    html.write(run, reports / html.REPORT_NAME)
    markdown.write(run, reports / "summary.md", append=False)
    if os.environ.get("GITHUB_ACTIONS") == "true":
        for line in annotations.annotations(run):
            echo(line)
        step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if step_summary:
            markdown.write(run, Path(step_summary), append=True)
    return [reports / name for name in ("junit.xml", html.REPORT_NAME, "summary.md", "results.json")]
