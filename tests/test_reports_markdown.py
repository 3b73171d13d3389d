"""harness.reporting.markdown: a step summary that stays under GitHub's 1 MiB and never breaks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.reporting import markdown
from harness.reporting.results import CaseResult, RunResult

RUNBOOK = "https://github.com/acme/app/blob/abc123/runbooks/data-loss.md"
HOSTILE = ("<script>alert(1)</script> & | pipe `tick` ``two`` *star* _under_ [link](javascript:x) "
           "\x00\x1b[31mred\x1b[0m\x07 \ud800 " + b"\xff".decode("utf-8", "surrogateescape"))
UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def make_case(n: int, outcome: str = "failed", **overrides) -> CaseResult:
    values = dict(
        case_id=f"matrix[fixture=v{n}]::data-preserved", suite="app", family="matrix", check="data-preserved",
        params={"fixture": f"v{n}"}, outcome=outcome, status="fail" if outcome in ("failed", "warned") else "pass",
        severity="warn" if outcome == "warned" else "error", summary=f"table notes lost {n} rows",
        runbook="data-loss", runbook_url=RUNBOOK, scenario="scenarios/app.toml", line=12, seed=7,
        repro=f"harness repro 'matrix[fixture=v{n}]::data-preserved' --scenario scenarios/app.toml --seed 7",
        measured=f"{n} rows lost", threshold="0 rows", seconds=0.5,
    )
    values.update(overrides)
    return CaseResult(**values)


def make_run(cases) -> RunResult:
    return RunResult(cases=tuple(cases), seed=7, seconds=12.5, started="2026-01-02T03:04:05+00:00",
                     sqlite_version="3.45.1", profile="default")


def table_rows(text: str, section: str) -> list[str]:
    body = text.split(f"### {section}", 1)[1].split("\n### ", 1)[0]
    return [line for line in body.splitlines() if line.startswith("| ") and not line.startswith("| case ")]


def test_verdict_counts_and_failure_row() -> None:
    run = make_run([make_case(1), make_case(2, "passed"), make_case(3, "warned"), make_case(4, "errored",
                                                                                           summary="crashed")])
    text = markdown.render(run, links=[("HTML report", "report.html")])
    assert text.startswith("## \u274c harness gate FAILED\n")
    assert "**4** cases in 12.5 s" in text and "seed `7`" in text and "SQLite 3.45.1" in text
    assert "| \u2705 passed | 1 |" in text and "| \u274c failed | 1 |" in text and "| \u26a0\ufe0f warned | 1 |" in text
    assert "Reports: [HTML report](report.html)" in text
    rows = table_rows(text, "Failures")
    assert len(rows) == 2 and "matrix[fixture=v1]::data-preserved" in rows[0] and "crashed" in rows[1]
    assert f"[runbook]({RUNBOOK})" in rows[0]
    assert "`1 rows lost` vs `0 rows`" in rows[0]
    assert "`harness repro 'matrix[fixture=v1]::data-preserved' --scenario scenarios/app.toml --seed 7`" in rows[0]
    assert len(table_rows(text, "Warnings")) == 1
    for row in rows + table_rows(text, "Warnings"):
        assert len(UNESCAPED_PIPE.findall(row)) == 7, row  # six cells, whatever they contain


def test_passing_run() -> None:
    text = markdown.render(make_run([make_case(1, "passed")]))
    assert text.startswith("## \u2705 harness gate PASSED") and "Nothing failed, errored or warned." in text
    assert "### Failures" not in text


def test_pipes_and_backticks_escaped_hostile_text_inert() -> None:
    case = make_case(1, summary=HOSTILE, measured="a|b", threshold="`0`", repro="echo 'a | b' `date` ``x``",
                     case_id="matrix[fixture=|`]::x")
    text = markdown.render(make_run([case]))
    row = table_rows(text, "Failures")[0]
    assert len(UNESCAPED_PIPE.findall(row)) == 7, row
    # code spans: a fence longer than any backtick run inside, pipes as \|
    assert "``` echo 'a \\| b' `date` ``x`` ```" in row
    assert "`a\\|b`" in row and "`` `0` ``" in row
    assert "`` matrix[fixture=\\|`]::x ``" in row
    # plain text: markup escaped, no raw HTML, no live link from the data, no control characters
    assert "\\<script\\>alert(1)\\</script\\>" in row and "<script>" not in text
    assert "\\[link\\](javascript:x)" in row and not re.search(r"(?<!\\)\]\(javascript", text)
    assert "\\*star\\*" in row and "\\_under\\_" in row and "\\&" in row
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]", text)
    assert "\\\\x07" in row and "\ufffd" in row


def test_runbook_links_clickable_and_safe() -> None:
    cases = [
        make_case(1, runbook_url="https://runbooks.example/a b (draft).md#fix"),
        make_case(2, runbook_url="runbooks/data-loss.md"),
        make_case(3, runbook_url="javascript:alert(1)"),
        make_case(4, runbook_url="https://x.example/a|b"),
    ]
    rows = table_rows(markdown.render(make_run(cases)), "Failures")
    assert "[runbook](https://runbooks.example/a%20b%20%28draft%29.md#fix)" in rows[0]
    assert "[runbook](runbooks/data-loss.md)" in rows[1]
    assert "[runbook]" not in rows[2] and "`javascript:alert(1)`" in rows[2]
    assert "[runbook](https://x.example/a%7Cb)" in rows[3]
    for row in rows:
        assert len(UNESCAPED_PIPE.findall(row)) == 7, row


def test_fifty_thousand_failures_stay_under_one_mib() -> None:
    failures = [make_case(n) for n in range(50_000)]
    warnings = [make_case(n, "warned") for n in range(50_000, 50_100)]
    text = markdown.render(make_run(failures + warnings))
    size = len(text.encode("utf-8"))
    assert size <= markdown.DEFAULT_LIMIT < markdown.MAX_BYTES == 1024 * 1024
    assert size > markdown.DEFAULT_LIMIT - 20_000  # the room is used, not wasted
    shown = len(table_rows(text, "Failures"))
    assert 1_000 < shown < 50_000
    assert f"\u2026 {50_000 - shown} more failures: see the HTML report / JUnit" in text
    # the flood does not hide that there were warnings too
    assert "### Warnings (100)" in text
    assert re.search(r"\u2026 \d+ more warnings: see the HTML report / JUnit", text)


def test_small_limit_truncates_with_note() -> None:
    text = markdown.render(make_run([make_case(n) for n in range(100)]), limit_bytes=4_000)
    assert len(text.encode("utf-8")) <= 4_000
    shown = len(table_rows(text, "Failures"))
    assert 0 < shown < 100 and f"\u2026 {100 - shown} more failures: see the HTML report / JUnit" in text


def test_write_appends_within_the_cap(tmp_path: Path) -> None:
    summary = tmp_path / "step_summary.md"
    summary.write_text("# earlier output\n" + "x" * 1_000_000 + "\n", encoding="utf-8")
    markdown.write(make_run([make_case(n) for n in range(5_000)]), summary)
    data = summary.read_bytes()
    assert data.startswith(b"# earlier output\n") and len(data) <= markdown.MAX_BYTES
    assert "more failures: see the HTML report / JUnit".encode() in data

    fresh = tmp_path / "fresh.md"
    markdown.write(make_run([make_case(1)]), fresh, append=False)
    assert fresh.read_text(encoding="utf-8") == markdown.render(make_run([make_case(1)]))


@pytest.mark.parametrize("value", ["", "plain", "a`b", "`", "``a``", "`lead", "x|y|z"])
def test_code_span_round_trip(value: str) -> None:
    span = markdown.code(value)
    if not value:
        assert span == ""
        return
    fence = re.match(r"`+", span).group()
    inner = span[len(fence):-len(fence)]
    assert span.endswith(fence)
    assert all(len(run) != len(fence) for run in re.findall(r"`+", inner))  # nothing closes it early
    # CommonMark: strip one space each side when both are spaces; GFM tables turn \| into |
    if inner.startswith(" ") and inner.endswith(" ") and inner.strip(" "):
        inner = inner[1:-1]
    assert inner.replace("\\|", "|") == value
