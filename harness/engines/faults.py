"""Fault injection: make an engine's migration fail part-way, or kill it, at chosen points.

The kinds are ``protocol.FAULT_*``; a ``Fault(kind, at)`` names the ``at``-th point (1-based)
of its kind, numbered in the order a normal run reaches them. There are two mechanisms, one
for each way an engine runs.

In-process engines (python and sqlfiles adapters: they run in the harness's process and
reach SQLite through stdlib ``sqlite3``)
    The operation runs in a forked child whose ``sqlite3.connect`` hands out counting
    connections: a subclass of the ``factory`` the engine asked for (``sqlite3.Connection``
    by default, created dynamically for the engine's own subclass) whose ``execute``,
    ``executemany``, ``executescript``, ``commit``, ``__exit__`` and cursors count points,
    and with a progress handler called at every VM step (``n=1``: about 0.25 us a step,
    measured; a whole migration run is tens of thousands of steps, so no coarser
    granularity is needed). The points:

    ``kill-after-commit``
        a *commit point*: right after a call that leaves its connection outside a
        transaction when it ended one (``COMMIT``/``END``/``RELEASE``, ``commit()``, ``with
        conn:``; a ``ROLLBACK`` is no point) or ran a statement in autocommit mode that
        wrote (it changed rows, or it is ``INSERT``/``UPDATE``/``DELETE``/``REPLACE``/
        ``CREATE``/``DROP``/``ALTER``/``VACUUM``/``REINDEX``/``ANALYZE``, or ``PRAGMA
        user_version|application_id|schema_version = ...``; ``executescript`` always counts).
        Reads, ``BEGIN`` and connection PRAGMAs are no points, so the durable states a
        crash can leave are exactly the states at the points, and the Nth point of an engine
        that commits one transaction per migration is "N migrations applied".
    ``kill-at-step`` / ``interrupt-at-step``
        the progress handler's calls, over all counted connections.

    Kills are ``os._exit`` (no rollback, no close, no atexit: a crash). The interrupt makes
    the progress handler return 1 at step N (only then): SQLite abandons the statement with
    ``SQLITE_INTERRUPT`` (``sqlite3.OperationalError: interrupted``) inside the engine, which
    must roll back and report it. The child (``harness.tracing.fork.run_forked``) returns
    the engine's ``Outcome`` and its counts; a kill first sends the counts as a note.

    Not counted (say so when judging a skip): connections opened before the fork or by
    calling ``sqlite3.Connection(...)`` directly, through a ``factory`` that is no
    ``sqlite3.Connection`` subclass, or by another library than ``sqlite3`` (APSW, an ORM's
    C driver); statements run on a cursor that ``Connection.execute`` returned and that is
    then reused (``conn.execute(...)`` itself is counted); the statements *inside* one
    ``executescript`` (the call is one commit point; a kill inside it is ``kill-at-step``).
    ``from sqlite3 import connect`` done before the run is patched too (every module's
    binding of the original function is replaced in the child). A progress handler the
    engine sets itself is chained behind the counting one.

Executables (command adapter)
    The migrate command runs under ``strace`` (found with ``shutil.which``; ptrace may be
    forbidden in CI containers, so two short probe runs decide, once per process: see
    ``harness.tracing.strace``; without it ``faults`` is empty). Only calls on the database's own files count: ``-P`` (``--trace-path``)
    restricts tracing, and strace's injection, to system calls on the database, its
    ``-journal`` and ``-wal`` (not ``-shm``: SQLite maps it) and its directory (the
    ``fsync`` SQLite does on the directory after creating or deleting a journal). Writes to
    stdout, logs or ``.pyc`` files are therefore neither counted nor injected. The points:

    ``kill-at-sync``
        ``fsync``/``fdatasync`` calls on those files; SIGKILL on entry to the Nth (its data
        was written, not yet synced: for a process kill that changes nothing, the page cache
        keeps it).
    ``kill-at-write`` / ``full-at-write``
        ``write``/``pwrite64``/``writev``/``pwritev``/``pwritev2`` calls on those files;
        SIGKILL on entry to the Nth (so that write does not happen), or the Nth fails with
        ``ENOSPC`` without being executed (SQLite reports ``SQLITE_FULL``).

    strace keeps its ``when=N`` counter per thread *and per system call*
    (``inject=fsync,fdatasync:when=2`` fires at the 2nd ``fsync`` and at the 2nd
    ``fdatasync``), so "the Nth sync" cannot be said to strace directly. The adapter first
    runs the command once with no fault on a copy of the same starting database (or reuses
    the count ``count_points`` made from an identical start), reads the order of calls from
    the trace, and injects into the call that is the Nth of the kind: ``inject=<syscall>:
    <action>:when=<k>`` with k its rank among that thread's calls of that system call. This
    is exact for engines whose database I/O is deterministic and comes from one thread
    (SQLite in a single-threaded CLI, like the reference's); an engine that spreads it over
    threads (a Go runtime may) gets a nearby point, and ``FaultRun.points`` then says which
    point of its kind was actually reached. The command lines::

        strace -f -qq -e signal=none [--seccomp-bpf] -o TRACE \\
            -e trace=fsync,fdatasync,write,pwrite64,writev,pwritev,pwritev2 \\
            -P DIR/app.db -P DIR/app.db-journal -P DIR/app.db-wal -P DIR \\
            [-e inject=fdatasync:signal=KILL:when=K | -e inject=pwrite64:error=ENOSPC:when=K] \\
            -- ARGV...

    ``--seccomp-bpf`` (untraced system calls then do not stop the process: a traced run is
    about as fast as a plain one) is used for counting and ``ENOSPC`` runs when the probe
    shows it works, never for the kill kinds: strace 6.1 silently drops an injected signal
    under it (measured here: the process runs to completion). The engine's timeout still
    applies and still kills the whole process group (strace and the engine). A kill shows
    as the engine's ``engine_crash`` outcome (strace re-raises the tracee's SIGKILL on itself).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, NoReturn, Sequence

from harness.engines.capabilities import FaultInjectable
from harness.engines.protocol import (
    CODE_CRASH, CODE_TIMEOUT, CODE_UNSPECIFIED, EXECUTABLE_FAULTS, FAULT_FULL_AT_WRITE,
    FAULT_INTERRUPT_AT_STEP, FAULT_KILL_AFTER_COMMIT, FAULT_KILL_AT_STEP, FAULT_KILL_AT_SYNC,
    FAULT_KILL_AT_WRITE, IN_PROCESS_FAULTS, OP_MIGRATE, Fault, FaultRun, Outcome,
)
from harness.sql import Statement, pragma, scan
from harness.tracing import fork
from harness.tracing.strace import SYNC_CALLS, WRITE_CALLS, StraceTool, strace_argv, strace_tool
from harness.tracing.trace import Syscall, in_start_order, read_trace

CRASH_STATUS = 75  # the child's exit status when it was "killed" at the chosen point


def supported_faults(engine: object) -> frozenset[str]:
    """The fault kinds ``engine`` can inject (none when it is not ``FaultInjectable``)."""
    if not isinstance(engine, FaultInjectable):
        return frozenset()
    kinds = engine.faults
    return frozenset(kinds) if isinstance(kinds, (set, frozenset)) else frozenset()


def _require(kind: str, supported: frozenset[str], who: str) -> None:
    if kind not in supported:
        raise ValueError(f"{who} cannot inject {kind!r}; it supports {sorted(supported) or 'no fault kind'}")


# ==========================================================================================
# In-process engines
# ==========================================================================================

_WRITE_KEYWORDS = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER", "VACUUM",
                             "REINDEX", "ANALYZE"})
_WRITE_PRAGMAS = frozenset({"user_version", "application_id", "schema_version"})


def _keyword(sql: object) -> str:
    """The statement's first word, upper-cased ("" when it starts with something else)."""
    first = next(scan(sql), None) if isinstance(sql, str) else None
    return (first.word or "") if first is not None else ""


