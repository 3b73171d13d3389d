"""The one sanitiser, for a terminal or CI log: no control sequence is passed through and no
line of engine or database text can start a GitHub Actions workflow command."""

from __future__ import annotations

import pytest

from harness.reporting.console import failure_text, summary
from harness.reporting.results import CaseResult, RunResult
from harness.reporting.sanitize import terminal_line, terminal_text

HOSTILE = ("boom\x1b[2J\x1b]0;title\x07 \x9b31m\rhidden\n::error file=a.py,line=1::forged\n  ::add-mask::secret\n"
           "::stop-commands::token\nok ##[set-env name=X;]1")


@pytest.mark.parametrize("render", [terminal_text, terminal_line])
def test_nothing_reaches_the_terminal_raw(render: object) -> None:
    text = render(HOSTILE)  # type: ignore[operator]
    assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text and "\r" not in text
    for line in text.splitlines():
        assert not line.lstrip().startswith("::"), line
        assert "##[" not in line
    assert "boom" in text and "forged" in text and "secret" in text  # shown, not dropped


def test_console_rendering_uses_it() -> None:
    case = CaseResult(case_id="install::migrates-to-head", suite="s", family="install", check="migrates-to-head",
                      params={}, outcome="failed", status="fail", severity="error", summary=HOSTILE, runbook="r",
                      runbook_url="runbooks/r.md", scenario="s.toml", line=1, seed=1, repro="harness repro x",
                      details=HOSTILE)
    run = RunResult(cases=(case,), seed=1, seconds=1.0, started="2026-01-01T00:00:00+00:00", sqlite_version="3")
    for text in (failure_text(case), summary(run, "reports/")):
        assert "\x1b" not in text and "\x07" not in text
        assert not any(line.lstrip().startswith("::") for line in text.splitlines())
