"""GitHub Actions workflow commands that annotate the scenario or migration line that failed.

``annotations(run)`` returns lines such as::

    ::error file=scenarios/app.toml,line=12,title=posture%3A%3Apragmas::posture not in force…

* ``::error`` for failed and errored cases (and outcomes this version does not know),
  ``::warning`` for warned ones; passed and skipped cases are not annotated.
* ``file`` / ``line``: the case's scenario file and line; a lint case instead gets one
  annotation per finding at the migration file and line it names
  (``observations["findings"][i]["source"]`` / ``["line"]``). Absolute paths under the
  workspace (``root``; default ``$GITHUB_WORKSPACE``, else the current directory) are made
  relative to it, as GitHub matches annotations against repository paths.
* ``title``: the case id. Message: the summary (or the finding), ``measured M vs threshold
  T`` and ``runbook: URL``, one per line.
* Escaping (GitHub's rules): in the message ``%`` -> ``%25``, CR -> ``%0D``, LF -> ``%0A``;
  in properties also ``:`` -> ``%3A`` and ``,`` -> ``%2C``. Text is ``sanitize.clean``-ed
  first, so no control character or ANSI sequence reaches the log.
* Caps: GitHub shows at most 10 annotations of each kind per step and 50 per job. The
  most severe go first (errors, then warnings; each case's first location before any
  case's second); what does not fit is counted in one closing ``::notice``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator, Mapping

from harness.reporting.results import ERRORED, FAILED, HAZARD, OUTCOMES, WARNED, CaseResult, RunResult
from harness.reporting.sanitize import clean, one_line

__all__ = ["annotations", "escape_data", "escape_property", "MAX_PER_KIND", "MAX_TOTAL"]

MAX_PER_KIND = 10
MAX_TOTAL = 50
MESSAGE_LIMIT = 4_000  # characters, before escaping
TITLE_LIMIT = 255
PATH_LIMIT = 1_000
VALUE_LIMIT = 300


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _kind(case: CaseResult) -> str | None:
    if case.outcome in (FAILED, ERRORED) or case.outcome not in OUTCOMES or case.breaks_gate:
        return "error"
    if case.outcome in (WARNED, HAZARD):
        return "warning"
    return None


def _measure(case: CaseResult) -> str:
    measured = None if case.measured is None else one_line(case.measured, VALUE_LIMIT)
    threshold = None if case.threshold is None else one_line(case.threshold, VALUE_LIMIT)
    if measured is not None and threshold is not None:
        return f"measured {measured} vs threshold {threshold}"
    if measured is not None:
        return f"measured {measured}"
    if threshold is not None:
        return f"threshold {threshold}"
    return ""


def _message(case: CaseResult, first: str) -> str:
    lines = [first or f"{one_line(case.check, VALUE_LIMIT)} {one_line(case.outcome, 50)}"]
    measure = _measure(case)
    if measure:
        lines.append(measure)
    runbook = one_line(case.runbook_url or case.runbook, None)
    if runbook:
        lines.append(f"runbook: {runbook}")
    return clean("\n".join(lines), MESSAGE_LIMIT)


def _path(value: Any, root: Path | None) -> str:
    text = one_line(None if value is None else str(value), None)
    if not text:
        return ""
    path = Path(text)
    if root is not None and path.is_absolute():
        try:
            text = path.resolve().relative_to(root.resolve()).as_posix()
        except (ValueError, OSError):
            pass
    return one_line(text, PATH_LIMIT)


def _line(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return value
    if isinstance(value, str) and value.isdigit() and int(value) > 0:
        return int(value)
    return None


def _locations(case: CaseResult, root: Path | None) -> list[tuple[str, int | None, str]]:
    """(file, line, first message line) per annotation of ``case``."""
    summary = one_line(case.summary, VALUE_LIMIT * 2)
    observations = case.observations if isinstance(case.observations, Mapping) else {}
    findings = observations.get("findings")
    found = []
    if isinstance(findings, (list, tuple)):
        for finding in findings:
            if not isinstance(finding, Mapping):
                continue
            source = _path(finding.get("source"), root)
            if not source:
                continue
            message = one_line(finding.get("message"), VALUE_LIMIT * 2) or summary
            found.append((source, _line(finding.get("line")), message))
    if found:
        return found
    return [(_path(case.scenario, root), _line(case.line), summary)]


def _command(kind: str, case: CaseResult, file: str, line: int | None, first: str) -> str:
    properties = []
    if file:
        properties.append(f"file={escape_property(file)}")
        if line is not None:
            properties.append(f"line={line}")
    properties.append(f"title={escape_property(one_line(case.case_id, TITLE_LIMIT))}")
    return f"::{kind} {','.join(properties)}::{escape_data(_message(case, first))}"


def _candidates(run: RunResult, root: Path | None) -> Iterator[tuple[tuple[int, int, int], str, str]]:
    for order, case in enumerate(run.cases):
        kind = _kind(case)
        if kind is None:
            continue
        severity = 0 if kind == "error" else 1
        for rank, (file, line, first) in enumerate(_locations(case, root)):
            yield (severity, rank, order), kind, _command(kind, case, file, line, first)


def annotations(run: RunResult, *, max_per_kind: int = MAX_PER_KIND, max_total: int = MAX_TOTAL,
                root: Path | None = None) -> list[str]:
    """Workflow-command lines for ``run``'s failed, errored and warned cases, within the caps.

    ``root``: the workspace that file paths are made relative to (default
    ``$GITHUB_WORKSPACE``, else the current directory). When annotations are left out, the
    last line is a ``::notice`` saying how many and where to find them.
    """
    if root is None:
        root = Path(os.environ.get("GITHUB_WORKSPACE") or os.getcwd())
    candidates = sorted(_candidates(run, root), key=lambda c: c[0])
    kept: list[str] = []
    per_kind: dict[str, int] = {}
    left_out = 0
    # The closing notice is itself an annotation: keep room for it under max_total.
    room = max_total - 1 if len(candidates) > max_total else max_total
    room = max(0, room)
    for _, kind, command in candidates:
        if per_kind.get(kind, 0) >= max_per_kind or len(kept) >= room:
            left_out += 1
            continue
        per_kind[kind] = per_kind.get(kind, 0) + 1
        kept.append(command)
    if left_out and max_total > 0:
        noun = "annotation" if left_out == 1 else "annotations"
        kept.append(f"::notice title={escape_property('harness: annotations capped')}::"
                    + escape_data(f"{left_out} more {noun} left out (GitHub shows at most {max_per_kind} per kind "
                                  f"per step): see the step summary, the HTML report or JUnit"))
    return kept