def _writes(sql: object) -> bool:
    """Whether an autocommit statement is one that writes (see the module docstring)."""
    keyword = _keyword(sql)
    if keyword in _WRITE_KEYWORDS:
        return True
    if keyword == "PRAGMA":
        name, value = pragma(Statement(str(sql), 1))
        return name == "incremental_vacuum" or (name in _WRITE_PRAGMAS and value is not None)
    return False


class _Injector:
    """The child's counters, and the fault it injects when its point comes."""

    def __init__(self, fault: Fault | None) -> None:
        self.fault = fault
        self.commits = 0
        self.steps = 0
        self.fired = False
        kind = fault.kind if fault else None
        self._commit_at = fault.at if fault and kind == FAULT_KILL_AFTER_COMMIT else 0
        self._step_at = fault.at if fault and kind in (FAULT_KILL_AT_STEP, FAULT_INTERRUPT_AT_STEP) else 0
        self._interrupt = kind == FAULT_INTERRUPT_AT_STEP

    def commit_point(self) -> None:
        self.commits += 1
        if self.commits == self._commit_at:
            self.die()

    def step(self) -> int:
        """The progress handler: called at every VM step of every counted connection."""
        self.steps += 1
        if self.steps == self._step_at:
            if self._interrupt:
                self.fired = True
                return 1  # SQLITE_INTERRUPT for the running statement; later steps go on
            self.die()
        return 0

    def die(self) -> NoReturn:
        self.fired = True
        fork.note(self.counts(None))
        os._exit(CRASH_STATUS)  # no rollback, no close, no atexit, no flush: a crash

    def counts(self, outcome: Outcome | None) -> _ChildCounts:
        return _ChildCounts(outcome, self.fired, outcome is None, self.commits, self.steps)


