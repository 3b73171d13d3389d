"""Plain-text rendering of results for a terminal or a CI log."""

from __future__ import annotations

from harness.reporting.causes import line_of, root_causes
from harness.reporting.results import CaseResult, RunResult
from harness.reporting.sanitize import one_line


def failure_text(result: CaseResult) -> str:
    lines = [f"{result.case_id} {result.outcome.upper()} (severity {result.severity}): {result.summary}"]
    if result.measured is not None or result.threshold is not None:
        lines.append(f"  measured: {result.measured}   threshold: {result.threshold}")
    lines.append(f"  runbook: {result.runbook_url}")
    if result.details:
        lines += ["  " + line for line in result.details.splitlines()[:40]]
    lines.append(f"  seed: {result.seed}")
    lines.append(f"  reproduce: {result.repro}")
    workdir = result.observations.get("workdir")
    if workdir:
        lines.append(f"  files kept in: {workdir}")
    return "\n".join(lines)


def summary(run: RunResult, reports: str) -> str:
    """The gate's closing lines: the verdict, then one line per root cause (not per case)."""
    counts = run.counts()
    verdict = "PASSED" if run.passed else "FAILED"
    parts = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
    lines = [f"harness gate {verdict}: {len(run.cases)} cases ({parts}) in {run.seconds:.1f}s, "
             f"seed {run.seed}, SQLite {run.sqlite_version}"]
    for cause in root_causes(run):
        lines.append(f"  {line_of(cause)}")
        lines.append(f"           runbook {one_line(cause.runbook_url, None)} | {one_line(cause.repro, None)}")
    lines.append(f"reports: {reports}")
    return "\n".join(lines)
