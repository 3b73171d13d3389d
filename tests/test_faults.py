"""Fault injection as an engine operation: kills and injected failures at counted points.

In-process kinds are exercised on the reference engine through the python adapter (and on
small scripted engines for what counts as a point); executable kinds on the reference CLI
through the command adapter, under strace (skipped where strace or ptrace is unavailable).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import sys
import time
from pathlib import Path
from sqlite3 import connect as sqlite_connect  # a binding made before the child patches sqlite3

import pytest

from harness.checks.states import State, matching_step, state_of
from harness.engines import faults
from harness.engines.command import CommandEngine
from harness.engines.faults import (
    Call, count_in_process, inject_in_process, injection_for, parse_trace, strace_tool, supported_faults,
)
from harness.engines.protocol import (
    CODE_CRASH, CODE_TIMEOUT, EXECUTABLE_FAULTS, FAULT_FULL_AT_WRITE, FAULT_INTERRUPT_AT_STEP,
    FAULT_KILL_AFTER_COMMIT, FAULT_KILL_AT_STEP, FAULT_KILL_AT_SYNC, FAULT_KILL_AT_WRITE, IN_PROCESS_FAULTS,
    Fault, Migration, Outcome,
)
from harness.engines.python import PythonEngine
from harness.fixtures.generate import populate
from harness.reference import ReferenceEngine, migrator

HEAD = 7


# -- helpers ----------------------------------------------------------------------------------


def fresh(tmp_path: Path, name: str) -> Path:
    directory = tmp_path / name
    directory.mkdir()
    return directory / "app.db"


def recovered(db: Path) -> str:
    """Open ``db`` as an application would (SQLite replays a WAL or rolls back a hot
    journal), and return its integrity_check."""
    conn = sqlite3.connect(db)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def whole(db: Path, steps: list[State]) -> int:
    """The k for which ``db`` is exactly "k migrations applied" (schema, content, history and
    user_version agreeing); fails the test otherwise."""
    assert recovered(db) == "ok"
    state = state_of(db)
    k = matching_step(state, steps)
    assert k is not None, f"not a whole number of migrations: {state.describe()}"
    assert len(state.history) == state.user_version == k
    return k


def sample(points: int, count: int) -> list[int]:
    """About ``count`` points spread over 1..points, ends included."""
    return sorted({1, points, *(1 + i * (points - 1) // (count - 1) for i in range(count))})


@pytest.fixture(scope="module")
def reference() -> PythonEngine:
    return PythonEngine(ReferenceEngine(), "reference")


@pytest.fixture(scope="module")
def steps(reference: PythonEngine, tmp_path_factory: pytest.TempPathFactory) -> list[State]:
    """The state after k migrations of a fresh install, k = 0..head."""
    root = tmp_path_factory.mktemp("steps")
    states = []
    for k in range(HEAD + 1):
        db = fresh(root, f"k{k}")
        if k:
            assert reference.migrate(db, k).ok
        states.append(state_of(db))
    return states


# -- the protocol's types ---------------------------------------------------------------------


def test_faults_are_validated() -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault("kill-somewhere", 1)
    with pytest.raises(ValueError, match="from 1"):
        Fault(FAULT_KILL_AT_STEP, 0)


def test_adapters_declare_their_kinds(reference: PythonEngine) -> None:
    assert supported_faults(reference) == IN_PROCESS_FAULTS
    assert supported_faults(object()) == frozenset()
    with pytest.raises(ValueError, match="cannot inject"):
        reference.migrate_with_fault(Path("unused.db"), None, Fault(FAULT_KILL_AT_SYNC, 1))


# -- in-process: the reference engine -----------------------------------------------------------


def test_counting_a_fresh_install(reference: PythonEngine, steps: list[State], tmp_path: Path) -> None:
    db = fresh(tmp_path, "a")
    commits = reference.count_points(db, None, FAULT_KILL_AFTER_COMMIT)
    vm_steps = reference.count_points(fresh(tmp_path, "b"), None, FAULT_KILL_AT_STEP)
    assert commits.outcome.ok and vm_steps.outcome.ok
    assert not commits.fired and not vm_steps.fired
    assert commits.points == HEAD  # one transaction per migration; reads and PRAGMAs are no commit points
    assert vm_steps.points > 1000
    assert whole(db, steps) == HEAD  # counting is a real run
    partial = reference.count_points(fresh(tmp_path, "c"), 3, FAULT_KILL_AFTER_COMMIT)
    assert partial.outcome.ok and partial.points == 3


def test_counting_a_populated_fixture_is_cheap(reference: PythonEngine, tmp_path: Path) -> None:
    fixture = fresh(tmp_path, "fixture")
    assert reference.migrate(fixture, 1).ok
    with sqlite3.connect(fixture) as conn:
        rows = populate(conn, seed=1, rows_per_table=70, skip_tables=(migrator.HISTORY_TABLE,))
    assert sum(rows.values()) >= 450
    db = fresh(tmp_path, "run")
    shutil.copyfile(fixture, db)
    start = time.perf_counter()
    outcome, points = count_in_process(lambda: reference.migrate(db))
    elapsed = time.perf_counter() - start
    assert outcome.ok, outcome.describe()
    assert points[FAULT_KILL_AFTER_COMMIT] == HEAD - 1 and points[FAULT_KILL_AT_STEP] > 10_000
    assert elapsed < 1.0, f"counting {points} took {elapsed:.3f}s"


def test_kill_after_commit_n_leaves_exactly_n_migrations(reference: PythonEngine, steps: list[State],
                                                         tmp_path: Path) -> None:
    for n in range(1, HEAD + 2):
        db = fresh(tmp_path, f"kill-{n}")
        run = reference.migrate_with_fault(db, None, Fault(FAULT_KILL_AFTER_COMMIT, n))
        if n > HEAD:  # past the last point: a normal run
            assert not run.fired and run.outcome.ok and run.points == HEAD
            assert whole(db, steps) == HEAD
            continue
        assert run.fired and run.points == n and run.crashed, run
        assert run.outcome.error_code == CODE_CRASH and "injected" in run.outcome.message
        assert whole(db, steps) == n
        assert [version for version, _, _ in state_of(db).history] == list(range(1, n + 1))


def test_kill_at_step_always_leaves_whole_migrations(reference: PythonEngine, steps: list[State],
                                                     tmp_path: Path) -> None:
    total = reference.count_points(fresh(tmp_path, "count"), None, FAULT_KILL_AT_STEP).points
    reached = set()
    for at in sample(total, 25):
        db = fresh(tmp_path, f"step-{at}")
        run = reference.migrate_with_fault(db, None, Fault(FAULT_KILL_AT_STEP, at))
        assert run.fired and run.points == at and run.outcome.error_code == CODE_CRASH
        reached.add(whole(db, steps))
        if at % 3 == 0 or at == total:
            rerun = reference.migrate(db)
            assert rerun.ok, rerun.describe()
            assert whole(db, steps) == HEAD
    assert len(reached) >= 4, reached  # the kills land in different migrations
    assert not reference.migrate_with_fault(fresh(tmp_path, "past"), None, Fault(FAULT_KILL_AT_STEP, total + 1)).fired


def test_interrupt_is_a_failure_the_engine_rolls_back(reference: PythonEngine, steps: list[State],
                                                      tmp_path: Path) -> None:
    total = reference.count_points(fresh(tmp_path, "count"), None, FAULT_INTERRUPT_AT_STEP).points
    codes = {}
    for at in sample(total, 12)[:-1]:
        db = fresh(tmp_path, f"interrupt-{at}")
        run = reference.migrate_with_fault(db, None, Fault(FAULT_INTERRUPT_AT_STEP, at))
        assert run.fired and run.points >= at
        assert not run.outcome.ok, f"interrupt at step {at} of {total} went unnoticed"
        assert run.outcome.error_code != CODE_CRASH  # the engine reported it, it did not die
        codes[at] = run.outcome.error_code
        whole(db, steps)
        rerun = reference.migrate(db)
        assert rerun.ok, rerun.describe()
        assert whole(db, steps) == HEAD
    assert "migration_failed" in codes.values(), codes
    assert all(code in {"migration_failed", "db_error", "engine_error"} for code in codes.values()), codes


class HistoryInItsOwnTransaction(ReferenceEngine):
    """Broken on purpose: commits each migration, then its history row separately."""

    def apply_migration(self, conn: sqlite3.Connection, migration: Migration) -> None:
        if migrator.needs_foreign_keys_off(migration):
            migrator.set_foreign_keys(conn, False)
        try:
            with migrator.transaction(conn, migrator.label(migration)):
                for statement in migrator.split_statements(migration):
                    conn.execute(statement).fetchall()
                conn.execute(f"PRAGMA user_version = {migration.version}")
        finally:
            if migrator.needs_foreign_keys_off(migration):
                migrator.set_foreign_keys(conn, True)
        with migrator.transaction(conn, "history"):
            conn.execute(migrator.HISTORY_DDL)
            self.record_history(conn, migration)


def test_kill_after_commit_catches_history_committed_separately(steps: list[State], tmp_path: Path) -> None:
    broken = PythonEngine(HistoryInItsOwnTransaction(), "broken")
    total = broken.count_points(fresh(tmp_path, "count"), None, FAULT_KILL_AFTER_COMMIT).points
    assert total == 2 * HEAD
    unrecorded = []
    for n in range(1, total + 1):
        db = fresh(tmp_path, f"kill-{n}")
        assert broken.migrate_with_fault(db, None, Fault(FAULT_KILL_AFTER_COMMIT, n)).fired
        state = state_of(db)
        if matching_step(state, steps) is None:
            unrecorded.append(n)
            assert state.user_version == len(state.history) + 1  # applied, not recorded
    assert unrecorded == list(range(1, total, 2))


# -- in-process: what counts ------------------------------------------------------------------


class OwnConnection(sqlite3.Connection):
    """An application's own connection class: the counting one must extend it, not replace it."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.tagged = True


