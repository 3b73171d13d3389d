"""The judgement of one case: what the harness measured and whether it holds.

A verdict carries observations (facts read from the files) and never severity: severity
belongs to the scenario, so the same check can gate one suite and only warn in another.

``Status`` is the one vocabulary of what a check found. A check that cannot judge because
another case's subject already broke (a fixture's upgrade failed, so its schema cannot be
compared) is ``blocked`` and names that case, so one bug is reported once, not once per
dependent check. ``Cause`` is the key that groups failures into root causes: the migration
(file and line) and the mechanism.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Mapping


class Status(StrEnum):
    """What a check found (a ``str``: JSON and comparisons with plain strings keep working)."""

    PASS = "pass"
    FAIL = "fail"  # the check fails on realistic data: a bug
    HAZARD = "hazard"  # fails only on data the schema permits but a real user is unlikely to hold
    ERROR = "error"  # the harness or the engine broke in a way the check does not judge
    SKIP = "skip"  # not applicable (the engine lacks an operation)
    BLOCKED = "blocked"  # not judged: the case named in ``blocked_by`` already failed on the same subject


PASS, FAIL, HAZARD, ERROR, SKIP, BLOCKED = (Status.PASS, Status.FAIL, Status.HAZARD, Status.ERROR, Status.SKIP,
                                            Status.BLOCKED)
STATUSES = tuple(Status)


@dataclass(frozen=True)
class Cause:
    """Where a failure comes from; equal causes on several fixtures are one root cause.

    ``mechanism`` says what happened without fixture-specific numbers (``upgrade fails:
    NOT NULL constraint failed: notes.body``, ``rows of notes deleted by DROP TABLE
    projects``); ``migration`` is the file (as the engine names it) and ``line`` the line in it.
    """

    mechanism: str
    migration: str | None = None
    line: int | None = None

    def where(self) -> str:
        if not self.migration:
            return ""
        return f"{self.migration} line {self.line}" if self.line else self.migration

    def as_dict(self) -> dict[str, Any]:
        return {"mechanism": self.mechanism, "migration": self.migration, "line": self.line}


@dataclass(frozen=True)
class Verdict:
    status: Status
    summary: str  # one line: what held or what broke
    measured: str | None = None  # e.g. "3 violations"
    threshold: str | None = None  # e.g. "0"
    details: str = ""  # multi-line: diffs, listings
    observations: Mapping[str, Any] = field(default_factory=dict)  # JSON-able facts
    artifacts: tuple[str, ...] = ()  # paths kept for the report
    severity: str | None = None  # a policy's own severity for this outcome (drills); else the case's
    runbook: str | None = None  # a more specific runbook than the check's (a drill's damage kind)
    cause: Cause | None = None  # the root-cause key of a failure, when the check can name it
    blocked_by: str | None = None  # the case id whose failure keeps this one from judging

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "status", Status(self.status))
        except ValueError:
            raise ValueError(f"unknown verdict status {self.status!r}") from None
        if self.severity not in (None, "error", "warn"):
            raise ValueError(f"unknown verdict severity {self.severity!r}")
        if (self.status is Status.BLOCKED) != (self.blocked_by is not None):
            raise ValueError("a blocked verdict, and only one, names the case that blocks it")


def passed(summary: str, **kw: Any) -> Verdict:
    return Verdict(PASS, summary, **kw)


def failed(summary: str, **kw: Any) -> Verdict:
    return Verdict(FAIL, summary, **kw)


def hazard(summary: str, **kw: Any) -> Verdict:
    return Verdict(HAZARD, summary, **kw)


def errored(summary: str, **kw: Any) -> Verdict:
    return Verdict(ERROR, summary, **kw)


def skipped(summary: str, **kw: Any) -> Verdict:
    return Verdict(SKIP, summary, **kw)


def blocked(by: str, reason: str, **kw: Any) -> Verdict:
    """Not judged because case ``by`` failed on the same subject; ``reason`` says what it found."""
    return Verdict(BLOCKED, f"blocked by {by}: {reason}", blocked_by=by, **kw)
