"""Drills of whole operations: power loss during a migration or a recovery, and random damage.

Power loss: the operation runs once under strace (``harness.engines.powerloss``); the
images a power cut would leave at every sync point (unsynced writes dropped, torn, or kept:
"kept" is a plain kill at that point) are rebuilt and judged after a normal reopen.
- migrate: every image is sound, equals the state after a whole number of migrations, and
  migrating again reaches head; after the run, every snapshot the migration left (a new
  SQLite file in the data directory) is still there, sound, and a copy of a state the
  database had. A WAL fixture starts as a killed application leaves it, its last commit
  only in the -wal (``hot_wal``), so a snapshot copied from the main file alone shows;
- open (the recovery path): every image still holds the user's data (the damaged original
  byte-identical somewhere, or a sound database equal to the snapshot), and starting the
  application again finishes the recovery.

Random damage: hypothesis draws page-aware damage (byte flips in chosen page types,
truncations, page swaps) from the case's seed; whatever it is, the engine must not report
success over an unsound database, must not destroy the only copy of the user's data, and
must fail only with a deterministic code. A failing plan is shrunk and printed with its seed.
"""

from __future__ import annotations

import random
import shutil
import sqlite3
from pathlib import Path

from hypothesis import HealthCheck, Phase, find, settings
from hypothesis.errors import NoSuchExample

from harness.checks import verdict as v
from harness.checks.context import CaseContext
from harness.checks.hot_wal import leave_last_commit_in_wal
from harness.checks.matrix_faults import Legitimate, legitimate_states
from harness.checks.recovery import NO_SNAPSHOT_ERROR, damage, prepare
from harness.checks.states import reopened_step, state_of
from harness.corruption.strategies import damage_strategy
from harness.engines import powerloss
from harness.sqlite import inspect
from harness.sqlite.files import db_files, sha256_file, tree_digest
from harness.sqlite.fileformat import MAGIC as SQLITE_MAGIC
from harness.sqlite.pages import map_pages

DEFAULT_RANDOM_EXAMPLES = 6


def _power_run(ctx: CaseContext, db: Path, operation: str) -> powerloss.PowerLossRun | v.Verdict:
    spec = ctx.scenario.engine
    try:
        return powerloss.power_loss_runs(
            ctx.engine, db, operation=operation, seed=ctx.case.seed, into=ctx.data_dir("power"),
            python_target=spec.target, options=spec.options, sys_path=[str(p) for p in spec.sys_path],
            scenario=ctx.scenario.path)
    except powerloss.PowerLossError as exc:
        return v.skipped(f"power loss cannot be simulated here: {exc}")


def power_loss(ctx: CaseContext) -> v.Verdict:
    operation = ctx.case.param("power") or "migrate"
    return _power_migrate(ctx) if operation == "migrate" else _power_recover(ctx)


def _power_migrate(ctx: CaseContext) -> v.Verdict:
    legit = legitimate_states(ctx)
    if isinstance(legit, v.Verdict):
        return legit
    db = ctx.fixture_db("power-start")
    fmt = ctx.history_format()
    hot_wal = leave_last_commit_in_wal(db, fmt)
    start = _files(db.parent)
    run = _power_run(ctx, db, "migrate")
    if isinstance(run, v.Verdict):
        return run
    snapshots = _databases_left(db, start)
    problems, judged = [], 0
    with run:
        for image in run.images():
            judged += 1
            where = f"power cut before sync {image.point} of {image.points} ({image.mode})"
            if image.end:
                where = f"power cut after the migration ({image.mode})"
                problems += [f"{where}: {problem}" for problem in _snapshot_problems(ctx, image.directory, snapshots,
                                                                                   legit)]
            step, problem = reopened_step(image.db, legit.states, history_format=fmt,
                                          volatile=ctx.volatile_window())
            if step is None:
                problems.append(f"{where}: {problem}")
                continue
            rerun = ctx.engine.migrate(image.db)
            if not rerun.ok or state_of(image.db, fmt, ctx.volatile_window()) != legit.states[-1]:
                problems.append(f"{where} (left {legit.labels[step]}): migrating again did not reach head")
        observations = {"images": judged, "sync_points": powerloss.sync_points(run.log),
                        "engine_sqlite": str(run.engine_sqlite), "harness_sqlite": str(run.harness_sqlite),
                        "start": hot_wal or "the fixture as it is", "snapshots": sorted(snapshots)}
    if problems:
        return v.failed(problems[0], measured=f"{len(problems)} of {judged} images", threshold="0",
                        details="\n".join(problems), observations=observations, runbook="crash-inconsistency")
    return v.passed(f"{judged} power-cut images of the migration: all old or all new, each migrates on",
                    observations=observations)


