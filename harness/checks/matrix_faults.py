"""Migration under faults: an injected failure and a crash both leave whole migrations only.

For every starting point the harness first records the legitimate states: the start and the
state after each pending migration (``migrate(target=v)`` on a fresh copy). Then it makes
the engine's own migration run fail (an interrupt at a VM step, ENOSPC at a write) or die
(killed after a commit, at a VM step, at an fsync, at a write) at chosen points. After each
fault the database is reopened as the application would (SQLite replays or rolls back
journals) and must pass ``integrity_check``, equal one of the legitimate states exactly,
and reach head when migrated again.

Commit points and sync points are swept exhaustively (few, and each distinct); VM steps and
writes are many: one seeded point per stratum covers the whole run, then seeded points below
a failing one and a bisection down to a failing point whose predecessor passes.

Every point judged is a pure function of the case seed and the counted points, and each
point is judged once per case (a second look returns the first verdict), so nothing depends
on timing: hypothesis's search stops looking a wall-clock time after its first failure and
gives up shrinking after another, and raises ``Flaky`` when a point's outcome changes, which
is why this search is the harness's own. The failing point reported is run a second time on
a fresh copy; when that run passes, the engine is flaky there, and the failure says so with
both outcomes. With ``HARNESS_HYPOTHESIS_DB`` (the nightly cache) points that failed before
are judged first and a new failing point is stored.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

from hypothesis.database import DirectoryBasedExampleDatabase

from harness.checks import verdict as v
from harness.checks.context import CaseContext
from harness.checks.starts import blocked_by_upgrade, start_copy, start_version
from harness.checks.states import State, reopened_step, state_of
from harness.engines.faults import supported_faults
from harness.engines.protocol import (
    FAULT_FULL_AT_WRITE,
    FAULT_INTERRUPT_AT_STEP,
    FAULT_KILL_AFTER_COMMIT,
    FAULT_KILL_AT_STEP,
    FAULT_KILL_AT_SYNC,
    FAULT_KILL_AT_WRITE,
    Fault,
    FaultRun,
    pending,
)

FAILURE_KINDS = (FAULT_INTERRUPT_AT_STEP, FAULT_FULL_AT_WRITE)
CRASH_KINDS = (FAULT_KILL_AFTER_COMMIT, FAULT_KILL_AT_SYNC, FAULT_KILL_AT_STEP, FAULT_KILL_AT_WRITE)
SWEPT = frozenset({FAULT_KILL_AFTER_COMMIT, FAULT_KILL_AT_SYNC})  # every point, when there are few
MAX_SWEEP = 64
DEFAULT_EXAMPLES = 8
HYPOTHESIS_DB_ENV = "HARNESS_HYPOTHESIS_DB"  # a directory kept between runs (the nightly cache)


@dataclass(frozen=True)
class Legitimate:
    states: tuple[State, ...]  # the start, then after each pending migration
    labels: tuple[str, ...]


def legitimate_states(ctx: CaseContext) -> Legitimate | v.Verdict:
    fmt, window = ctx.history_format(), ctx.volatile_window()
    start = start_copy(ctx, "state-start")
    states, labels = [state_of(start, fmt, window)], ["the start"]
    for migration in pending(ctx.migrations(), start_version(ctx)):
        db = start_copy(ctx, f"state-{migration.version}")
        outcome = ctx.engine.migrate(db, migration.version)
        if not outcome.ok:
            return blocked_by_upgrade(ctx, outcome.error_code)  # the plain upgrade fails: nothing to inject into
        states.append(state_of(db, fmt, ctx.volatile_window()))
        labels.append(f"after {migration.version}_{migration.name}")
    return Legitimate(tuple(states), tuple(labels))


class _Judge:
    """Runs one fault on a fresh copy and says what, if anything, is wrong afterwards."""

    def __init__(self, ctx: CaseContext, legit: Legitimate, kind: str) -> None:
        self.ctx, self.legit, self.kind = ctx, legit, kind
        self.runs = 0
        self.fired = 0
        self.seen: dict[int, str | None] = {}  # each point's first verdict

    def problem(self, at: int) -> str | None:
        """What is wrong after a fault at ``at`` (None: nothing); judged once per point."""
        if at not in self.seen:
            self.seen[at] = self.run(at)
        return self.seen[at]

    def run(self, at: int) -> str | None:
        """One fresh run with the fault at ``at``, judged."""
        self.runs += 1
        db = start_copy(self.ctx, f"{self.kind}-{at}-{self.runs}")
        run: FaultRun = self.ctx.engine.migrate_with_fault(db, None, Fault(self.kind, at))  # type: ignore[attr-defined]
        if not run.fired:
            return None
        self.fired += 1
        where = f"{self.kind} at point {at}"
        step, problem = reopened_step(db, self.legit.states, history_format=self.ctx.history_format(),
                                      volatile=self.ctx.volatile_window())
        if step is None:
            return f"{where}: {problem}"
        if not run.crashed and run.outcome.ok and step != len(self.legit.states) - 1:
            return f"{where}: the engine reported success but stopped {self.legit.labels[step]}"
        rerun = self.ctx.engine.migrate(db)
        if not rerun.ok:
            return f"{where} (left {self.legit.labels[step]}): migrating again failed: {rerun.describe()}"
        if state_of(db, self.ctx.history_format(), self.ctx.volatile_window()) != self.legit.states[-1]:
            return f"{where} (left {self.legit.labels[step]}): migrating again did not reach head"
        return None


def _examples(ctx: CaseContext) -> int:
    return int(ctx.option("fault_examples", DEFAULT_EXAMPLES))  # type: ignore[arg-type]


def stratified_points(points: int, count: int, seed: int) -> list[int]:
    """One seeded point in each of ``count`` equal strata of 1..``points``: the whole run is
    covered (hypothesis's integers favour small values, which here are read-only work before
    the first write, so they alone can miss every migration statement)."""
    rng = random.Random(seed)
    count = max(1, min(count, points))
    edges = [1 + (points * i) // count for i in range(count + 1)]
    return [rng.randrange(lo, max(lo + 1, hi)) for lo, hi in zip(edges, edges[1:])]


def _search(judge: _Judge, points: int, ctx: CaseContext) -> tuple[int, str] | None:
    """Stratified seeded points across the run (after any stored failing points); below the
    first that fails, seeded points and then a bisection down to a failing point whose
    predecessor passes (module docstring)."""
    stored = os.environ.get(HYPOTHESIS_DB_ENV)
    database = DirectoryBasedExampleDatabase(stored) if stored else None
    key = f"{ctx.case.suite}:{ctx.case.id}:{judge.kind}".encode()
    earlier = sorted({int(v) for v in database.fetch(key) if v.isdigit()} if database else set())
    candidates = [at for at in earlier if at <= points] + stratified_points(points, _examples(ctx), ctx.case.seed)
    first = next((at for at in candidates if judge.problem(at)), None)
    if first is None:
        return None
    for at in sorted(stratified_points(first - 1, _examples(ctx) // 2, ctx.case.seed + 1)) if first > 1 else []:
        if judge.problem(at):
            first = at
            break
    passing = [at for at, problem in judge.seen.items() if problem is None and at < first]
    low = max(passing, default=0)
    while first - low > 1:
        middle = (low + first) // 2
        if judge.problem(middle):
            first = middle
        else:
            low = middle
    if database is not None:
        database.save(key, str(first).encode())
    return first, judge.problem(first) or "failed"


def _sweep(judge: _Judge, points: int) -> tuple[int, str] | None:
    for at in range(1, points + 1):
        message = judge.problem(at)
        if message:
            return at, message
    return None


def run_faults(ctx: CaseContext, kinds: tuple[str, ...], what: str) -> v.Verdict:
    """Every supported fault kind of ``kinds`` over the case's migration run, judged as above."""
    supported = [k for k in kinds if k in supported_faults(ctx.engine)]
    if not supported:
        return v.skipped(f"the engine supports none of {', '.join(kinds)} (in-process Python/sqlfiles engines, "
                         "or executables where strace and ptrace are available)")
    legit = legitimate_states(ctx)
    if isinstance(legit, v.Verdict):
        return legit
    if len(legit.states) == 1:
        return v.passed("already at head: no migration runs, nothing to interrupt")
    summary: dict[str, dict[str, int]] = {}
    for kind in supported:
        counted = ctx.engine.count_points(start_copy(ctx, f"count-{kind}"), None, kind)  # type: ignore[attr-defined]
        if not counted.outcome.ok:
            return blocked_by_upgrade(ctx, counted.outcome.error_code)
        judge = _Judge(ctx, legit, kind)
        exhaustive = kind in SWEPT and counted.points <= MAX_SWEEP
        bad = _sweep(judge, counted.points) if exhaustive else _search(judge, counted.points, ctx) \
            if counted.points else None
        summary[kind] = {"points": counted.points, "runs": judge.runs, "fired": judge.fired,
                         "exhaustive": int(exhaustive)}
        if bad:
            at, message = bad
            again = judge.run(at)  # the same point on a fresh copy: is the engine flaky there?
            summary[kind]["runs"] = judge.runs
            observations = {"faults": summary, "failing_point": at, "kind": kind, "flaky": again is None}
            if again is None:
                flaky = (f"flaky: {kind} at point {at} failed once and passed on an identical run; "
                         f"the failing run: {message}")
                return v.failed(flaky, measured=f"{kind} at {at} of {counted.points}: failed 1 of 2 runs",
                                threshold="whole migrations on every run",
                                details=f"{flaky}\nthe passing run: whole and convergent\n"
                                        f"reproduce this point: Fault({kind!r}, at={at})",
                                observations=observations)
            return v.failed(message, measured=f"{kind} at {at} of {counted.points}", threshold="whole migrations",
                            details=f"{message}\nreproduce this point: Fault({kind!r}, at={at})",
                            observations=observations)
    runs = sum(s["runs"] for s in summary.values())
    return v.passed(f"{what}: {runs} runs over {', '.join(summary)}, every one whole and convergent",
                    observations={"faults": summary})


def atomic_on_failure(ctx: CaseContext) -> v.Verdict:
    return run_faults(ctx, FAILURE_KINDS, "injected failures")


def crash_safe(ctx: CaseContext) -> v.Verdict:
    return run_faults(ctx, CRASH_KINDS, "crashes")

