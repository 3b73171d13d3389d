"""Per-family grids of a run: which fixture / damage / query broke which check, at a glance.

Pure: a ``RunResult`` in, ``Grid`` values out (no I/O, no HTML). Rows and columns are
derived from each case's params; ``"check"`` stands for ``case.check``:

===================================  ============================  =======================
family (or, if unknown, its params)  rows                          columns
===================================  ============================  =======================
matrix                               fixture                       check
recovery                             fixture, snapshots            check
drills (params kind, snapshots)      kind                          snapshots (, journal)
plans (params query)                 query                         check
anything else                        the whole params string       check
===================================  ============================  =======================

A family not named above picks the drills layout when its cases carry ``kind`` and
``snapshots`` params and the plans layout when they carry ``query``. Rows and columns keep
the order in which they first appear in the run (the catalogue's order), except rows
named by fixture, which sort in migration order (numbers by value: v2 before v10). One cell may hold
several cases (a drill runs several checks per damage kind and snapshot state): the cell
shows the worst outcome and links every case; each entry is labelled with what the row and
column do not already say. Every case id maps to one HTML anchor (``anchor``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Iterable, Mapping

from harness.reporting.results import (BLOCKED, ERRORED, FAILED, HAZARD, OUTCOMES, PASSED, SKIPPED, WARNED, CaseResult,
                                      RunResult, natural_order)

__all__ = ["Cell", "Entry", "Grid", "Layout", "anchor", "grids", "layout_for", "worst", "NO_PARAMS"]

CHECK = "check"
VERSION_ROW = "fixture"
NO_PARAMS = "\u2014"  # "—": the row of a family whose cases have no params
MISSING = "\u2014"

# Worst first. An outcome this version does not know counts as errored.
SEVERITY_ORDER = (ERRORED, FAILED, HAZARD, WARNED, BLOCKED, SKIPPED, PASSED)


@dataclass(frozen=True)
class Layout:
    rows: tuple[str, ...]  # param names ("check" = case.check); () = the whole params string
    columns: tuple[str, ...]


MATRIX = Layout(("fixture",), (CHECK,))
RECOVERY = Layout(("fixture", "snapshots"), (CHECK,))
DRILLS = Layout(("kind",), ("snapshots", "journal"))
PLANS = Layout(("query",), (CHECK,))
DEFAULT = Layout((), (CHECK,))

LAYOUTS: Mapping[str, Layout] = {
    "matrix": MATRIX,
    "recovery": RECOVERY,
    "drill": DRILLS,
    "drills": DRILLS,
    "plan": PLANS,
    "plans": PLANS,
}


@dataclass(frozen=True)
class Entry:
    """One case inside a cell."""

    case_id: str
    anchor: str
    outcome: str
    label: str  # what the row and column do not say (the check, other params); may be ""
    summary: str


@dataclass(frozen=True)
class Cell:
    entries: tuple[Entry, ...]

    @property
    def outcome(self) -> str:
        return worst(e.outcome for e in self.entries)

    @property
    def anchor(self) -> str:
        """The details anchor of the worst case in the cell."""
        rank = _rank(self.outcome)
        return next(e.anchor for e in self.entries if _rank(e.outcome) == rank)


@dataclass(frozen=True)
class Grid:
    family: str
    row_label: str  # e.g. "fixture", "fixture / snapshots", "params"
    column_label: str  # e.g. "check", "snapshots / journal"
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    cells: Mapping[tuple[str, str], Cell]

    def cell(self, row: str, column: str) -> Cell | None:
        return self.cells.get((row, column))

    @property
    def outcome(self) -> str:
        return worst(cell.outcome for cell in self.cells.values())

    def counts(self) -> dict[str, int]:
        counts = {outcome: 0 for outcome in OUTCOMES}
        for cell in self.cells.values():
            for entry in cell.entries:
                counts[entry.outcome if entry.outcome in counts else ERRORED] += 1
        return counts


def _rank(outcome: str) -> int:
    return SEVERITY_ORDER.index(outcome) if outcome in SEVERITY_ORDER else 0


def worst(outcomes: Iterable[str]) -> str:
    """The most severe of ``outcomes`` (errored > failed > hazard > warned > blocked > skipped > passed)."""
    ranks = [_rank(o) for o in outcomes]
    return SEVERITY_ORDER[min(ranks)] if ranks else PASSED


_SLUG = re.compile(r"[^A-Za-z0-9_.-]+")


def anchor(case_id: str) -> str:
    """A stable, unique HTML id for a case: readable slug plus a short hash of the exact id."""
    text = str(case_id)
    slug = _SLUG.sub("-", text).strip("-.")[:80] or "case"
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"case-{slug}-{digest}"


def layout_for(family: str, cases: Iterable[CaseResult]) -> Layout:
    if family in LAYOUTS:
        return LAYOUTS[family]
    keys: set[str] = set()
    for case in cases:
        keys.update(str(k) for k in (case.params or {}))
    if {"kind", "snapshots"} <= keys:
        return DRILLS
    if "query" in keys:
        return PLANS
    return DEFAULT


def _value(case: CaseResult, name: str) -> str | None:
    if name == CHECK:
        return str(case.check)
    params = case.params or {}
    return None if name not in params else str(params[name])


def _params_string(case: CaseResult, skip: Iterable[str] = ()) -> str:
    skip = set(skip)
    return ", ".join(f"{k}={v}" for k, v in (case.params or {}).items() if str(k) not in skip)


def _axis(case: CaseResult, names: tuple[str, ...]) -> str:
    if not names:
        return _params_string(case) or NO_PARAMS
    values = [_value(case, n) for n in names]
    present = [v for v in values if v is not None]
    if not present:
        return MISSING
    return " / ".join(v if v is not None else MISSING for v in values) if len(names) > 1 else present[0]


def _label(case: CaseResult, layout: Layout) -> str:
    """What the row and column do not already say about the case."""
    if not layout.rows:  # the row is the whole params string
        used = set(case.params or {})
    else:
        used = set(layout.rows)
    used |= set(layout.columns)
    parts = []
    if CHECK not in used:
        parts.append(str(case.check))
    rest = _params_string(case, used)
    if rest:
        parts.append(rest)
    return " \u00b7 ".join(parts)


def _axis_label(names: tuple[str, ...], present: set[str]) -> str:
    if not names:
        return "params"
    shown = [n for n in names if n == CHECK or n in present] or list(names)
    return " / ".join(shown)


def _trim(names: tuple[str, ...], present: set[str]) -> tuple[str, ...]:
    """Drop optional axis params no case of the family has (e.g. drills without journal)."""
    kept = tuple(n for n in names if n == CHECK or n in present)
    return kept or names


def grids(run: RunResult) -> tuple[Grid, ...]:
    """One grid per family, in the order families first appear in ``run``."""
    families: dict[str, list[CaseResult]] = {}
    for case in run.cases:
        families.setdefault(str(case.family), []).append(case)
    return tuple(_grid(family, cases) for family, cases in families.items())


def _grid(family: str, cases: list[CaseResult]) -> Grid:
    base = layout_for(family, cases)
    present = {str(k) for case in cases for k in (case.params or {})}
    layout = Layout(_trim(base.rows, present) if base.rows else (), _trim(base.columns, present))
    rows: dict[str, None] = {}
    columns: dict[str, None] = {}
    entries: dict[tuple[str, str], list[Entry]] = {}
    for case in cases:
        row = _axis(case, layout.rows)
        column = _axis(case, layout.columns)
        rows.setdefault(row)
        columns.setdefault(column)
        entries.setdefault((row, column), []).append(
            Entry(str(case.case_id), anchor(case.case_id), str(case.outcome), _label(case, layout), str(case.summary))
        )
    return Grid(
        family=family,
        row_label=_axis_label(layout.rows, present),
        column_label=_axis_label(layout.columns, present),
        # fixtures are named after schema versions: in migration order (v2 before v10)
        rows=tuple(sorted(rows, key=natural_order) if layout.rows[:1] == (VERSION_ROW,) else rows),
        columns=tuple(columns),
        cells={key: Cell(tuple(value)) for key, value in entries.items()},
    )
