"""A GitHub-flavoured Markdown summary of a run, for ``$GITHUB_STEP_SUMMARY``.

Layout: a verdict heading; one line with case count, duration, seed, SQLite version,
profile (and shard); optional links to the other reports; a counts table; a "Root causes"
table first (one row per root cause, ``causes.root_causes`` order: the migration file and
line, the mechanism, the versions it hits, its cases and the cases it blocks); a "Failures"
table (failed, errored and unknown outcomes) and a "Warnings" table (warned), one row per
case: case id, outcome, measured vs threshold, summary, a clickable ``[runbook](url)`` and
the reproduce command in a code span.

Escaping: text cells are ``one_line``-cleaned and Markdown punctuation (``\\ ` * _ [ ] < >
| ~ &``) is backslash-escaped, so data never becomes markup, HTML or a link; code spans use
a backtick fence longer than any backtick run inside and pipes become ``\\|`` (GFM table
rule, honoured inside code spans too); link targets are percent-encoded and only ``http(s)``
URLs and relative paths become links.

Size: GitHub rejects a step summary over 1 MiB. Rows are added while they fit in
``limit_bytes`` (UTF-8); the rest are dropped with a note such as
``… 123 more failures: see the HTML report / JUnit``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Sequence
from urllib.parse import quote, urlsplit

from harness.reporting.causes import RootCause, root_causes, versions_text
from harness.reporting.results import (BLOCKED, ERRORED, FAILED, HAZARD, OUTCOMES, PASSED, SKIPPED, WARNED, CaseResult,
                                      RunResult)
from harness.reporting.sanitize import one_line

__all__ = ["render", "write", "text", "code", "link", "MAX_BYTES", "DEFAULT_LIMIT"]

MAX_BYTES = 1024 * 1024  # GitHub's cap for one step's summary
DEFAULT_LIMIT = MAX_BYTES - 8 * 1024  # room for whatever else the step appends

ID_LIMIT = 400
SUMMARY_LIMIT = 300
VALUE_LIMIT = 200
REPRO_LIMIT = 2_000
URL_LIMIT = 2_000

ICONS = {PASSED: "\u2705", FAILED: "\u274c", ERRORED: "\U0001f4a5", WARNED: "\u26a0\ufe0f", SKIPPED: "\u23ed\ufe0f",
         HAZARD: "\U0001f7e1", BLOCKED: "\u26d4"}

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")
_BACKTICKS = re.compile(r"`+")
_URL_SAFE = ":/?#@!$&'*+,;=%~"  # no parentheses, pipes, spaces or angle brackets

CAUSES_HEAD = (
    "| root cause | class | versions | cases | runbook | reproduce |\n"
    "|---|---|---|---|---|---|\n"
)

TABLE_HEAD = (
    "| case | outcome | measured vs threshold | summary | runbook | reproduce |\n"
    "|---|---|---|---|---|---|\n"
)


def text(value: object, limit: int | None = SUMMARY_LIMIT) -> str:
    """Plain text for a table cell or a line: one line, Markdown/HTML metacharacters escaped."""
    return _MD_SPECIAL.sub(r"\\\1", one_line(None if value is None else str(value), limit))


def code(value: object, limit: int | None = VALUE_LIMIT) -> str:
    """A code span safe inside a GFM table cell (backticks fenced, pipes escaped)."""
    body = one_line(None if value is None else str(value), limit)
    if not body:
        return ""
    longest = max((len(run) for run in _BACKTICKS.findall(body)), default=0)
    fence = "`" * (longest + 1)
    if longest or body.startswith(" ") or body.endswith(" "):
        body = f" {body} "
    return fence + body.replace("|", "\\|") + fence


def link(label: str, url: str | None) -> str:
    """``[label](url)`` for http(s) URLs and relative paths; anything else as a code span."""
    target = one_line(url, URL_LIMIT)
    if not target:
        return ""
    parts = urlsplit(target)
    scheme = parts.scheme.lower()
    if (scheme in ("http", "https") and parts.netloc) or (not scheme and not parts.netloc and parts.path):
        return f"[{text(label)}]({quote(target, safe=_URL_SAFE)})"
    return code(target, URL_LIMIT)


def _measure(case: CaseResult) -> str:
    if case.measured is None and case.threshold is None:
        return ""
    measured = code(case.measured) if case.measured is not None else "n/a"
    threshold = code(case.threshold) if case.threshold is not None else "n/a"
    return f"{measured} vs {threshold}"


def _row(case: CaseResult) -> str:
    outcome = case.outcome if case.outcome in OUTCOMES else ERRORED
    cells = (
        code(case.case_id, ID_LIMIT),
        f"{ICONS[outcome]} {text(case.outcome, 50)}",
        _measure(case),
        text(case.summary),
        link("runbook", case.runbook_url or case.runbook),
        code(case.repro, REPRO_LIMIT),
    )
    return "| " + " | ".join(cells) + " |\n"


def _cause_row(cause: RootCause) -> str:
    where = cause.where()
    head = f"{code(where, VALUE_LIMIT)} {text(cause.mechanism)}" if where else text(cause.mechanism)
    counted = f"{len(cause.case_ids)}" + (f" (+{len(cause.blocked)} blocked)" if cause.blocked else "")
    cells = (
        f"{ICONS.get(cause.outcome, ICONS[ERRORED])} {head}",
        text(f"{cause.cls}, {cause.severity}", 50),
        text(versions_text(cause.versions)) if cause.versions else text(f"{cause.family}::{cause.check}", 200),
        counted,
        link("runbook", cause.runbook_url),
        code(cause.repro, REPRO_LIMIT),
    )
    return "| " + " | ".join(cells) + " |\n"


def _duration(seconds: object) -> str:
    value = float(seconds) if isinstance(seconds, (int, float)) else 0.0
    if not value == value or value < 0:  # NaN / negative
        value = 0.0
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


def _head(run: RunResult, links: Sequence[tuple[str, str]]) -> str:
    counts = {outcome: 0 for outcome in OUTCOMES}
    for case in run.cases:
        counts[case.outcome if case.outcome in counts else ERRORED] += 1
    verdict = "PASSED" if run.passed else "FAILED"
    icon = ICONS[PASSED] if run.passed else ICONS[FAILED]
    facts = [f"**{len(run.cases)}** cases in {_duration(run.seconds)}", f"seed {code(run.seed)}",
             f"SQLite {text(run.sqlite_version, 100)}"]
    if run.profile:
        facts.append(f"profile {text(run.profile, 100)}")
    if run.shard:
        facts.append(f"shard {text(run.shard, 50)}")
    lines = [f"## {icon} harness gate {verdict}", "", " \u00b7 ".join(facts), ""]
    shown = [link(name, url) for name, url in links if url]
    if shown:
        lines += ["Reports: " + " \u00b7 ".join(s for s in shown if s), ""]
    lines += ["| outcome | cases |", "|---|---:|"]
    lines += [f"| {ICONS[o]} {o} | {n} |" for o, n in counts.items()]
    return "\n".join(lines) + "\n"


def _section(title: str, noun: str, rows: Iterable[str], total: int, budget: int,
             table_head: str = TABLE_HEAD) -> tuple[str, int]:
    """The section's text (within ``budget`` bytes as far as possible) and how many rows it holds."""
    note_room = len(f"\n_\u2026 {total} more {noun}: see the HTML report / JUnit_\n".encode("utf-8")) + 4
    head = f"\n### {title} ({total})\n\n"
    parts = [head, table_head]
    used = len(head.encode("utf-8")) + len(table_head.encode("utf-8"))
    shown = 0
    for row in rows:
        size = len(row.encode("utf-8"))
        if used + size + note_room > budget:
            break
        parts.append(row)
        used += size
        shown += 1
    if shown == 0:
        parts = [head]
    if shown < total:
        parts.append(f"\n_\u2026 {total - shown} more {noun}: see the HTML report / JUnit_\n")
    return "".join(parts), shown