def _files(directory: Path) -> set[str]:
    return {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()}


def _databases_left(db: Path, start: set[str]) -> set[str]:
    """SQLite files the run left in the data directory that were not there before (its
    snapshots), besides the database and its sidecars."""
    ours = {db.name + suffix for suffix in ("", "-wal", "-journal", "-shm")}
    found = set()
    for rel in _files(db.parent) - start - ours:
        with open(db.parent / rel, "rb") as handle:
            if handle.read(16) == SQLITE_MAGIC:
                found.add(rel)
    return found


def _snapshot_problems(ctx: CaseContext, directory: Path, snapshots: set[str], legit: Legitimate) -> list[str]:
    """A snapshot the migration left must survive a power cut after it: present (its
    directory entries synced), whole (its data synced) and a copy of a state the database had."""
    problems = []
    for rel in sorted(snapshots):
        path = directory / rel
        if not path.is_file():
            problems.append(f"the snapshot {rel} is gone: its name was never made durable (no fsync of the "
                            "directory that holds it, or of a directory created above it)")
            continue
        journal = path.with_name(path.name + "-journal").is_file()  # before reopening rolls it back
        step, problem = reopened_step(path, legit.states, history_format=ctx.history_format(),
                                      volatile=ctx.volatile_window())
        if step is None and journal:
            problems.append(f"the snapshot {rel} is no copy of the database as it was: the deletion of the journal "
                            "that committed it was never synced (no directory sync after writing it), so SQLite "
                            f"rolls the copy back: {problem}")
        elif step is None:
            problems.append(f"the snapshot {rel} is no copy of the database as it was (a copy of the main file "
                            f"without the -wal's commits, or data never synced): {problem}")
    return problems


def _power_recover(ctx: CaseContext) -> v.Verdict:
    prepared = prepare(ctx, "one-valid")
    if isinstance(prepared, v.Verdict):
        return prepared
    expected = prepared.expected or {}
    damage(prepared.db, ctx.case.seed)
    # -shm holds no data (SQLite rebuilds it) and power-cut images leave it out
    damaged = {p.name: sha256_file(p) for p in db_files(prepared.db) if not p.name.endswith("-shm")}
    run = _power_run(ctx, prepared.db, "open")
    if isinstance(run, v.Verdict):
        return run
    problems, judged = [], 0
    with run:
        for image in run.images():
            judged += 1
            where = f"power cut before sync {image.point} of {image.points} ({image.mode})"
            present = set(tree_digest(image.directory).values())
            kept = all(d in present for d in damaged.values())
            restored = _equals(image.db, expected)
            if not kept and not restored:
                problems.append(f"{where}: neither the damaged original nor a sound restored copy survives")
                continue
            again = ctx.engine.open(image.db)  # the application starts again after the cut
            if not again.ok or not _equals(image.db, expected):
                problems.append(f"{where}: starting again did not finish the recovery "
                                f"({again.describe() if not again.ok else 'content differs from the snapshot'})")
        observations = {"images": judged, "sync_points": powerloss.sync_points(run.log),
                        "engine_sqlite": str(run.engine_sqlite)}
    if problems:
        return v.failed(problems[0], measured=f"{len(problems)} of {judged} images", threshold="0",
                        details="\n".join(problems), observations=observations, runbook="recovery-restore")
    return v.passed(f"{judged} power-cut images of the recovery: the data survives each, a restart completes it",
                    observations=observations)


