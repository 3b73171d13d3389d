"""Where a runbook page lives, so every failure links to what to do about it.

Order: an explicit base (``--runbook-base`` / the scenario's ``suite.runbook_base`` /
``HARNESS_RUNBOOK_BASE``); on GitHub Actions, the runbook at the commit under test; else
the relative path ``runbooks/<id>.md``, which is the repository's own page in a checkout.
Where that path does not exist (the harness was installed with pip and runs in an
application's directory), the reports carry the pages shipped in the package: ``ship``
copies them next to the report and points each failure at its copy, so links open a file
that exists wherever the reports are read.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from importlib import resources
from pathlib import Path

from harness.reporting.results import RunResult

ENV_BASE = "HARNESS_RUNBOOK_BASE"
DEFAULT_BASE = "runbooks"


def default_base() -> str:
    if os.environ.get(ENV_BASE):
        return os.environ[ENV_BASE]
    server, repo, sha = (os.environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_SHA"))
    if server and repo and sha:
        return f"{server}/{repo}/blob/{sha}/runbooks"
    return DEFAULT_BASE


def runbook_url(runbook: str, base: str | None = None) -> str:
    root = (base or default_base()).rstrip("/")
    return f"{root}/{runbook}.md"


def packaged_runbooks() -> Path:
    """The runbook pages shipped inside the package (``harness/runbooks``)."""
    return Path(str(resources.files("harness") / "runbooks"))


def ship(run: RunResult, reports: Path) -> RunResult:
    """``run`` with every default runbook link that does not resolve from the current
    directory pointed at a copy of the packaged page in ``reports/runbooks/``."""
    source = packaged_runbooks()
    dangling = [case for case in run.cases if _dangling(case.runbook_url, source)]
    if not dangling:
        return run
    target = reports / DEFAULT_BASE
    target.mkdir(parents=True, exist_ok=True)
    for page in source.glob("*.md"):  # all of them: pages link to one another
        shutil.copyfile(page, target / page.name)
    shown = _shown(target)
    cases = tuple(replace(case, runbook_url=f"{shown}/{Path(case.runbook_url).name}")
                  if case in dangling else case for case in run.cases)
    return replace(run, cases=cases)


def run_base(reports: Path | None) -> str | None:
    """The base a run links to when none is given and the current directory has no
    ``runbooks/`` (an installed harness): the copies ``ship`` puts next to the reports."""
    if reports is None or default_base() != DEFAULT_BASE or Path(DEFAULT_BASE).is_dir():
        return None
    return f"{_shown(reports)}/{DEFAULT_BASE}"


def _dangling(url: str, source: Path) -> bool:
    """A relative link whose page is missing here but shipped in the package."""
    if not url.endswith(".md") or "://" in url or Path(url).is_file():
        return False
    return (source / Path(url).name).is_file()


def _shown(path: Path) -> str:
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()