_INJECTOR: _Injector | None = None  # set in the forked child only


def _in_memory(database: str) -> bool:
    """A database no crash can leave behind: its commits are not durable states."""
    return database in ("", ":memory:") or "mode=memory" in database or database.startswith("file::memory:")


def _ended(conn: sqlite3.Connection, before: bool, changes: int, sql: object, script: bool = False) -> None:
    """Count a commit point if the call that just returned made one (module docstring)."""
    injector = _INJECTOR
    if injector is None or conn.in_transaction or not getattr(conn, "_harness_durable", True):
        return
    if before:  # a transaction ended
        if sql is not None and not script and _keyword(sql) == "ROLLBACK":
            return
    elif sql is None or (not script and conn.total_changes == changes and not _writes(sql)):
        return  # commit() with nothing to commit, or an autocommit statement that wrote nothing
    injector.commit_point()


class _CountingCursor:
    """Mixin put in front of the cursor class an engine uses."""

    def execute(self, sql: Any, *args: Any, **kwargs: Any) -> Any:
        conn = self.connection  # type: ignore[attr-defined]
        before, changes = conn.in_transaction, conn.total_changes
        result = super().execute(sql, *args, **kwargs)  # type: ignore[misc]
        _ended(conn, before, changes, sql)
        return result

    def executemany(self, sql: Any, *args: Any, **kwargs: Any) -> Any:
        conn = self.connection  # type: ignore[attr-defined]
        before, changes = conn.in_transaction, conn.total_changes
        result = super().executemany(sql, *args, **kwargs)  # type: ignore[misc]
        _ended(conn, before, changes, sql)
        return result

    def executescript(self, sql: Any, *args: Any, **kwargs: Any) -> Any:
        conn = self.connection  # type: ignore[attr-defined]
        before, changes = conn.in_transaction, conn.total_changes
        result = super().executescript(sql, *args, **kwargs)  # type: ignore[misc]
        _ended(conn, before, changes, sql, script=True)
        return result