def _equals(db: Path, expected: dict[str, inspect.TableContent]) -> bool:
    if not db.is_file():
        return False
    state = inspect.observe(db)
    return state.sound and not inspect.content_diff(expected, dict(state.tables))


def _quick_check(db: Path) -> str:
    if not db.is_file():
        return "absent"
    try:
        with inspect.reading(db) as conn:
            return inspect.integrity(conn, quick=True)
    except sqlite3.Error as exc:
        return f"{inspect.error_name(exc)}: {exc}"


def random_damage(ctx: CaseContext) -> v.Verdict:
    """Hypothesis draws page-aware damage; whatever it is, the user's data stays safe."""
    examples = int(ctx.option("random_examples", DEFAULT_RANDOM_EXAMPLES))  # type: ignore[arg-type]
    base = prepare(ctx, "one-valid")
    if isinstance(base, v.Verdict):
        return base
    template = ctx.workdir / "random-template"
    shutil.copytree(base.db.parent, template)
    page_map = map_pages(base.db)
    no_snapshot = str(ctx.option("no_snapshot_error", NO_SNAPSHOT_ERROR))
    found: dict[str, str] = {}
    runs = {"n": 0, "let_through": 0}

    def unsafe(plan) -> bool:  # type: ignore[no-untyped-def]
        runs["n"] += 1
        workdir = ctx.workdir / f"random-{runs['n']}"
        shutil.copytree(template, workdir)
        db = workdir / base.db.name
        before = inspect.observe(db)
        plan.apply(db)
        originals = {p.name: sha256_file(p) for p in db_files(db)}
        outcome = ctx.engine.open(db)
        present = set(tree_digest(workdir).values())
        now = inspect.observe(db) if db.exists() else None
        quick = _quick_check(db)
        problem = None
        if outcome.ok and quick != "ok":  # what the startup check itself would have seen
            problem = f"open reported success but quick_check fails on the database: {quick}"
        elif not outcome.ok and outcome.error_code not in (no_snapshot,):
            problem = f"open failed with {outcome.error_code}: {outcome.message}"
        elif not all(d in present for d in originals.values()) and (
                now is None or inspect.content_diff(dict(before.tables), dict(now.tables))):
            problem = "the damaged original is gone and the database does not hold the data it held"
        elif now is not None and inspect.content_diff(dict(before.tables), dict(now.tables)) and not \
                _equals(db, base.expected or {}):
            runs["let_through"] += 1  # silent damage: reported in the observations, not a failure
        if problem:
            found[plan.describe()] = problem
        return problem is not None

    config = settings(max_examples=examples, database=None, deadline=None, phases=(Phase.generate, Phase.shrink),
                      suppress_health_check=list(HealthCheck))
    try:
        plan = find(damage_strategy(page_map), unsafe, settings=config, random=random.Random(ctx.case.seed))
    except NoSuchExample:
        return v.passed(f"{runs['n']} random page-aware damages: the data stayed safe in each"
                        + (f" ({runs['let_through']} silent ones let through)" if runs["let_through"] else ""),
                        observations={"runs": runs["n"], "let_through": runs["let_through"],
                                      "sqlite_version": sqlite3.sqlite_version})
    description = plan.describe()
    return v.failed(f"random damage: {found.get(description, 'unsafe')}", measured=description[:200],
                    threshold="data kept safe", details=f"{description}\ncase seed {ctx.case.seed}",
                    observations={"runs": runs["n"], "plan": description}, runbook="drill-corrupt")
