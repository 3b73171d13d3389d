"""Combining the results of several shards into one run, so one report covers the matrix."""

from __future__ import annotations

from typing import Sequence

from harness.errors import HarnessError
from harness.reporting.results import RunResult, natural_order


def merge(runs: Sequence[RunResult]) -> RunResult:
    """Every case of every shard, once; a case id seen twice means overlapping shards."""
    if not runs:
        raise HarnessError("nothing to merge: give at least one results file")
    seen: dict[tuple[str, str], str | None] = {}
    cases = []
    for run in runs:
        for case in run.cases:
            key = (case.scenario, case.case_id)
            if key in seen:
                raise HarnessError(f"case {case.case_id} of {case.scenario} is in shard {seen[key]} and in shard "
                                   f"{run.shard}: shards must not overlap")
            seen[key] = run.shard
            cases.append(case)
    first = runs[0]
    versions = {run.sqlite_version for run in runs}
    if len(versions) > 1:
        raise HarnessError(f"shards ran on different SQLite versions ({', '.join(sorted(versions))}): "
                           "their results are not one run")
    return RunResult(
        cases=tuple(sorted(cases, key=lambda c: (c.scenario, natural_order(c.case_id)))),
        seed=first.seed,
        seconds=round(sum(run.seconds for run in runs), 3),
        started=min(run.started for run in runs),
        sqlite_version=first.sqlite_version,
        compile_options=first.compile_options,
        python_version=first.python_version,
        harness_version=first.harness_version,
        profile=first.profile,
        shard=None,
    )