class _CountingConnection:
    """Mixin put in front of the connection class an engine asks ``sqlite3.connect`` for."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        database = str(args[0] if args else kwargs.get("database", ""))
        self._harness_durable = not _in_memory(database)
        if _INJECTOR is not None and self._harness_durable:
            sqlite3.Connection.set_progress_handler(self, _INJECTOR.step, 1)  # type: ignore[arg-type]

    def execute(self, sql: Any, *args: Any, **kwargs: Any) -> Any:
        before, changes = self.in_transaction, self.total_changes  # type: ignore[attr-defined]
        result = super().execute(sql, *args, **kwargs)  # type: ignore[misc]
        _ended(self, before, changes, sql)  # type: ignore[arg-type]
        return result

    def executemany(self, sql: Any, *args: Any, **kwargs: Any) -> Any:
        before, changes = self.in_transaction, self.total_changes  # type: ignore[attr-defined]
        result = super().executemany(sql, *args, **kwargs)  # type: ignore[misc]
        _ended(self, before, changes, sql)  # type: ignore[arg-type]
        return result

    def executescript(self, sql: Any, *args: Any, **kwargs: Any) -> Any:
        before, changes = self.in_transaction, self.total_changes  # type: ignore[attr-defined]
        result = super().executescript(sql, *args, **kwargs)  # type: ignore[misc]
        _ended(self, before, changes, sql, script=True)  # type: ignore[arg-type]
        return result

    def commit(self) -> None:
        before, changes = self.in_transaction, self.total_changes  # type: ignore[attr-defined]
        super().commit()  # type: ignore[misc]
        _ended(self, before, changes, None)  # type: ignore[arg-type]

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        # sqlite3's __exit__ commits in C, without calling an overridden commit().
        before, changes = self.in_transaction, self.total_changes  # type: ignore[attr-defined]
        result = super().__exit__(exc_type, exc, tb)  # type: ignore[misc]
        if exc_type is None:
            _ended(self, before, changes, None)  # type: ignore[arg-type]
        return result

    def cursor(self, *args: Any, **kwargs: Any) -> Any:
        factory = args[0] if args else kwargs.pop("factory", sqlite3.Cursor)
        counting = _counting_class(factory, sqlite3.Cursor, _CountingCursor)
        return super().cursor(counting or factory, *args[1:], **kwargs)  # type: ignore[misc]

    def set_progress_handler(self, *args: Any, **kwargs: Any) -> None:
        """The engine's own handler runs behind the counting one, every ``n`` steps as asked."""
        injector = _INJECTOR
        if injector is None:
            return super().set_progress_handler(*args, **kwargs)  # type: ignore[misc, no-any-return]
        handler = args[0] if args else kwargs.get("progress_handler", kwargs.get("handler"))
        n = args[1] if len(args) > 1 else kwargs.get("n", 1)
        if handler is None or not isinstance(n, int) or n < 1:  # SQLite: n < 1 disables it
            sqlite3.Connection.set_progress_handler(self, injector.step, 1)  # type: ignore[arg-type]
            return None
        step, calls = injector.step, [0]

        def chained() -> int:
            stop = step()
            if stop:
                return stop
            calls[0] += 1
            if calls[0] < n:
                return 0
            calls[0] = 0
            return handler()  # type: ignore[no-any-return]

        sqlite3.Connection.set_progress_handler(self, chained, 1)  # type: ignore[arg-type]
        return None


_SUBCLASSES: dict[tuple[type, type], type] = {}


def _counting_class(factory: object, base: type, mixin: type) -> type | None:
    """``factory`` with ``mixin`` in front, or None when it is no ``base`` subclass to extend."""
    if not isinstance(factory, type) or not issubclass(factory, base):
        return None
    if issubclass(factory, mixin):
        return factory
    key = (factory, mixin)
    if key not in _SUBCLASSES:
        try:
            _SUBCLASSES[key] = type(f"Counting{factory.__name__}", (mixin, factory), {"__module__": __name__})
        except TypeError:  # a class that cannot be subclassed stays uncounted
            return None
    return _SUBCLASSES[key]


def _install(injector: _Injector) -> None:
    """In the child: every way to reach ``sqlite3.connect`` now gives counting connections."""
    global _INJECTOR
    _INJECTOR = injector
    original = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        if len(args) > 5:  # connect(database, timeout, detect_types, isolation_level, check_same_thread, factory)
            counting = _counting_class(args[5], sqlite3.Connection, _CountingConnection)
            if counting is not None:
                args = (*args[:5], counting, *args[6:])
        else:
            counting = _counting_class(kwargs.get("factory", sqlite3.Connection), sqlite3.Connection,
                                       _CountingConnection)
            if counting is not None:
                kwargs["factory"] = counting
        return original(*args, **kwargs)

    for module in list(sys.modules.values()):  # also `from sqlite3 import connect` bindings
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        for name, value in list(namespace.items()):
            if value is original:
                namespace[name] = connect