def scripted(db: Path) -> Outcome:
    """Each commit point is marked; everything else must not count."""
    conn = sqlite_connect(db, factory=OwnConnection)  # legacy transaction control
    assert conn.tagged  # type: ignore[attr-defined]
    conn.execute("PRAGMA journal_mode = WAL").fetchall()
    conn.execute("CREATE TABLE t (x)")  # 1: DDL runs in autocommit
    conn.execute("SELECT count(*) FROM t").fetchall()
    conn.execute("INSERT INTO t VALUES (1)")  # opens a transaction
    conn.commit()  # 2
    with conn:
        conn.execute("INSERT INTO t VALUES (2)")
    # 3: the commit of __exit__
    cursor = conn.cursor()
    cursor.execute("INSERT INTO t VALUES (-1)")
    conn.rollback()
    conn.execute("BEGIN")
    conn.execute("INSERT INTO t VALUES (-2)")
    conn.execute("ROLLBACK")
    conn.isolation_level = None
    cursor.execute("INSERT INTO t VALUES (3)")  # 4: autocommit, through a cursor
    conn.executemany("INSERT INTO t VALUES (?)", [(4,), (5,)])  # 5
    conn.executescript("CREATE TABLE u (y); INSERT INTO u VALUES (1);")  # 6
    conn.execute("PRAGMA user_version = 6")  # 7
    conn.execute("PRAGMA user_version").fetchall()
    conn.close()
    return Outcome("migrate", ok=True)


