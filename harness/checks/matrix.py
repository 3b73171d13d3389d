"""The migration matrix: every legacy fixture (and a fresh install) upgraded to head and judged.

Per starting point: the upgrade succeeds within its thresholds; the schema converges to
exactly the fresh install's; stepping one migration at a time (a new engine call, so a
new connection, per step) gives what one run gives; no row or surviving value is lost; the
result passes integrity and foreign-key checks; migrating again changes nothing; the
history is complete and in order. Fault checks (injected failure, crashes) live in
``matrix_faults``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from harness.checks import verdict as v
from harness.checks.catalogue import CheckSpec, Family, Params
from harness.checks.context import CaseContext
from harness.checks.culprit import (first_divergence, loss_cause, migration_label, schema_line, step_cause,
                                    tables_of, upgrade_cause)
from harness.checks.history_rules import history_problems
from harness.checks.preservation import (
    Declared,
    OrphanFix,
    compare,
    declared_mutations,
    invariants,
    mapping_of,
    parse_fixes,
)
from harness.checks.matrix_faults import DEFAULT_EXAMPLES, atomic_on_failure, crash_safe
from harness.checks.starts import FRESH, blocked_by_upgrade, is_fresh, start_copy, start_version
from harness.checks.states import difference, state_of
from harness.engines.protocol import Migration
from harness.fixtures.manifest import Manifest
from harness.scenario import FamilySpec, Scenario
from harness.engines.formats import read_history
from harness.engines.protocol import pending
from harness.sqlite import inspect, schema
from harness.sqlite.fileformat import read_header
from harness.sqlite.files import copy_db, db_digest

DEFAULT_FIXTURES = ("tag:legacy",)


@dataclass(frozen=True)
class Upgrade:
    db: Path  # the database after the upgrade
    before: Path | None  # an untouched copy of the starting database (None for a fresh install)
    seconds: float
    size_before: int
    size_after: int


def upgrade(ctx: CaseContext, *, keep_before: bool = False, locate: bool = False) -> Upgrade | v.Verdict:
    """Copy the starting point, upgrade it to head (a verdict if it fails).

    ``keep_before`` also keeps an untouched copy of the start, for the checks that compare
    with it: a second copy of every fixture for every check is a cost the others need not pay.
    ``locate``: a failure names the migration, line and mechanism (the ``upgrades`` check
    reports it; the other checks are only blocked by it and need not pay for that).
    """
    db = start_copy(ctx)
    before = start_copy(ctx, "before") if keep_before and not is_fresh(ctx) else None
    size_before = db.stat().st_size if db.exists() else 0
    outcome = ctx.engine.migrate(db)
    if not outcome.ok:
        cause = upgrade_cause(ctx, start_copy(ctx, "located"), start_version(ctx), outcome) if locate else None
        return v.failed(f"upgrade to head failed: {outcome.describe()}", measured=str(outcome.error_code),
                        threshold="success", details=(outcome.message + "\n" + outcome.stderr)[-4000:],
                        observations={"error_code": outcome.error_code}, cause=cause)
    return Upgrade(db, before, outcome.seconds, size_before, db.stat().st_size)


def fresh_install(ctx: CaseContext) -> Path | v.Verdict:
    db = ctx.fresh_db("fresh")
    outcome = ctx.engine.migrate(db)
    if not outcome.ok:
        return v.failed(f"the fresh install failed: {outcome.describe()}", measured=str(outcome.error_code),
                        observations={"error_code": outcome.error_code})
    return db


def _history_table(ctx: CaseContext, db: Path) -> str | None:
    with inspect.reading(db) as conn:
        return read_history(conn, ctx.history_format()).table


def upgrades(ctx: CaseContext) -> v.Verdict:
    done = upgrade(ctx, locate=True)
    if isinstance(done, v.Verdict):
        return done
    growth = done.size_after / done.size_before if done.size_before else None
    observations = {"seconds": round(done.seconds, 4), "size_before": done.size_before,
                    "size_after": done.size_after, "growth_ratio": round(growth, 3) if growth else None}
    seconds = ctx.threshold("migrate_seconds")
    if seconds and done.seconds > seconds.limit:
        return v.failed(f"upgrade took {done.seconds:.3f}s", measured=f"{done.seconds:.3f}s",
                        threshold=f"{seconds.limit}s", observations=observations)
    ratio = ctx.threshold("growth_ratio")
    if ratio and growth is not None and growth > ratio.limit:
        return v.failed(f"the database grew {growth:.2f}x during the upgrade", measured=f"{growth:.2f}x",
                        threshold=f"{ratio.limit}x", observations=observations)
    return v.passed(f"upgraded to head in {done.seconds:.3f}s", observations=observations)


def schema_converges(ctx: CaseContext) -> v.Verdict:
    done = upgrade(ctx)
    if isinstance(done, v.Verdict):
        return blocked_by_upgrade(ctx, done.observations.get("error_code") or done.measured)
    fresh = fresh_install(ctx)
    if isinstance(fresh, v.Verdict):
        return blocked_by_upgrade(ctx, fresh.observations.get("error_code"), FRESH)
    lines = schema.diff(schema.read_file(fresh), schema.read_file(done.db))
    if lines:
        first = lines[0].splitlines()[0]
        cause = _schema_cause(ctx, first)
        where = f" after {cause.where()}" if cause.migration else ""
        return v.failed(f"upgraded schema differs from the fresh install{where}: {lines[0]}",
                        measured=f"{len(lines)} differences", threshold="0", details="\n".join(lines), cause=cause)
    return v.passed("upgraded schema equals the fresh install's")


def _schema_cause(ctx: CaseContext, first: str) -> v.Cause:
    """The first migration after which the legacy copy's schema differs from a fresh install
    stepped to the same version, on the object of the first difference."""
    fresh = ctx.fresh_db("located-fresh")
    subject = first.split(":", 1)[0] + ":"

    def differs(db: Path, migration: Migration) -> bool:
        if not ctx.engine.migrate(fresh, migration.version).ok:
            return False
        return any(line.startswith(subject) for line in schema.diff(schema.read_file(fresh), schema.read_file(db)))

    start = start_version(ctx)
    if start and ctx.engine.migrate(fresh, start).ok and fresh.exists():
        at_start = schema.diff(schema.read_file(fresh), schema.read_file(start_copy(ctx, "start")))
        if any(line.startswith(subject) for line in at_start):
            return v.Cause(f"schema: {first} (already so in the fixture, before any pending migration)")
    found = first_divergence(ctx, start_copy(ctx, "located"), start, differs)
    if found is None:
        return v.Cause(f"schema: {first}")
    migration, _ = found
    return v.Cause(f"schema: {first}", migration_label(migration), schema_line(migration, first))


def path_equivalent(ctx: CaseContext) -> v.Verdict:
    done = upgrade(ctx)
    if isinstance(done, v.Verdict):
        return blocked_by_upgrade(ctx, done.observations.get("error_code") or done.measured)
    stepped = start_copy(ctx, "stepped")
    fmt = ctx.history_format()
    first = start_version(ctx)
    steps = 0
    for migration in pending(ctx.migrations(), first):
        outcome = ctx.engine.migrate(stepped, migration.version)
        steps += 1
        if not outcome.ok:
            return v.failed(f"stepping one migration at a time failed at {migration.version}_{migration.name}: "
                            f"{outcome.describe()}", measured=str(outcome.error_code), threshold="success",
                            details="one run succeeded; a setting or state one migration left on the connection "
                                    "may be what a later one relies on",
                            cause=step_cause(ctx, migration, outcome, "one migration at a time: "))
    window = ctx.volatile_window()
    one_run, stepwise = state_of(done.db, fmt, window), state_of(stepped, fmt, window)
    if one_run != stepwise:
        lines = schema.diff(schema.read_file(done.db), schema.read_file(stepped), expected_label="one run",
                            actual_label="step by step") or difference(stepwise, one_run)
        return v.failed(f"step-by-step upgrade differs from one run: {lines[0]}", measured=f"{len(lines)} differences",
                        threshold="0", details="\n".join(lines), observations={"steps": steps})
    return v.passed(f"{steps} separate steps give the same schema and content as one run",
                    observations={"steps": steps})


def data_preserved(ctx: CaseContext) -> v.Verdict:
    done = upgrade(ctx, keep_before=True)
    if isinstance(done, v.Verdict):
        return blocked_by_upgrade(ctx, done.observations.get("error_code") or done.measured)
    assert done.before is not None
    try:
        fixes = parse_fixes(mapping_of(ctx.case.options, "orphan_fixes"))
    except ValueError as exc:
        return v.errored(str(exc))
    history_table = _history_table(ctx, done.db)
    declared = Declared()
    if ctx.option("declared_mutations", False):  # zero-config: the SQL's own UPDATE/DELETE/DROP are intended
        first = start_version(ctx)
        declared = declared_mutations(m.sql or "" for m in pending(ctx.migrations(), first))
    ignore = {history_table} if history_table else ()
    report = compare(done.before, done.db, fixes, ignore_tables=ignore, declared=declared)
    fixture = ctx.fixture()
    problems = list(report.problems)
    problems += invariants(done.db, [(i.name, i.sql, i.expect) for i in fixture.invariants])
    observations = {"rows_checked": report.checked_rows, "new_rows": report.new_rows,
                    "orphans_normalised": report.fixed_orphans}
    if problems:
        cause = _loss_cause(ctx, done.before, tables_of(report.problems), fixes, ignore) if report.problems else None
        summary = _cause_sentence(problems[0], cause) if cause is not None and cause.migration else problems[0]
        return v.failed(summary, measured=f"{len(problems)} tables or invariants", threshold="0",
                        details="\n".join(problems), observations=observations, cause=cause)
    return v.passed(f"all {report.checked_rows} rows kept"
                    + (f", {report.fixed_orphans} orphan references normalised" if report.fixed_orphans else ""),
                    observations=observations)


def _loss_cause(ctx: CaseContext, before: Path, tables: list[str], fixes: tuple[OrphanFix, ...],
                ignore: Iterable[str]) -> v.Cause | None:
    """The first migration after which rows of the first losing table are gone, and its statement."""
    if not tables:
        return None
    first = start_version(ctx)
    applied: list[Migration] = []

    def differs(db: Path, migration: Migration) -> bool:
        applied.append(migration)
        declared = Declared()
        if ctx.option("declared_mutations", False):
            declared = declared_mutations(m.sql or "" for m in applied)
        found = compare(before, db, fixes, ignore_tables=ignore, declared=declared)
        return tables[0] in tables_of(found.problems)

    located = first_divergence(ctx, start_copy(ctx, "located"), first, differs)
    if located is None:
        return v.Cause(f"rows of {tables[0]} lost")
    migration, schema_before = located
    return loss_cause(migration, tables[0], schema_before)


def _cause_sentence(problem: str, cause: v.Cause) -> str:
    """``table X: 20 of 20 rows lost (…): rows of X deleted by `DROP TABLE Y` in F line N (…)``."""
    mechanism, _, why = cause.mechanism.partition(" (")
    return f"{problem}: {mechanism} in {cause.where()}" + (f" ({why}" if why else "")


def integrity(ctx: CaseContext) -> v.Verdict:
    done = upgrade(ctx)
    if isinstance(done, v.Verdict):
        return blocked_by_upgrade(ctx, done.observations.get("error_code") or done.measured)
    state = inspect.observe(done.db, with_content=False, with_files=False)
    problems = []
    if state.integrity != "ok":
        problems.append(f"integrity_check: {state.integrity}")
    if state.fk_violations:
        shown = "; ".join(f"{t} rowid {r} -> {p}" for t, r, p, _ in state.fk_violations[:3])
        problems.append(f"foreign_key_check: {len(state.fk_violations)} violations, first {shown}")
    if problems:
        return v.failed(problems[0], measured=f"{len(state.fk_violations)} FK violations, integrity "
                        f"{'ok' if state.integrity == 'ok' else 'failed'}", threshold="0 and ok",
                        details="\n".join(problems))
    return v.passed("integrity_check ok, foreign_key_check clean")


def idempotent(ctx: CaseContext) -> v.Verdict:
    done = upgrade(ctx)
    if isinstance(done, v.Verdict):
        return blocked_by_upgrade(ctx, done.observations.get("error_code") or done.measured)
    # Bytes first: a byte-identical database cannot hold a different state, so the logical
    # state (every row read and hashed) is read only to explain a change, from a copy kept
    # at head. Reading it up front cost more than all the matrix's other checks together.
    files, counter = db_digest(done.db), read_header(done.db).change_counter
    at_head = copy_db(done.db, ctx.workdir / "at-head" / done.db.name)
    again = ctx.engine.migrate(done.db)
    if not again.ok:
        return v.failed(f"migrating again at head failed: {again.describe()}", measured=str(again.error_code),
                        threshold="a no-op")
    new_files, new_counter = db_digest(done.db), read_header(done.db).change_counter
    if new_files == files:
        return v.passed("migrating again at head changed no byte")
    fmt = ctx.history_format()
    problems = []
    now = state_of(done.db, fmt)
    state = state_of(at_head, fmt)
    if now != state:
        problems += difference(now, state)
    if new_counter != counter:
        problems.append(f"file change counter moved {counter} -> {new_counter}: something was written")
    if not problems:
        changed = sorted(n for n in set(files) | set(new_files) if files.get(n) != new_files.get(n))
        problems.append(f"files changed: {', '.join(changed)}")
    return v.failed(f"migrating again at head is not a no-op: {problems[0]}", measured=f"{len(problems)} changes",
                    threshold="0", details="\n".join(problems))


def history_continuous(ctx: CaseContext) -> v.Verdict:
    done = upgrade(ctx)
    if isinstance(done, v.Verdict):
        return blocked_by_upgrade(ctx, done.observations.get("error_code") or done.measured)
    with inspect.reading(done.db) as conn:
        found = read_history(conn, ctx.history_format())
    problems = history_problems(found, ctx.migrations(), complete=True)
    if problems:
        return v.failed(f"history after the upgrade: {problems[0]}", measured=f"{len(problems)} problems",
                        threshold="0", details="\n".join(problems),
                        observations={"versions": list(found.versions), "format": found.format})
    return v.passed(f"history {found.format}: {len(found.versions)} migrations in order, checksums match",
                    observations={"versions": list(found.versions)})


def _axes(scenario: Scenario, spec: FamilySpec, manifest: Manifest | None) -> list[Params]:
    fixtures = manifest.select(spec.fixtures or DEFAULT_FIXTURES) if manifest else ()
    return [(("fixture", FRESH),)] + [(("fixture", f.name),) for f in fixtures if not f.negative]


def _not_fresh(params: Params) -> bool:
    return dict(params).get("fixture") != FRESH


CHECKS = (
    CheckSpec("upgrades", "upgrade to head succeeds, within the time and growth thresholds", "upgrade-failed",
              upgrades),
    CheckSpec("schema-converges", "the upgraded schema equals the fresh install's, object by object", "schema-drift",
              schema_converges, applies=_not_fresh),
    CheckSpec("path-equivalent", "one migration at a time, a new connection per step, equals one run",
              "path-divergence", path_equivalent),
    CheckSpec("data-preserved", "every row and surviving value kept; manifest invariants hold", "data-loss",
              data_preserved, applies=_not_fresh),
    CheckSpec("integrity", "integrity_check and foreign_key_check clean after the upgrade", "integrity-failure",
              integrity),
    CheckSpec("idempotent", "migrating again at head changes nothing: schema, content, history, file bytes",
              "non-idempotent-migration", idempotent),
    CheckSpec("history-continuous", "the history ends at head in the engine's order, unaltered, with no gap",
              "continuity-break", history_continuous),
    CheckSpec("atomic-on-failure", "a failure injected part-way (interrupt at a VM step, disk full at a write) "
              "leaves whole migrations only, and a rerun reaches head", "non-atomic-migration", atomic_on_failure,
              needs=frozenset({"migrate"})),
    CheckSpec("crash-safe", "killed after any commit, at VM steps, fsyncs or writes: the reopened database is "
              "sound, whole migrations only, and a rerun reaches head", "crash-inconsistency", crash_safe,
              needs=frozenset({"migrate"})),
)

@dataclass(frozen=True)
class MatrixParams:
    """``[checks.matrix.params]``."""

    orphan_fixes: tuple[str, ...] = ()  # "child.column -> parent.column" a migration may re-point
    fault_examples: int = field(default=DEFAULT_EXAMPLES, metadata={"min": 1})  # generated fault points per case
    declared_mutations: bool = False  # the SQL's own UPDATE/DELETE/DROP are intended (zero-config)


FAMILY = Family(
    name="matrix",
    description="Every legacy fixture and a fresh install upgraded to head: converges to the fresh schema, keeps "
                "its data, is sound, idempotent and continuous, and path-independent.",
    checks=CHECKS,
    axes=_axes,
    default_fixtures=DEFAULT_FIXTURES,
    params=MatrixParams,
    thresholds=("migrate_seconds", "growth_ratio"),
)
