"""Fresh install: an empty database migrates to head, soundly, and the engine says so truly."""

from __future__ import annotations

from harness.checks import verdict as v
from harness.checks.catalogue import CheckSpec, Family, no_axes
from harness.checks.context import CaseContext
from harness.checks.history_rules import history_problems
from harness.checks.matrix_faults import run_faults
from harness.engines.formats import Recorded, read_history
from harness.engines.protocol import (
    FAULT_KILL_AFTER_COMMIT, FAULT_KILL_AT_SYNC, FAULT_KILL_AT_WRITE, Diagnostics, Outcome,
)
from harness.sqlite import inspect


def _read_history(ctx: CaseContext, db) -> Recorded:  # type: ignore[no-untyped-def]
    with inspect.reading(db) as conn:
        return read_history(conn, ctx.history_format())


def migrates_to_head(ctx: CaseContext) -> v.Verdict:
    db = ctx.fresh_db()
    outcome = ctx.engine.migrate(db)
    if not outcome.ok:
        return v.failed(f"fresh install did not migrate: {outcome.describe()}",
                        measured=outcome.error_code, threshold="success", details=outcome.stderr[-4000:])
    state = inspect.observe(db, with_content=False)
    if not state.readable:
        return v.failed(f"the migrated database cannot be read: {state.error}")
    problems = []
    if state.integrity != "ok":
        problems.append(f"integrity_check: {state.integrity}")
    if state.fk_violations:
        problems.append(f"foreign_key_check: {len(state.fk_violations)} violations, first {state.fk_violations[0]}")
    migrations = ctx.migrations()
    found = _read_history(ctx, db)
    if migrations:
        problems += history_problems(found, migrations, complete=True)
    observations = {"history_format": found.format, "history_versions": list(found.versions),
                    "integrity": state.integrity, "seconds": round(outcome.seconds, 4)}
    limit = ctx.threshold("migrate_seconds")
    if limit and outcome.seconds > limit.limit:
        return v.failed(f"fresh install took {outcome.seconds:.3f}s", measured=f"{outcome.seconds:.3f}s",
                        threshold=f"{limit.limit}s", observations=observations)
    if problems:
        return v.failed(f"fresh install is not sound at head: {problems[0]}", measured=f"{len(problems)} problems",
                        threshold="0", details="\n".join(problems), observations=observations)
    return v.passed(f"migrated to version {found.versions[-1] if found.versions else '?'} in {outcome.seconds:.3f}s",
                    observations=observations)


def diagnostics_clean(ctx: CaseContext) -> v.Verdict:
    db = ctx.fresh_db()
    migrated = ctx.engine.migrate(db)
    if not migrated.ok:
        return v.errored(f"cannot judge diagnostics: {migrated.describe()}")
    report = ctx.engine.diagnostics(db)
    if isinstance(report, Outcome):
        return v.failed(f"diagnostics failed: {report.describe()}", measured=report.error_code, threshold="a report")
    assert isinstance(report, Diagnostics)
    state = inspect.observe(db, with_content=False)
    found = _read_history(ctx, db)
    migrations = ctx.migrations()
    head = migrations[-1].version if migrations else (found.versions[-1] if found.versions else None)
    truth = {
        "schema_version": head,
        "applied_migrations": len(found.applied(migrations)),
        "expected_migrations": len(migrations) if migrations else len(found.versions),
        "continuity": "ok",
        "integrity": "ok" if state.integrity == "ok" else state.integrity,
        "foreign_key_violations": len(state.fk_violations),
    }
    claimed = {key: getattr(report, key) for key in truth}
    wrong = [f"{key}: engine says {claimed[key]!r}, the file says {truth[key]!r}"
             for key in truth if claimed[key] != truth[key]]
    observations = {"claimed": claimed, "observed": truth}
    if wrong:
        return v.failed(f"diagnostics disagree with the database: {wrong[0]}", measured=f"{len(wrong)} fields wrong",
                        threshold="0", details="\n".join(wrong), observations=observations)
    if not report.clean:
        return v.failed("diagnostics of a fresh install are not clean", details=repr(claimed), observations=observations)
    return v.passed("diagnostics clean and true to the file", observations=observations)


def crash_atomic(ctx: CaseContext) -> v.Verdict:
    """The fresh install, killed right after every transaction it commits (exhaustive):
    each durable state is a whole number of migrations with their history rows, and a rerun
    reaches head. An executable is killed under strace at each sync and at writes across the
    run (in WAL mode with synchronous=NORMAL a commit is a write to the WAL, not a sync). The
    matrix's ``crash-safe`` adds VM-step kills and fixtures."""
    return run_faults(ctx, (FAULT_KILL_AFTER_COMMIT, FAULT_KILL_AT_SYNC, FAULT_KILL_AT_WRITE),
                      "crashes after each commit")


FAMILY = Family(
    name="install",
    description="A fresh install migrates to head, passes integrity and FK checks, and reports itself truly.",
    checks=(
        CheckSpec("migrates-to-head", "empty database -> head: history complete and in order, integrity and FKs clean",
                  "upgrade-failed", migrates_to_head),
        CheckSpec("diagnostics-clean", "the engine's diagnostics are clean and agree with what the file holds",
                  "diagnostics-untrue", diagnostics_clean, needs=frozenset({"migrate", "diagnostics"})),
        CheckSpec("crash-atomic", "killed right after each transaction it commits, the install is always a whole "
                  "number of migrations with their history rows, and a rerun reaches head",
                  "non-atomic-migration", crash_atomic),
    ),
    axes=no_axes,
    thresholds=("migrate_seconds",),
)