def render(run: RunResult, *, limit_bytes: int = DEFAULT_LIMIT, links: Sequence[tuple[str, str]] = ()) -> str:
    """The summary as Markdown, at most ``limit_bytes`` bytes of UTF-8.

    ``links``: ``(name, url)`` pairs shown under the heading, e.g. the HTML report artifact.
    """
    failures = [c for c in run.cases if c.outcome in (FAILED, ERRORED) or c.outcome not in OUTCOMES]
    warnings = [c for c in run.cases if c.outcome in (WARNED, HAZARD)]
    causes = root_causes(run)
    out = _head(run, links)
    sections = [("Root causes", "root causes", [_cause_row(c) for c in causes], CAUSES_HEAD),
                ("Failures", "failures", [_row(c) for c in failures], TABLE_HEAD),
                ("Warnings", "warnings", [_row(c) for c in warnings], TABLE_HEAD)]
    # Reserve room for the later sections' headings and notes, so a flood of failures
    # cannot hide that there were warnings too.
    for index, (title, noun, rows, table_head) in enumerate(sections):
        if not rows:
            continue
        reserve = sum(120 for _, _, later, _ in sections[index + 1:] if later)
        budget = limit_bytes - len(out.encode("utf-8")) - reserve
        body, _ = _section(title, noun, rows, len(rows), budget, table_head)
        out += body
    if not failures and not warnings:
        out += "\nNothing failed, errored or warned.\n"
    return _fit(out, limit_bytes)


def _fit(out: str, limit_bytes: int) -> str:
    data = out.encode("utf-8")
    if len(data) <= limit_bytes:
        return out
    # Only when the limit is smaller than the heading itself: cut on a character boundary.
    return data[: max(0, limit_bytes)].decode("utf-8", errors="ignore")


def write(run: RunResult, path: Path, *, append: bool = True, limit_bytes: int = DEFAULT_LIMIT,
          links: Sequence[tuple[str, str]] = ()) -> None:
    """Add the summary to ``path`` (``$GITHUB_STEP_SUMMARY``); with ``append`` what is already
    there counts against the 1 MiB cap."""
    path = Path(path)
    existing = path.stat().st_size if append and path.exists() else 0
    budget = min(limit_bytes, MAX_BYTES - existing - 2)
    if budget <= 0:
        return
    body = render(run, limit_bytes=budget, links=links)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a" if append else "w", encoding="utf-8", newline="\n") as handle:
        if existing:
            handle.write("\n")
        handle.write(body)
