"""The machine-readable record of a run: every case, its verdict and how to rerun it.

Every report (JUnit, console, and later HTML / Markdown) is rendered from a ``RunResult``,
which round-trips through JSON so reports can be re-rendered and shards merged.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import Any, Mapping

from harness.checks.verdict import Status
from harness.errors import InputError
from harness.sqlite.files import write_atomic


class Outcome(StrEnum):
    """Gate-level outcomes: a verdict's ``Status`` judged against the case's severity."""

    PASSED = "passed"
    FAILED = "failed"  # a failing check of severity "error": the gate fails
    WARNED = "warned"  # a failing check of severity "warn": reported only
    HAZARD = "hazard"  # fails only on boundary data: fails the gate only at severity "error"
    ERRORED = "errored"  # the engine or harness broke while running the case: the gate fails
    SKIPPED = "skipped"
    BLOCKED = "blocked"  # not judged: the case it names failed (that case carries the verdict)


PASSED, FAILED, WARNED, HAZARD, ERRORED, SKIPPED, BLOCKED = tuple(Outcome)
OUTCOMES = tuple(Outcome)
GATE_BREAKING = frozenset({FAILED, ERRORED})

FORMAT_VERSION = 1


def outcome_of(status: str, severity: str) -> Outcome:
    """Map a verdict status and a case severity to the gate outcome."""
    status = Status(status)
    if status is Status.PASS:
        return PASSED
    if status is Status.SKIP:
        return SKIPPED
    if status is Status.ERROR:
        return ERRORED
    if status is Status.BLOCKED:
        return BLOCKED
    if status is Status.HAZARD:
        return HAZARD
    return FAILED if severity == "error" else WARNED


_NUMBER = re.compile(r"(\d+)")


def natural_order(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key with numbers compared by value: v2 before v10, so fixtures named after
    migration versions (and the case ids holding them) sort in migration order."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in _NUMBER.split(text) if part)


@dataclass(frozen=True)
class CaseResult:
    case_id: str  # e.g. "continuity[fixture=neg-gap]::refused"
    suite: str
    family: str
    check: str
    params: Mapping[str, str]
    outcome: str  # an ``Outcome`` (kept a plain string: results from newer versions must load)
    status: str  # the verdict's own ``Status``
    severity: str
    summary: str
    runbook: str  # runbook id, e.g. "continuity-break"
    runbook_url: str
    scenario: str  # scenario file, as given on the command line
    line: int | None
    seed: int
    repro: str  # one command that reruns exactly this case
    seconds: float = 0.0
    measured: str | None = None
    threshold: str | None = None
    details: str = ""
    observations: Mapping[str, Any] = field(default_factory=dict)
    artifacts: tuple[str, ...] = ()
    cause: Mapping[str, Any] | None = None  # the root-cause key: mechanism, migration, line
    blocked_by: str | None = None  # a blocked case: the case id whose failure blocks it

    @property
    def classname(self) -> str:
        return f"{self.suite}.{self.family}"

    @property
    def breaks_gate(self) -> bool:
        return self.outcome in GATE_BREAKING or (self.outcome == HAZARD and self.severity == "error")


@dataclass(frozen=True)
class RunResult:
    cases: tuple[CaseResult, ...]
    seed: int
    seconds: float
    started: str  # RFC 3339 UTC
    sqlite_version: str
    compile_options: tuple[str, ...] = ()
    python_version: str = ""
    harness_version: str = ""
    profile: str = "default"
    shard: str | None = None  # "i/N" when this run is one shard of a sharded matrix

    @property
    def passed(self) -> bool:
        """No case breaks the gate, and no case is blocked by one this run did not hold (a
        shard or ``--case`` selection): its blocker failed, even if elsewhere."""
        ids = {case.case_id for case in self.cases}
        return not any(case.breaks_gate or (case.outcome == BLOCKED and case.blocked_by not in ids
                                            and case.severity == "error") for case in self.cases)

    def counts(self) -> dict[str, int]:
        counts = {str(outcome): 0 for outcome in OUTCOMES}
        for case in self.cases:
            counts[case.outcome if case.outcome in counts else ERRORED] += 1
        return counts

    def to_json(self) -> str:
        from harness.reporting.causes import root_causes  # causes reads these records: import late


        body = asdict(self)
        body["format"] = FORMAT_VERSION
        body["root_causes"] = [cause.as_json() for cause in root_causes(self)]
        return json.dumps(body, indent=1, sort_keys=True, ensure_ascii=True, default=str)

    def write(self, path: Path) -> None:
        write_atomic(path, self.to_json().encode("utf-8"))


def read(path: Path) -> RunResult:
    """Load a results file written by ``RunResult.write``; bad input is an ``InputError``."""
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(path, f"cannot be read ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(path, f"is not a harness results file (JSON: {exc})") from None
    if not isinstance(body, dict) or body.get("format") != FORMAT_VERSION:
        raise InputError(path, f"is not a harness results file of format {FORMAT_VERSION}", key="format")
    try:
        cases = tuple(_case(raw) for raw in body["cases"])
        run_keys = {f.name for f in fields(RunResult)} - {"cases"}
        run = {k: v for k, v in body.items() if k in run_keys}
        run["compile_options"] = tuple(run.get("compile_options", ()))
        return RunResult(cases=cases, **run)
    except (KeyError, TypeError) as exc:
        raise InputError(path, f"is missing or has a malformed field ({exc})", key="cases") from None


def _case(raw: Mapping[str, Any]) -> CaseResult:
    names = {f.name for f in fields(CaseResult)}
    values = {k: v for k, v in raw.items() if k in names}
    values["artifacts"] = tuple(values.get("artifacts", ()))
    return CaseResult(**values)
