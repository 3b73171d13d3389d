"""The judgement of one case: what the harness measured and whether it holds.

A verdict carries observations (facts read from the files) and never severity: severity
belongs to the scenario, so the same check can gate one suite and only warn in another.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

PASS = "pass"
FAIL = "fail"
ERROR = "error"  # the harness or the engine broke in a way the check does not judge
SKIP = "skip"
STATUSES = (PASS, FAIL, ERROR, SKIP)


@dataclass(frozen=True)
class Verdict:
    status: str
    summary: str  # one line: what held or what broke
    measured: str | None = None  # e.g. "3 violations"
    threshold: str | None = None  # e.g. "0"
    details: str = ""  # multi-line: diffs, listings
    observations: Mapping[str, Any] = field(default_factory=dict)  # JSON-able facts
    artifacts: tuple[str, ...] = ()  # paths kept for the report
    severity: str | None = None  # a policy's own severity for this outcome (drills); else the case's
    runbook: str | None = None  # a more specific runbook than the check's (a drill's damage kind)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown verdict status {self.status!r}")
        if self.severity not in (None, "error", "warn"):
            raise ValueError(f"unknown verdict severity {self.severity!r}")


def passed(summary: str, **kw: Any) -> Verdict:
    return Verdict(PASS, summary, **kw)


def failed(summary: str, **kw: Any) -> Verdict:
    return Verdict(FAIL, summary, **kw)


def errored(summary: str, **kw: Any) -> Verdict:
    return Verdict(ERROR, summary, **kw)


def skipped(summary: str, **kw: Any) -> Verdict:
    return Verdict(SKIP, summary, **kw)
