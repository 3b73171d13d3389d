"""One self-contained HTML page for a run: what broke, at a glance, and what to do about it.

Rendered from a ``RunResult`` with jinja2 (``templates/report.html.j2``), autoescaping on
for everything. Every string taken from the run goes through ``sanitize.clean`` (or
``one_line``) while the view model is built, and again through the environment's
``finalize`` hook, so control characters, ANSI sequences, lone surrogates and undecodable
bytes never reach the page; the autoescape then makes ``<``, ``&`` and quotes inert.

The page needs nothing from the network: inline CSS, an inline SVG timing chart, no
script at all (the "only problems" filter is a CSS checkbox), and a Content-Security-Policy
that forbids scripts and remote loads. The only links leaving the page are runbook URLs;
they are links only when they are ``http(s)`` or relative paths (``javascript:`` and
friends are shown as text). The markup is also well-formed XML (void elements closed,
no named entities), which the tests use to check that hostile data did not break it.

Sections, top to bottom: header (verdict, counts, seed, duration, SQLite version and
compile options); "Needs a look": the root causes first (``causes.root_causes``: failures
that break the gate, then warnings, hazards and blocked; each with the migration file and
line, the mechanism, the versions it hits, its cases and how many it blocks, linked to its
first case), then every failed / errored / warned / hazard case, linked;
one grid per family (``grid.grids``), each cell coloured by its worst outcome and linked
to the case's details; details of each failed / errored / warned case (measured vs
threshold, the diff, runbook, reproduce command, seed, scenario line, params, preserved
artifacts, observations); the timing chart (total per family and the slowest cases); a
table of every case (each passed or skipped case's anchor lives on its row there).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import quote, urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from harness.reporting import grid as grids_
from harness.reporting.causes import RootCause, root_causes, versions_text
from harness.reporting.results import (BLOCKED, ERRORED, FAILED, HAZARD, OUTCOMES, PASSED, SKIPPED, WARNED, CaseResult,
                                      RunResult)
from harness.reporting.sanitize import clean, one_line
from harness.sqlite.files import write_atomic

__all__ = ["render", "write", "environment", "REPORT_NAME", "SLOWEST", "MAX_DETAILED"]

TEMPLATE = "report.html.j2"
REPORT_NAME = "report.html"

SLOWEST = 15  # cases in the timing chart
MAX_DETAILED = 1_000  # problem cases with a full details block; the rest get a table row

# Size caps (characters) per value, so one runaway case cannot make the page unusable.
SUMMARY_LIMIT = 4_000
DETAILS_LIMIT = 64_000
OBSERVATIONS_LIMIT = 32_000
VALUE_LIMIT = 2_000
LABEL_LIMIT = 70  # a label in the timing chart

PROBLEMS = (ERRORED, FAILED, HAZARD, WARNED)
SYMBOLS = {PASSED: "\u2713", FAILED: "\u2717", ERRORED: "!", WARNED: "\u26a0", SKIPPED: "\u2013", HAZARD: "\u25cb",
           BLOCKED: "\u2298"}

CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
       "base-uri 'none'; form-action 'none'")

# Characters left alone when a URL or path is percent-encoded for an href.
_URL_SAFE = ":/?#[]@!$&'()*+,;=%~"
_PATH_SAFE = "/!$&'()*+,;=@~"


def _finalize(value: Any) -> Any:
    """Applied to every ``{{ … }}`` before autoescaping: the last line of defence."""
    if value is None:
        return ""
    if isinstance(value, Markup):
        return value
    if isinstance(value, (str, bytes, bytearray)):
        return clean(value)
    return value


def environment() -> Environment:
    return Environment(
        loader=PackageLoader("harness.reporting", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(
    run: RunResult,
    *,
    report_dir: Path | None = None,
    artifacts_root: Path | None = None,
    runbook_root: Path | None = None,
    title: str | None = None,
) -> str:
    """The report page for ``run`` as text.

    ``report_dir``: the directory the page will live in; relative links (artifacts, runbook
    paths) are computed from it. ``artifacts_root``: what relative ``case.artifacts`` paths
    are relative to (default: ``report_dir``, as ``artifacts.preserve`` returns them
    relative to the reports directory); absolute artifact paths are made relative to
    ``report_dir``. ``runbook_root``: what a relative runbook URL (the default
    ``runbooks/<id>.md``) is relative to (default: the current directory, where the gate ran).
    """
    linker = _Linker(report_dir, artifacts_root, runbook_root)
    problems = [c for c in run.cases if c.outcome in PROBLEMS or c.outcome not in OUTCOMES]
    problems.sort(key=lambda c: grids_.SEVERITY_ORDER.index(c.outcome) if c.outcome in OUTCOMES else 0)
    detailed = {id(c) for c in problems[:MAX_DETAILED]}
    context = {
        "title": one_line(title or _title(run), 300),
        "csp": CSP,
        "run": _run_view(run),
        "problems": [_brief(c) for c in problems],
        "causes": [_cause_view(c) for c in root_causes(run)],
        "details": [_case_view(c, linker) for c in problems[:MAX_DETAILED]],
        "details_omitted": max(0, len(problems) - MAX_DETAILED),
        "grids": [_grid_view(g) for g in grids_.grids(run)],
        "chart": _chart(run),
        "cases": [dict(_brief(c), owns_anchor=id(c) not in detailed) for c in run.cases],
        "symbols": SYMBOLS,
    }
    return environment().get_template(TEMPLATE).render(context)


def write(run: RunResult, path: Path, **options: Any) -> None:
    """Write ``render(run)`` to ``path`` (UTF-8, atomically); links are relative to its directory."""
    path = Path(path)
    options.setdefault("report_dir", path.parent)
    data = render(run, **options).encode("utf-8", errors="replace")
    write_atomic(path, data)


# --- view model: every string cleaned here --------------------------------------------------


def _title(run: RunResult) -> str:
    verdict = "PASSED" if run.passed else "FAILED"
    return f"harness gate {verdict}: {len(run.cases)} cases, seed {run.seed}"


def _css_outcome(outcome: str) -> str:
    return outcome if outcome in OUTCOMES else "unknown"


def _seconds(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) and value > 0 else 0.0


def _duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{int(seconds // 60)} min {seconds % 60:.0f} s"


def _run_view(run: RunResult) -> dict[str, Any]:
    counts = run.counts() if all(c.outcome in OUTCOMES for c in run.cases) else _counts(run)
    return {
        "passed": run.passed,
        "verdict": "PASSED" if run.passed else "FAILED",
        "total": len(run.cases),
        "counts": [(o, n) for o, n in counts.items()],
        "seed": one_line(str(run.seed), 100),
        "duration": _duration(_seconds(run.seconds)),
        "started": one_line(run.started, 100),
        "sqlite_version": one_line(run.sqlite_version, 100),
        "compile_options": [one_line(str(o), VALUE_LIMIT) for o in run.compile_options],
        "python_version": one_line(run.python_version, 100),
        "harness_version": one_line(run.harness_version, 100),
        "profile": one_line(run.profile, 200),
        "shard": one_line(run.shard, 100) if run.shard else "",
    }


def _counts(run: RunResult) -> dict[str, int]:
    counts = {outcome: 0 for outcome in OUTCOMES}
    for case in run.cases:
        counts[case.outcome if case.outcome in counts else ERRORED] += 1
    return counts


def _brief(case: CaseResult) -> dict[str, Any]:
    return {
        "id": one_line(case.case_id, None),
        "anchor": grids_.anchor(case.case_id),
        "outcome": one_line(case.outcome, 50),
        "css": _css_outcome(case.outcome),
        "family": one_line(case.family, 200),
        "severity": one_line(case.severity, 50),
        "summary": one_line(case.summary, 300),
        "seconds": f"{_seconds(case.seconds):.3f}",
    }


def _cause_view(cause: RootCause) -> dict[str, Any]:
    return {
        "id": one_line(cause.id, 100),
        "anchor": grids_.anchor(cause.first_case),
        "outcome": one_line(cause.outcome, 50),
        "css": _css_outcome(cause.outcome),
        "cls": one_line(cause.cls, 50),
        "severity": one_line(cause.severity, 50),
        "where": one_line(cause.where(), VALUE_LIMIT),
        "mechanism": one_line(cause.mechanism, 600),
        "check": one_line(f"{cause.family}::{cause.check}", 300),
        "versions": one_line(versions_text(cause.versions), VALUE_LIMIT),
        "cases": len(cause.case_ids),
        "blocked": len(cause.blocked),
    }


def _case_view(case: CaseResult, linker: "_Linker") -> dict[str, Any]:
    runbook_text = one_line(case.runbook_url or case.runbook, VALUE_LIMIT)
    workdir = case.observations.get("workdir") if isinstance(case.observations, Mapping) else None
    return dict(
        _brief(case),
        status=one_line(case.status, 50),
        check=one_line(case.check, 300),
        summary_full=clean(case.summary, SUMMARY_LIMIT).strip(),
        measured=None if case.measured is None else one_line(case.measured, VALUE_LIMIT),
        threshold=None if case.threshold is None else one_line(case.threshold, VALUE_LIMIT),
        diff=_diff_lines(case.details),
        runbook=runbook_text,
        runbook_id=one_line(case.runbook, 200),
        runbook_href=linker.runbook(case.runbook_url or case.runbook),
        repro=one_line(case.repro, None),
        seed=one_line(str(case.seed), 100),
        scenario=one_line(case.scenario, VALUE_LIMIT),
        line=case.line if isinstance(case.line, int) and case.line > 0 else None,
        params=[(one_line(str(k), VALUE_LIMIT), _value(v)) for k, v in (case.params or {}).items()],
        artifacts=[(one_line(str(a), VALUE_LIMIT), linker.artifact(str(a))) for a in case.artifacts],
        workdir=one_line(str(workdir), VALUE_LIMIT) if workdir else "",
        observations=_observations(case.observations),
    )


def _value(value: Any) -> str:
    if not isinstance(value, (str, bytes)):
        value = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return one_line(value, VALUE_LIMIT)


def _observations(observations: Any) -> str:
    if not observations:
        return ""
    if isinstance(observations, Mapping):
        observations = {k: v for k, v in observations.items() if k != "workdir"}
        if not observations:
            return ""
    try:
        text = json.dumps(_deep_clean(observations), indent=1, sort_keys=True, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(observations)
    return clean(text, OBSERVATIONS_LIMIT)


def _deep_clean(value: Any, depth: int = 0) -> Any:
    """``clean`` every string inside a JSON-like value (keys too), before it is serialised."""
    if depth > 50:
        return clean(repr(value), VALUE_LIMIT)
    if isinstance(value, (str, bytes, bytearray)):
        return clean(value)
    if isinstance(value, Mapping):
        return {clean(str(k)): _deep_clean(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_deep_clean(v, depth + 1) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return clean(str(value))


def _diff_lines(details: Any) -> list[tuple[str, str]]:
    """The details text as (css class, line): unified-diff markers and "missing" lines coloured."""
    text = clean(details, DETAILS_LIMIT).strip("\n")
    if not text.strip():
        return []
    lines = []
    for line in text.splitlines():
        body = line.lstrip()
        if body.startswith(("+++", "---")):
            css = "hdr"
        elif body.startswith("@@"):
            css = "hunk"
        elif body.startswith("+"):
            css = "add"
        elif body.startswith("-"):
            css = "del"
        else:
            css = ""
        lines.append((css, line))
    return lines


def _grid_view(grid: grids_.Grid) -> dict[str, Any]:
    rows = []
    for row in grid.rows:
        cells = []
        for column in grid.columns:
            cell = grid.cell(row, column)
            if cell is None:
                cells.append(None)
                continue
            cells.append({
                "css": _css_outcome(cell.outcome),
                "outcome": one_line(cell.outcome, 50),
                "entries": [
                    {
                        "id": one_line(e.case_id, None),
                        "anchor": e.anchor,
                        "css": _css_outcome(e.outcome),
                        "outcome": one_line(e.outcome, 50),
                        "label": one_line(e.label, 200),
                        "summary": one_line(e.summary, 300),
                    }
                    for e in cell.entries
                ],
            })
        rows.append({"label": one_line(row, 300), "cells": cells})
    counts = grid.counts()
    return {
        "family": one_line(grid.family, 200),
        "anchor": "family-" + grids_.anchor(grid.family)[len("case-"):],
        "css": _css_outcome(grid.outcome),
        "row_label": one_line(grid.row_label, 200),
        "column_label": one_line(grid.column_label, 200),
        "columns": [one_line(c, 200) for c in grid.columns],
        "rows": rows,
        "counts": [(o, n) for o, n in counts.items() if n],
    }


# --- timing chart ---------------------------------------------------------------------------

CHART_WIDTH = 900
CHART_LABEL = 380  # room for the labels left of the bars
CHART_BAR = 18
CHART_GAP = 6
CHART_HEAD = 26  # a section heading inside the SVG


def _chart(run: RunResult) -> dict[str, Any]:
    totals: dict[str, float] = {}
    for case in run.cases:
        totals[str(case.family)] = totals.get(str(case.family), 0.0) + _seconds(case.seconds)
    families = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
    slowest = sorted(run.cases, key=lambda c: -_seconds(c.seconds))[:SLOWEST]
    room = CHART_WIDTH - CHART_LABEL - 90
    groups = []
    y = 0
    for heading, items in (
        ("total per family", [(one_line(f, LABEL_LIMIT), one_line(f, 300), s, None, "family") for f, s in families]),
        (f"slowest {len(slowest)} cases", [
            (one_line(c.case_id, LABEL_LIMIT), one_line(c.case_id, None), _seconds(c.seconds),
             grids_.anchor(c.case_id), _css_outcome(c.outcome)) for c in slowest]),
    ):
        top = max((s for *_, s, _a, _c in items), default=0.0) or 1.0
        bars = []
        y += CHART_HEAD
        heading_y = y - 8
        for label, full, seconds, anchor, css in items:
            bars.append({
                "label": label, "title": f"{full}: {_duration(seconds)}", "anchor": anchor, "css": css,
                "y": y, "text_y": y + CHART_BAR - 5, "width": f"{max(1.0, room * seconds / top):.1f}",
                "value": _duration(seconds), "value_x": f"{CHART_LABEL + max(1.0, room * seconds / top) + 6:.1f}",
            })
            y += CHART_BAR + CHART_GAP
        groups.append({"heading": heading, "heading_y": heading_y, "bars": bars})
        y += CHART_GAP
    return {"width": CHART_WIDTH, "height": max(y, 1), "label_x": CHART_LABEL - 8, "bar_x": CHART_LABEL,
            "groups": groups}


# --- links ----------------------------------------------------------------------------------


class _Linker:
    """Safe hrefs: http(s) URLs and relative paths only, relative to the report's directory."""

    def __init__(self, report_dir: Path | None, artifacts_root: Path | None, runbook_root: Path | None):
        self.report_dir = Path(report_dir).resolve() if report_dir is not None else None
        root = artifacts_root if artifacts_root is not None else report_dir
        self.artifacts_root = Path(root).resolve() if root is not None else None
        self.runbook_root = Path(runbook_root).resolve() if runbook_root is not None else Path.cwd()

    def runbook(self, url: str | None) -> str | None:
        text = one_line(url, None)
        if not text:
            return None
        parts = urlsplit(text)
        if parts.scheme.lower() in ("http", "https") and parts.netloc:
            return quote(text, safe=_URL_SAFE)
        if (parts.scheme and len(parts.scheme) > 1) or parts.netloc or not parts.path:
            return None  # javascript:, data:, file:, //host/…: never a live link
        path = Path(parts.path)
        if self.report_dir is None:  # no page location known: keep the path as given
            href = None if path.is_absolute() else quote(path.as_posix(), safe=_PATH_SAFE)
        else:
            href = self._relative(path if path.is_absolute() else self.runbook_root / path, parts.path)
        if href is not None and parts.fragment:
            href += "#" + quote(parts.fragment, safe=_PATH_SAFE)
        return href

    def artifact(self, path: str) -> str | None:
        text = one_line(path, None)
        if not text:
            return None
        parts = urlsplit(text)
        if (parts.scheme and len(parts.scheme) > 1) or parts.netloc:
            return None  # a URL, not a path: artifacts are local files only
        target = Path(text)
        if not target.is_absolute():
            if self.artifacts_root is None:
                return quote(target.as_posix(), safe=_PATH_SAFE)
            target = self.artifacts_root / target
        return self._relative(target, text)

    def _relative(self, target: Path, original: str) -> str | None:
        if self.report_dir is None:
            if target.is_absolute():
                return None  # no directory to be relative to, and no file:// links
            return quote(Path(original).as_posix(), safe=_PATH_SAFE)
        try:
            relative = os.path.relpath(target, self.report_dir)
        except ValueError:  # another drive on Windows
            return None
        return quote(Path(relative).as_posix(), safe=_PATH_SAFE)