@dataclass(frozen=True)
class _ChildCounts:
    """What the forked child reports: the engine's outcome (None: killed at the point) and counts."""

    outcome: Outcome | None
    fired: bool
    killed: bool
    commits: int
    steps: int

    def points(self, kind: str) -> int:
        return self.commits if kind == FAULT_KILL_AFTER_COMMIT else self.steps


def _counted(operation: Callable[[], object], fault: Fault | None, name: str) -> _ChildCounts:
    """In the child: run ``operation`` with counting connections; an engine failure is a result."""
    injector = _Injector(fault)
    _install(injector)
    start = time.perf_counter()
    try:
        result = operation()
        outcome = result if isinstance(result, Outcome) else Outcome(name, ok=True)
    except Exception as exc:  # noqa: BLE001 - an engine failure is a result
        code = getattr(exc, "code", None)
        outcome = Outcome(name, ok=False, error_code=code if isinstance(code, str) else CODE_UNSPECIFIED,
                          message=str(exc) or type(exc).__name__)
    except BaseException as exc:  # noqa: BLE001 - SystemExit, KeyboardInterrupt: the app would die
        outcome = Outcome(name, ok=False, error_code=CODE_CRASH,
                          message=f"raised {type(exc).__name__}: {exc}".rstrip(": "))
    if not outcome.seconds:
        outcome = dataclasses.replace(outcome, seconds=time.perf_counter() - start)
    return injector.counts(outcome)


def _run_forked(operation: Callable[[], object], fault: Fault | None, *, timeout: float | None,
                name: str) -> _ChildCounts:
    report = fork.run_forked(lambda: _counted(operation, fault, name), timeout=timeout)
    counts = report.value if report.status == fork.RETURNED else report.notes[-1] if report.notes else None
    if report.status == fork.TIMED_OUT:
        return _ChildCounts(Outcome(name, ok=False, error_code=CODE_TIMEOUT, timed_out=True, seconds=report.seconds,
                                    message=report.describe()), False, False, 0, 0)
    if not isinstance(counts, _ChildCounts):
        return _ChildCounts(Outcome(name, ok=False, error_code=CODE_CRASH, seconds=report.seconds,
                                    message=f"the process running the engine died ({report.describe()})"),
                            False, False, 0, 0)
    if counts.killed:
        assert fault is not None
        return dataclasses.replace(counts, outcome=Outcome(name, ok=False, error_code=CODE_CRASH,
                                                           seconds=report.seconds,
                                                           message=f"killed at {fault.describe()} (injected)"))
    return counts


def count_in_process(operation: Callable[[], object], *, timeout: float | None = None,
                     name: str = OP_MIGRATE) -> tuple[Outcome, dict[str, int]]:
    """Run ``operation`` in a forked, counting child with no fault: its outcome and the
    number of points of every in-process kind.

    ``operation`` returns an ``Outcome`` (an adapter's method) or anything else for success,
    and may raise: an exception's string ``code`` is its error code, as in the python adapter.
    """
    report = _run_forked(operation, None, timeout=timeout, name=name)
    assert report.outcome is not None
    return report.outcome, {kind: report.points(kind) for kind in IN_PROCESS_FAULTS}


def inject_in_process(operation: Callable[[], object], fault: Fault, *, timeout: float | None = None,
                      name: str = OP_MIGRATE) -> FaultRun:
    """Run ``operation`` in a forked child with ``fault`` (an in-process kind) injected."""
    _require(fault.kind, IN_PROCESS_FAULTS, "an in-process run")
    report = _run_forked(operation, fault, timeout=timeout, name=name)
    assert report.outcome is not None
    return FaultRun(report.outcome, report.fired, fault.at if report.killed else report.points(fault.kind))


MigrateCall = Callable[[Path, "int | None"], object]


