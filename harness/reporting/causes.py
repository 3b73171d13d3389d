"""Root causes: a run's failures grouped by what caused them, so one bug is one line.

A failing case's verdict may name its cause (``Cause``: migration file, line, mechanism);
cases of one family with the same cause are one root cause whatever fixture they ran on,
and list the fixtures (versions) affected, in migration order. A case that names no cause
is grouped with the cases of the same check whose summaries differ only in the case's own
parameter values and numbers (``table notes lost 3 rows`` on v2 and ``… 5 rows`` on v7).
Blocked cases are counted under the root cause of the case that blocks them; one whose
blocker is not in the run (a shard, a ``--case`` selection) is a root cause of its own.

Order, everywhere a report lists them: failures that break the gate, then failures at
severity ``warn``, then hazards (fail only on boundary data), then blocked; within each, by
the first case in migration order.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Literal

from harness.reporting.results import BLOCKED, ERRORED, FAILED, HAZARD, OUTCOMES, WARNED, natural_order
from harness.reporting.sanitize import one_line

if TYPE_CHECKING:
    from harness.reporting.results import CaseResult, RunResult

__all__ = ["RootCause", "root_causes", "versions_text", "line_of", "PROBLEM_OUTCOMES"]

CauseClass = Literal["bug", "hazard"]
PROBLEM_OUTCOMES = (FAILED, ERRORED, WARNED, HAZARD)
VERSION_PARAM = "fixture"  # the axis that names a legacy database, hence a schema version
LISTED_VERSIONS = 60  # a console line lists at most this many versions, then "… and N more"

_NUMBER = re.compile(r"\d+(?:\.\d+)?")


@dataclass(frozen=True)
class RootCause:
    id: str  # stable: a hash of the grouping key
    cls: CauseClass
    outcome: str  # the worst outcome of its cases (``blocked`` when its blocker is not in the run)
    severity: str  # "error" when it breaks the gate, else "warn"
    family: str
    check: str  # the check of its first case
    mechanism: str
    migration: str | None
    line: int | None
    summary: str  # the first case's summary, as the check wrote it
    versions: tuple[str, ...]  # the fixtures it affects, in migration order
    case_ids: tuple[str, ...]  # its failing cases, in migration order
    blocked: tuple[str, ...] = ()  # cases blocked by its cases
    runbook_url: str = ""
    repro: str = ""  # reruns its first case
    first_case: str = field(default="")

    @property
    def rank(self) -> int:
        """0 breaks the gate, 1 a failure at severity warn, 2 a hazard, 3 blocked."""
        if self.outcome == BLOCKED:
            return 3
        if self.cls == "hazard":
            return 2
        return 0 if self.severity == "error" else 1

    def where(self) -> str:
        if not self.migration:
            return ""
        return f"{self.migration} line {self.line}" if self.line else self.migration

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "class": self.cls, "outcome": self.outcome, "severity": self.severity,
                "family": self.family, "check": self.check, "migration": self.migration, "line": self.line,
                "mechanism": self.mechanism, "summary": self.summary, "versions": list(self.versions),
                "case_ids": list(self.case_ids), "blocked": list(self.blocked), "runbook_url": self.runbook_url,
                "repro": self.repro}


def _normalised(case: CaseResult) -> str:
    text = str(case.summary)
    for name, value in sorted((case.params or {}).items(), key=lambda kv: -len(str(kv[1]))):
        if len(str(value)) > 1:
            text = text.replace(str(value), f"<{name}>")
    return _NUMBER.sub("#", text)


def _key(case: CaseResult) -> tuple[str, ...]:
    cause = case.cause or {}
    if case.outcome == BLOCKED:
        return ("blocked", str(case.blocked_by))
    if cause.get("mechanism"):
        return (case.family, str(cause.get("migration") or ""), str(cause.get("line") or ""),
                str(cause["mechanism"]), str(case.outcome == HAZARD))
    return (case.family, case.check, _normalised(case), str(case.outcome == HAZARD))


def _version(case: CaseResult) -> str | None:
    value = (case.params or {}).get(VERSION_PARAM)
    return None if value is None else str(value)


def _worst(outcomes: Iterable[str]) -> str:
    order = (ERRORED, FAILED, HAZARD, WARNED, BLOCKED)
    ranks = [order.index(o) if o in order else 0 for o in outcomes]
    return order[min(ranks)] if ranks else FAILED


def root_causes(run: RunResult) -> tuple[RootCause, ...]:
    """The run's root causes, most urgent first (see the module docstring)."""
    cases = sorted(run.cases, key=lambda c: (str(c.scenario), natural_order(str(c.case_id))))
    ids = {c.case_id for c in cases}
    groups: dict[tuple[str, ...], list[CaseResult]] = {}
    for case in cases:
        if case.outcome in PROBLEM_OUTCOMES or case.outcome not in OUTCOMES or (
                case.outcome == BLOCKED and case.blocked_by not in ids):
            groups.setdefault(_key(case), []).append(case)
    blocked_by: dict[str, list[str]] = {}
    for case in cases:
        if case.outcome == BLOCKED and case.blocked_by in ids:
            blocked_by.setdefault(str(case.blocked_by), []).append(case.case_id)
    found = []
    for key, members in groups.items():
        first = members[0]
        cause = first.cause or {}
        outcome = _worst(c.outcome for c in members)
        is_blocked = outcome == BLOCKED
        breaks = any(c.breaks_gate or (c.outcome == BLOCKED and c.severity == "error") for c in members)
        versions = {v: None for v in (_version(c) for c in members) if v is not None}
        if is_blocked:
            mechanism = f"blocked by {first.blocked_by}, which this run did not hold"
        else:
            mechanism = str(cause.get("mechanism") or first.summary)
        line = cause.get("line")
        found.append(RootCause(
            id="rc-" + hashlib.sha256("\0".join(key).encode("utf-8", "surrogatepass")).hexdigest()[:10],
            cls="hazard" if outcome == HAZARD else "bug",
            outcome=outcome,
            severity="error" if breaks else "warn",
            family=str(first.family),
            check=str(first.check),
            mechanism=mechanism,
            migration=str(cause["migration"]) if cause.get("migration") else None,
            line=line if isinstance(line, int) and not isinstance(line, bool) else None,
            summary=str(first.summary),
            versions=tuple(sorted(versions, key=natural_order)),
            case_ids=tuple(c.case_id for c in members),
            blocked=tuple(b for c in members for b in blocked_by.get(c.case_id, ())),
            runbook_url=str(first.runbook_url or first.runbook),
            repro=str(first.repro),
            first_case=str(first.case_id),
        ))
    order = {case.case_id: index for index, case in enumerate(cases)}
    return tuple(sorted(found, key=lambda rc: (rc.rank, order.get(rc.first_case, 0))))


def versions_text(versions: tuple[str, ...], limit: int = LISTED_VERSIONS) -> str:
    shown = ", ".join(versions[:limit])
    return shown + (f", … and {len(versions) - limit} more" if len(versions) > limit else "")


def line_of(cause: RootCause) -> str:
    """One line: outcome, where (file line), mechanism, the check and the versions it hits."""
    label = str(cause.outcome).upper()
    where = cause.where()
    head = f"{where}: {cause.mechanism}" if where else cause.mechanism
    cases = len(cause.case_ids)
    counted = f"{cases} case{'s' if cases != 1 else ''}"
    if cause.blocked:
        counted += f", {len(cause.blocked)} blocked"
    at = f" at {versions_text(cause.versions)}" if cause.versions else ""
    # one terminal / CI-log line whatever an engine or a database put in the text
    return one_line(f"{label:8} {head} \u2014 {cause.family}::{cause.check}{at} ({counted})", None)