def test_commit_points_are_the_writes_that_end_outside_a_transaction(tmp_path: Path) -> None:
    outcome, points = count_in_process(lambda: scripted(tmp_path / "count.db"))
    assert outcome.ok, outcome.describe()
    assert points[FAULT_KILL_AFTER_COMMIT] == 7
    expected_rows = {1: [], 2: [1], 3: [1, 2], 4: [1, 2, 3], 5: [1, 2, 3, 4, 5], 6: [1, 2, 3, 4, 5]}
    for n, rows in expected_rows.items():
        db = tmp_path / f"kill-{n}.db"
        run = inject_in_process(lambda: scripted(db), Fault(FAULT_KILL_AFTER_COMMIT, n))  # noqa: B023
        assert run.fired
        with sqlite3.connect(db) as conn:
            assert [x for (x,) in conn.execute("SELECT x FROM t ORDER BY x")] == rows, n
            has_u = conn.execute("SELECT count(*) FROM sqlite_schema WHERE name = 'u'").fetchone()[0]
            assert has_u == (n >= 6)
        conn.close()


def test_the_engines_own_progress_handler_still_runs(tmp_path: Path) -> None:
    def operation() -> Outcome:
        calls = []
        conn = sqlite3.connect(tmp_path / "p.db", isolation_level=None)
        conn.set_progress_handler(lambda: calls.append(1), 10)  # returns None: go on
        conn.execute("WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 2000) "
                     "SELECT count(*) FROM r").fetchall()
        conn.close()
        return Outcome("migrate", ok=True, message=str(len(calls)))

    outcome, points = count_in_process(operation)
    assert outcome.ok and points[FAULT_KILL_AT_STEP] > 10_000
    assert int(outcome.message) == points[FAULT_KILL_AT_STEP] // 10


