"""Where a runbook page lives, so every failure links to what to do about it.

Order: an explicit base (``--runbook-base`` / the scenario's ``suite.runbook_base`` /
``HARNESS_RUNBOOK_BASE``); on GitHub Actions, the runbook at the commit under test; else
the repository's own file path, which works in a checkout and in the CI log.
"""

from __future__ import annotations

import os

ENV_BASE = "HARNESS_RUNBOOK_BASE"


def default_base() -> str:
    if os.environ.get(ENV_BASE):
        return os.environ[ENV_BASE]
    server, repo, sha = (os.environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_SHA"))
    if server and repo and sha:
        return f"{server}/{repo}/blob/{sha}/runbooks"
    return "runbooks"


def runbook_url(runbook: str, base: str | None = None) -> str:
    root = (base or default_base()).rstrip("/")
    return f"{root}/{runbook}.md"
