"""Lint: SQLite-specific migration hazards, one case per rule (see ``harness.lint``)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from harness import lint
from harness.checks import verdict as v
from harness.checks.catalogue import CheckSpec, Family, no_axes
from harness.checks.context import CaseContext


def rule_holds(rule: str, ctx: CaseContext) -> v.Verdict:
    migrations = ctx.migrations()
    readable = [m for m in migrations if m.sql is not None]
    if not readable:
        return v.skipped("the engine does not expose its migrations' SQL (command engines): nothing to lint")
    wrapped = ctx.option("wrapped", ctx.scenario.engine.adapter != "sqlfiles")
    findings = [f for f in lint.lint(
        readable,
        min_sqlite=str(ctx.option("min_sqlite", "3.31.0")),
        wrapped=bool(wrapped),
        runner_checks_fks=bool(ctx.option("runner_checks_fks", False)),
    ) if f.rule == rule]
    listed = [{"migration": f.migration, "source": f.source, "line": f.line, "message": f.message}
              for f in findings]
    if findings:
        first = findings[0]
        where = f"{first.source}:{first.line}" if first.source else first.migration
        return v.failed(f"{where}: {first.message}", measured=f"{len(findings)} findings", threshold="0",
                        details="\n".join(f"{f.source or f.migration}:{f.line}: {f.message}" for f in findings),
                        observations={"findings": listed})
    return v.passed(f"{len(readable)} migrations: no {rule}", observations={"findings": []})


@dataclass(frozen=True)
class LintParams:
    """``[checks.lint.params]``."""

    min_sqlite: str = "3.31.0"  # the oldest SQLite the application still runs on
    wrapped: bool | None = None  # each migration runs in a transaction (default: every adapter but sqlfiles)
    runner_checks_fks: bool = False  # the runner runs foreign_key_check before committing


FAMILY = Family(
    name="lint",
    description="SQLite-specific hazards in the migrations' SQL, each with the file and line.",
    checks=tuple(
        CheckSpec(rule, description, f"lint-{rule}", partial(rule_holds, rule), needs=frozenset(),
                  severity=lint.SEVERITIES[rule])
        for rule, description in lint.RULES.items()
    ),
    axes=no_axes,
    params=LintParams,
)