def test_a_child_that_dies_or_hangs_or_raises_is_reported(tmp_path: Path) -> None:
    died, _ = count_in_process(lambda: os._exit(3))
    assert died.error_code == CODE_CRASH and "exit status 3" in died.message
    hung, _ = count_in_process(lambda: time.sleep(30), timeout=0.5)
    assert hung.error_code == CODE_TIMEOUT and hung.timed_out

    class Refused(Exception):
        code = "migration_gap"

    def refuse() -> None:
        raise Refused("no")

    refused, _ = count_in_process(refuse)
    assert (refused.ok, refused.error_code, refused.message) == (False, "migration_gap", "no")
    exited, _ = count_in_process(lambda: sys.exit(2))
    assert exited.error_code == CODE_CRASH and "SystemExit" in exited.message


# -- executables: the trace and the injection expression -------------------------------------------


def test_the_nth_call_of_a_kind_is_injected_by_its_rank_among_its_own_system_call() -> None:
    # strace counts `when=` per thread and per system call, not over the set.
    trace = ("10 pwrite64(4, \"x\", 1, 0) = 1\n10 fdatasync(4)  = 0\n10 fsync(5) = 0\n"
             "11 fdatasync(6 <unfinished ...>\n10 write(3, \"y\", 1) = 1\n11 <... fdatasync resumed>) = 0\n"
             "10 fdatasync(4) = 0\n+++ exited with 0 +++\n")
    calls = parse_trace(trace)
    assert calls == (Call(10, "pwrite64"), Call(10, "fdatasync"), Call(10, "fsync"), Call(11, "fdatasync"),
                     Call(10, "write"), Call(10, "fdatasync"))
    assert faults.count_calls(calls, FAULT_KILL_AT_SYNC) == 4
    assert faults.count_calls(calls, FAULT_FULL_AT_WRITE) == 2
    assert injection_for(calls, Fault(FAULT_KILL_AT_SYNC, 2)) == "fsync:signal=KILL:when=1"
    assert injection_for(calls, Fault(FAULT_KILL_AT_SYNC, 3)) == "fdatasync:signal=KILL:when=1"  # thread 11
    assert injection_for(calls, Fault(FAULT_KILL_AT_SYNC, 4)) == "fdatasync:signal=KILL:when=2"
    assert injection_for(calls, Fault(FAULT_FULL_AT_WRITE, 2)) == "write:error=ENOSPC:when=1"
    assert injection_for(calls, Fault(FAULT_KILL_AT_WRITE, 3)) is None


