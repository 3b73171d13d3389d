"""Every report of a run, written in one place: what `gate`, `report` and `merge` produce.

JUnit for CI consumers, ``report.html`` for people, ``summary.md`` (also appended to
``$GITHUB_STEP_SUMMARY`` on GitHub Actions), annotations on the CI log, and the failing
cases' files preserved under ``artifacts/`` with a size cap.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterator

from harness.errors import HarnessError
from harness.reporting import annotations, artifacts, html, junit, links, markdown
from harness.reporting.results import RunResult

ARTIFACT_CAP_BYTES = 50 * 1024 * 1024  # per case: enough for the damaged and upgraded copies of real fixtures
ARTIFACT_TOTAL_CAP_BYTES = 500 * 1024 * 1024  # per run: a run where everything fails must not fill the disk
REPORT_NAMES = ("junit.xml", html.REPORT_NAME, "summary.md", "results.json")


def keep_artifacts(run: RunResult, reports: Path, cap_bytes: int = ARTIFACT_CAP_BYTES,
                   total_cap_bytes: int = ARTIFACT_TOTAL_CAP_BYTES) -> RunResult:
    """Copy each failing case's kept files into ``reports/artifacts/<case>/`` and record them.

    Each case keeps at most ``cap_bytes``, the run at most ``total_cap_bytes``: once that is
    used up, later cases keep only their own text (details and observations).
    """
    cases = []
    left = total_cap_bytes
    for case in run.cases:
        workdir = case.observations.get("workdir")
        if (case.breaks_gate or case.outcome == "warned") and workdir and not case.artifacts:
            kept = artifacts.preserve(case, Path(str(workdir)), reports, max(0, min(cap_bytes, left)))
            left -= sum(_size(reports / name) for name in kept)
            case = replace(case, artifacts=kept)
        cases.append(case)
    return replace(run, cases=tuple(cases))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def clear(reports: Path) -> None:
    """Remove a previous run's reports, so what the directory holds is one run's set or nothing."""
    for name in REPORT_NAMES:
        (reports / name).unlink(missing_ok=True)
    shutil.rmtree(reports / artifacts.ARTIFACTS_DIR, ignore_errors=True)


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
    return [reports / name for name in REPORT_NAMES]


LOCK_NAME = ".harness.lock"


@contextlib.contextmanager
def reports_lock(reports: Path) -> Iterator[None]:
    """Hold ``reports/`` for one run: a second run on the same directory stops with exit 2.

    An advisory ``flock`` on ``reports/.harness.lock`` (released by the kernel if the holder
    dies, so a killed run never leaves a stale lock); the file names the holder's pid.
    """
    path = reports / LOCK_NAME
    try:
        reports.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the whole run
    except OSError as exc:
        raise HarnessError(f"{reports}: cannot write the reports ({exc.strerror or exc}); give --reports a "
                           "writable directory") from None
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise HarnessError(f"{reports}: another harness run (pid {holder}) is writing these reports; wait for "
                               "it to finish or give this run another --reports directory") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()
