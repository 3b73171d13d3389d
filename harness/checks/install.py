"""Fresh install: an empty database migrates to head, soundly, and the engine says so truly."""

from __future__ import annotations

from functools import partial

from harness.checks import verdict as v
from harness.checks.catalogue import CheckSpec, Family, no_axes
from harness.checks.context import CaseContext
from harness.checks.history_rules import history_problems
from harness.checks.states import difference, matching_step, state_of
from harness.engines.faults import count_points_in_process, migrate_with_fault_in_process, supported_faults
from harness.engines.protocol import FAULT_KILL_AFTER_COMMIT, OP_CRASH, Diagnostics, Fault, Outcome
from harness.sqlite import history, inspect
from harness.sqlite.files import copy_db


def _read_history(ctx: CaseContext, db) -> history.History:  # type: ignore[no-untyped-def]
    with inspect.reading(db) as conn:
        return history.detect(conn, ctx.history_format())


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
        "applied_migrations": len(found.applied([m.version for m in migrations])),
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
    """Kill the migrating engine right after every transaction it commits; each durable state
    must be a whole number of migrations, with its history, and a rerun must reach head."""
    fmt = ctx.history_format()
    migrations = ctx.migrations()
    steps = []
    for k in range(len(migrations) + 1):
        db = ctx.fresh_db(f"step-{k}")
        if k:
            outcome = ctx.engine.migrate(db, migrations[k - 1].version)
            if not outcome.ok:
                return v.errored(f"setup: migrate(target={migrations[k - 1].version}) failed: {outcome.describe()}")
        steps.append(state_of(db, fmt))

    engine = ctx.engine
    if FAULT_KILL_AFTER_COMMIT in supported_faults(engine):
        count, inject = engine.count_points, engine.migrate_with_fault  # type: ignore[attr-defined]
    else:  # an in-process engine (OP_CRASH) whose adapter does not offer the fault methods itself
        count = partial(count_points_in_process, engine.migrate)
        inject = partial(migrate_with_fault_in_process, engine.migrate)

    counted = count(ctx.fresh_db("count"), None, FAULT_KILL_AFTER_COMMIT)
    if not counted.outcome.ok:
        return v.errored(f"migrating in a child process failed: {counted.outcome.describe()}")
    if counted.points == 0:
        return v.skipped("the engine commits through no stdlib sqlite3 connection the harness can observe")
    problems: list[str] = []
    seen: list[int] = []
    for point in range(1, counted.points + 1):
        db = ctx.fresh_db(f"crash-{point}")
        run = inject(db, None, Fault(FAULT_KILL_AFTER_COMMIT, point))
        if not run.fired:
            break
        after = state_of(db, fmt)
        k = matching_step(after, steps)
        if k is None:
            nearest = min(steps, key=lambda s: len(difference(after, s)))
            problems.append(f"crash after transaction {point}: {after.describe()} is no whole number of "
                            f"migrations; nearest: " + "; ".join(difference(after, nearest)[:3]))
            continue
        seen.append(k)
        rerun = ctx.engine.migrate(db)
        if not rerun.ok or state_of(db, fmt) != steps[-1]:
            problems.append(f"crash after transaction {point} (state after {k} migrations): rerun "
                            f"{'failed: ' + rerun.describe() if not rerun.ok else 'did not reach head'}")
    observations = {"crash_points": counted.points, "states_reached": sorted(set(seen))}
    if problems:
        return v.failed(problems[0], measured=f"{len(problems)} of {counted.points} crash points inconsistent",
                        threshold="0", details="\n".join(problems), observations=observations)
    return v.passed(f"{counted.points} crash points: every one a whole number of migrations, every rerun reached head",
                    observations=observations)


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
                  "non-atomic-migration", crash_atomic, needs=frozenset({"migrate", OP_CRASH})),
    ),
    axes=no_axes,
)