def count_points_in_process(migrate: MigrateCall, db: Path, target: int | None, kind: str, *,
                            timeout: float | None = None) -> FaultRun:
    """``Engine.count_points`` for an engine whose ``migrate(db, target)`` runs in this process."""
    _require(kind, IN_PROCESS_FAULTS, "an in-process run")
    outcome, points = count_in_process(lambda: migrate(db, target), timeout=timeout)
    return FaultRun(outcome, False, points[kind])


def migrate_with_fault_in_process(migrate: MigrateCall, db: Path, target: int | None, fault: Fault, *,
                                  timeout: float | None = None) -> FaultRun:
    """``Engine.migrate_with_fault`` for an engine whose ``migrate(db, target)`` runs in this process."""
    return inject_in_process(lambda: migrate(db, target), fault, timeout=timeout)


class InProcessFaults:
    """Mixin giving an adapter whose ``migrate(db, target)`` runs in this process the
    in-process fault kinds: ``faults``, ``count_points`` and ``migrate_with_fault``.

    ``fault_timeout`` (seconds, None: none) bounds each forked run.
    """

    fault_timeout: float | None = None

    @property
    def faults(self) -> frozenset[str]:
        return IN_PROCESS_FAULTS if hasattr(os, "fork") else frozenset()

    def count_points(self, db: Path, target: int | None, kind: str) -> FaultRun:
        _require(kind, self.faults, type(self).__name__)
        return count_points_in_process(self.migrate, db, target, kind,  # type: ignore[attr-defined]
                                       timeout=self.fault_timeout)

    def migrate_with_fault(self, db: Path, target: int | None, fault: Fault) -> FaultRun:
        _require(fault.kind, self.faults, type(self).__name__)
        return migrate_with_fault_in_process(self.migrate, db, target, fault,  # type: ignore[attr-defined]
                                             timeout=self.fault_timeout)


# ==========================================================================================
# Executables, under strace
# ==========================================================================================

_KIND_CALLS = {FAULT_KILL_AT_SYNC: SYNC_CALLS, FAULT_KILL_AT_WRITE: WRITE_CALLS, FAULT_FULL_AT_WRITE: WRITE_CALLS}
_ACTIONS = {FAULT_KILL_AT_SYNC: "signal=KILL", FAULT_KILL_AT_WRITE: "signal=KILL", FAULT_FULL_AT_WRITE: "error=ENOSPC"}
DB_FAMILY = ("", "-journal", "-wal")  # the files whose syscalls count (not -shm: it is mmap'd)


def traced_paths(db: Path) -> list[str]:
    """The database's files and directory, spelled as /proc/PID/fd shows them (``-P``)."""
    directory = os.path.realpath(db.parent)
    return [os.path.join(directory, db.name + suffix) for suffix in DB_FAMILY] + [directory]


@dataclass(frozen=True)
class Call:
    """One traced system call: which thread made it, and which call it was."""

    tid: int
    name: str


def _calls(syscalls: Sequence[Syscall]) -> tuple[Call, ...]:
    return tuple(Call(call.pid, call.name) for call in in_start_order(syscalls)
                 if call.name in SYNC_CALLS or call.name in WRITE_CALLS)


def parse_trace(text: str) -> tuple[Call, ...]:
    """The sync and write calls a trace shows, in the order they started."""
    return _calls(tuple(read_trace(text.splitlines())))


def count_calls(calls: Sequence[Call], kind: str) -> int:
    names = _KIND_CALLS[kind]
    return sum(1 for call in calls if call.name in names)


def injection_for(calls: Sequence[Call], fault: Fault) -> str | None:
    """The strace ``inject=`` expression hitting the ``fault.at``-th call of its kind in a run
    that makes ``calls``; None when the run has fewer (then the fault cannot fire)."""
    names = _KIND_CALLS[fault.kind]
    seen = 0
    for index, call in enumerate(calls):
        if call.name in names:
            seen += 1
            if seen == fault.at:
                rank = sum(1 for earlier in calls[:index + 1] if earlier == call)
                return f"{call.name}:{_ACTIONS[fault.kind]}:when={rank}"
    return None