def test_without_strace_an_executable_supports_no_fault(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(faults, "strace_tool", lambda: faults.StraceTool(None, False, False, "not installed"))
    engine = reference_command()
    assert engine.faults == frozenset() and supported_faults(engine) == frozenset()
    with pytest.raises(ValueError, match="cannot inject"):
        engine.migrate_with_fault(Path("unused.db"), None, Fault(FAULT_KILL_AT_SYNC, 1))


# -- executables: the reference CLI under strace ------------------------------------------------


def reference_command() -> CommandEngine:
    return CommandEngine("reference-cli", {
        "migrate": [sys.executable, "-m", "harness.reference", "migrate", "--db", "{db}", "--target", "{target}"],
    }, timeout=60)


needs_strace = pytest.mark.skipif(not strace_tool().usable, reason=f"no fault injection for executables here: "
                                                                   f"{strace_tool().reason}")


@needs_strace
def test_counting_syncs_and_writes(tmp_path: Path) -> None:
    engine = reference_command()
    assert engine.faults == EXECUTABLE_FAULTS
    syncs = engine.count_points(fresh(tmp_path, "a"), None, FAULT_KILL_AT_SYNC)
    writes = engine.count_points(fresh(tmp_path, "b"), None, FAULT_FULL_AT_WRITE)
    assert syncs.outcome.ok and writes.outcome.ok
    assert syncs.points > 0 and writes.points > syncs.points
    partial = engine.count_points(fresh(tmp_path, "c"), 2, FAULT_KILL_AT_WRITE)
    assert 0 < partial.points < writes.points  # two migrations write less than seven


@needs_strace
def test_kill_at_every_sync_leaves_a_whole_database(steps: list[State], tmp_path: Path) -> None:
    engine = reference_command()
    total = engine.count_points(fresh(tmp_path, "count"), None, FAULT_KILL_AT_SYNC).points
    reached = set()
    for at in range(1, total + 1):
        db = fresh(tmp_path, f"sync-{at}")
        run = engine.migrate_with_fault(db, None, Fault(FAULT_KILL_AT_SYNC, at))
        assert run.fired and run.crashed and run.points == at, run
        assert "SIGKILL" in run.outcome.message or "injected" in run.outcome.message
        reached.add(whole(db, steps))
    assert len(reached) >= 2, reached
    db = fresh(tmp_path, "past")
    run = engine.migrate_with_fault(db, None, Fault(FAULT_KILL_AT_SYNC, total + 1))
    assert not run.fired and run.outcome.ok and run.points == total
    for at in range(1, total + 1, 3):  # after recovery (``whole`` opens it read-write), a rerun reaches head
        rerun_db = fresh(tmp_path, f"rerun-{at}")
        assert engine.migrate_with_fault(rerun_db, None, Fault(FAULT_KILL_AT_SYNC, at)).fired
        whole(rerun_db, steps)
        assert engine.migrate(rerun_db).ok and whole(rerun_db, steps) == HEAD


@needs_strace
def test_kill_at_write_leaves_a_whole_database(steps: list[State], tmp_path: Path) -> None:
    engine = reference_command()
    total = engine.count_points(fresh(tmp_path, "count"), None, FAULT_KILL_AT_WRITE).points
    for at in sample(total, 6):
        db = fresh(tmp_path, f"write-{at}")
        run = engine.migrate_with_fault(db, None, Fault(FAULT_KILL_AT_WRITE, at))
        assert run.fired and run.crashed, run
        whole(db, steps)


@needs_strace
def test_a_full_disk_is_a_clean_failure(steps: list[State], tmp_path: Path) -> None:
    engine = reference_command()
    total = engine.count_points(fresh(tmp_path, "count"), None, FAULT_FULL_AT_WRITE).points
    # In the first half every write belongs to a migration; later ones include the
    # checkpoint at close, whose failure SQLite leaves in the WAL without an error.
    for at in sample(total // 2, 5):
        db = fresh(tmp_path, f"full-{at}")
        run = engine.migrate_with_fault(db, None, Fault(FAULT_FULL_AT_WRITE, at))
        assert run.fired, run
        assert not run.outcome.ok and run.outcome.error_code in {"migration_failed", "db_full"}, run.outcome
        assert "SQLITE_FULL" in run.outcome.message
        assert whole(db, steps) < HEAD
        assert engine.migrate(db).ok and whole(db, steps) == HEAD
    for at in (total * 3 // 4, total):
        late = fresh(tmp_path, f"late-{at}")
        run = engine.migrate_with_fault(late, None, Fault(FAULT_FULL_AT_WRITE, at))
        assert run.fired, run
        reached = whole(late, steps)
        if run.outcome.ok:  # a failure it may ignore, but then the work must be done
            assert reached == HEAD
        else:
            assert run.outcome.error_code in {"migration_failed", "db_full"}, run.outcome


def test_in_memory_databases_are_not_commit_points(tmp_path: Path) -> None:
    # An engine may build scratch schemas in memory (the reference engine fingerprints its
    # migrations that way); a crash cannot leave them behind, so they are no durable state.
    db = tmp_path / "real.db"

    def operation() -> None:
        scratch = sqlite3.connect(":memory:", isolation_level=None)
        for i in range(5):
            scratch.execute(f"CREATE TABLE t{i} (x)")
        real = sqlite3.connect(db, isolation_level=None)
        real.execute("CREATE TABLE kept (x)")
        real.close()

    outcome, points = count_in_process(operation)
    assert outcome.ok and points[FAULT_KILL_AFTER_COMMIT] == 1


def test_stratified_points_cover_the_whole_run() -> None:
    from harness.checks.matrix_faults import stratified_points

    points = stratified_points(61_536, 4, seed=7)
    assert len(points) == 4 and points == sorted(points)
    assert all(1 + i * 61_536 // 4 <= p < 1 + (i + 1) * 61_536 // 4 for i, p in enumerate(points))
    assert points == stratified_points(61_536, 4, seed=7) != stratified_points(61_536, 4, seed=8)
    assert stratified_points(3, 10, seed=1) == [1, 2, 3]