def _start_digest(db: Path, target: int | None) -> str:
    """What a run's sequence of calls depends on: the starting files and the target."""
    digest = hashlib.sha256(f"{db.name}\0{target}".encode())
    for suffix in DB_FAMILY:
        path = db.with_name(db.name + suffix)
        digest.update(suffix.encode() + b"\0")
        if path.is_file():
            digest.update(b"present\0")
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        else:
            digest.update(b"absent\0")
    return digest.hexdigest()


#: Runs an adapter's migrate command with its argv rewritten by the callable given.
TracedMigrate = Callable[[Path, "int | None", Callable[[Sequence[str]], Sequence[str]]], Outcome]


class StraceFaults:
    """The executable fault kinds for an adapter that runs its migrate as a command."""

    def __init__(self, run: TracedMigrate, who: str = "the command") -> None:
        self._run = run
        self._who = who
        self._sequences: dict[str, tuple[Call, ...]] = {}

    @property
    def faults(self) -> frozenset[str]:
        return EXECUTABLE_FAULTS if strace_tool().usable else frozenset()

    def count_points(self, db: Path, target: int | None, kind: str) -> FaultRun:
        _require(kind, self.faults, self._who)
        outcome, calls = self._count(db, target)
        return FaultRun(outcome, False, count_calls(calls, kind))

    def migrate_with_fault(self, db: Path, target: int | None, fault: Fault) -> FaultRun:
        _require(fault.kind, self.faults, self._who)
        calls = self._sequences.get(_start_digest(db, target))
        if calls is None:  # count on a copy of the same start, so the real run is the faulted one
            with tempfile.TemporaryDirectory(prefix="harness-count-") as scratch:
                copy = Path(scratch) / db.name
                for suffix in DB_FAMILY:
                    source = db.with_name(db.name + suffix)
                    if source.is_file():
                        shutil.copyfile(source, copy.with_name(copy.name + suffix))
                _, calls = self._count(copy, target)
        inject = injection_for(calls, fault)
        outcome, seen, syscalls = self._traced(db, target, inject)
        if inject is None:
            return FaultRun(outcome, False, count_calls(seen, fault.kind))
        points = count_calls(seen, fault.kind)
        if fault.kind == FAULT_FULL_AT_WRITE:
            fired = any(call.injected and call.name in WRITE_CALLS for call in syscalls)
        else:
            fired = (outcome.error_code == CODE_CRASH and not outcome.timed_out
                     and "SIGKILL" in outcome.message)
            if fired:
                outcome = dataclasses.replace(outcome, message=f"killed at {fault.describe()} "
                                                               f"(injected: strace -e inject={inject})")
        return FaultRun(outcome, fired, points)

    def _count(self, db: Path, target: int | None) -> tuple[Outcome, tuple[Call, ...]]:
        key = _start_digest(db, target)
        outcome, calls, _ = self._traced(db, target, None)
        if not outcome.timed_out:
            self._sequences[key] = calls
        return outcome, calls

    def _traced(self, db: Path, target: int | None,
                inject: str | None) -> tuple[Outcome, tuple[Call, ...], tuple[Syscall, ...]]:
        tool = strace_tool()
        with tempfile.TemporaryDirectory(prefix="harness-strace-") as scratch:
            trace = Path(scratch) / "trace"
            paths = traced_paths(db)
            seccomp = tool.seccomp and (inject is None or "signal=" not in inject)
            outcome = self._run(db, target, lambda argv: strace_argv(
                tool, argv, output=trace, calls=SYNC_CALLS + WRITE_CALLS, paths=paths,
                inject=[inject] if inject else [], seccomp=seccomp))
            with open(trace, encoding="utf-8", errors="replace") if trace.exists() else open(os.devnull) as lines:
                syscalls = tuple(read_trace(lines))
        return outcome, _calls(syscalls), syscalls


__all__ = [
    "CRASH_STATUS", "Call", "InProcessFaults", "StraceFaults", "StraceTool", "count_calls", "count_in_process",
    "count_points_in_process", "inject_in_process", "injection_for", "migrate_with_fault_in_process",
    "parse_trace", "strace_tool", "supported_faults", "traced_paths",
]
