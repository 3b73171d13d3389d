"""What the harness asks of an engine under test, and what comes back.

Every adapter (python, command, sqlfiles) turns its engine into this one shape. The
harness never trusts the answers for its verdicts: it reads the database files itself
(see ``harness.sqlite``); ``Outcome`` and ``Diagnostics`` are what the engine *claimed*.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Protocol, Sequence, runtime_checkable

#: Operations an engine may support. Checks that need one an engine lacks are skipped.
OP_MIGRATE = "migrate"
OP_OPEN = "open"
OP_DIAGNOSTICS = "diagnostics"
OP_POSTURE = "posture"
OP_CRASH = "crash"  # runs in this process through stdlib sqlite3, so it can be killed at chosen points
ALL_OPERATIONS = frozenset({OP_MIGRATE, OP_OPEN, OP_DIAGNOSTICS, OP_POSTURE, OP_CRASH})

#: Error codes the harness itself assigns when an engine did not give one.
CODE_TIMEOUT = "harness_timeout"
CODE_CRASH = "engine_crash"
CODE_UNSPECIFIED = "engine_error"

#: Fault kinds (see ``Engine.faults``, ``Fault``; implemented in ``harness.engines.faults``).
#: In-process kinds, for engines that run in the harness's process through stdlib sqlite3:
FAULT_KILL_AFTER_COMMIT = "kill-after-commit"  # in-process: os._exit right after the Nth transaction end
FAULT_KILL_AT_STEP = "kill-at-step"  # in-process: os._exit at VM step N (progress handler)
#: in-process: the progress handler returns non-zero at step N -> SQLITE_INTERRUPT raised inside
#: the engine: an injected failure it must roll back
FAULT_INTERRUPT_AT_STEP = "interrupt-at-step"
#: Executable kinds, for engines run as a process (strace fault injection):
#: SIGKILL at the Nth fsync/fdatasync (strace -e inject=…:signal=KILL:when=N)
FAULT_KILL_AT_SYNC = "kill-at-sync"
#: SIGKILL at the Nth write/pwrite64 to the database or its journal/WAL
FAULT_KILL_AT_WRITE = "kill-at-write"
#: ENOSPC at the Nth such write -> SQLITE_FULL: an injected failure
FAULT_FULL_AT_WRITE = "full-at-write"
IN_PROCESS_FAULTS = frozenset({FAULT_KILL_AFTER_COMMIT, FAULT_KILL_AT_STEP, FAULT_INTERRUPT_AT_STEP})
EXECUTABLE_FAULTS = frozenset({FAULT_KILL_AT_SYNC, FAULT_KILL_AT_WRITE, FAULT_FULL_AT_WRITE})
ALL_FAULTS = IN_PROCESS_FAULTS | EXECUTABLE_FAULTS
#: Kinds that kill the engine (a crash: the durable state must be whole); the others make an
#: operation fail part-way (the engine must report the failure and roll back cleanly).
CRASH_FAULTS = frozenset({FAULT_KILL_AFTER_COMMIT, FAULT_KILL_AT_STEP, FAULT_KILL_AT_SYNC, FAULT_KILL_AT_WRITE})


#: A migration's version: an integer (a number or a timestamp), or a text id (an alembic
#: revision) whose order is the engine's migration list, never the text's.
Version = int | str


@dataclass(frozen=True)
class Migration:
    """One migration the engine knows, in the engine's order."""

    version: Version
    name: str
    checksum: str
    sql: str | None = None  # present when the harness can read the SQL (python, sqlfiles)
    source: str | None = None  # file the migration lives in, for annotations
    #: Whether the engine runs it inside a transaction, when the engine knows (sqlfiles: as its
    #: framework does); None leaves it to lint's ``wrapped`` option and the file's markers.
    transaction: bool | None = None
    first_line: int = 1  # the line of ``source`` on which ``sql`` begins (a goose up section: after its marker)
    key: str | None = None  # the version as its history table writes it, when not str(version) (Flyway's "1.1")


def pending(migrations: Sequence[Migration], start: Version | None) -> tuple[Migration, ...]:
    """The migrations after ``start`` in the engine's order (text ids have no order of their own)."""
    return tuple(migrations[version_index(migrations, start):])


def version_index(migrations: Sequence[Migration], version: Version | None) -> int:
    """How many of ``migrations`` (in the engine's order) are applied at ``version``.

    0 for None or 0 (nothing applied); an integer version not in the list counts the integer
    versions up to it, as numbers compare; a text id must be in the list.
    """
    if version is None or version == 0:
        return 0
    for i, migration in enumerate(migrations):
        if migration.version == version:
            return i + 1
    if isinstance(version, int):
        return sum(1 for m in migrations if isinstance(m.version, int) and m.version <= version)
    raise LookupError(f"version {version!r} is not one of the engine's migrations")


@dataclass(frozen=True)
class Outcome:
    """What happened when the harness asked an engine to do something.

    ``ok`` is the engine's own claim (exit status 0 / no exception). ``error_code`` is the
    engine's deterministic error code when it refused (``migration_gap``,
    ``db_recovery_no_snapshot`` ...), or one of the ``CODE_*`` constants above.
    """

    operation: str
    ok: bool
    error_code: str | None = None
    message: str = ""
    seconds: float = 0.0
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False

    def describe(self) -> str:
        if self.ok:
            return f"{self.operation}: ok ({self.seconds:.3f}s)"
        code = self.error_code or CODE_UNSPECIFIED
        text = f"{self.operation}: failed with {code}"
        return f"{text}: {self.message}" if self.message else text


@dataclass(frozen=True)
class Fault:
    """Where to inject what: the ``at``-th point (1-based) of ``kind`` in one run.

    The points of a kind are numbered in the order a normal run reaches them, as
    ``Engine.count_points`` counts them; ``at`` past the last point means the fault never fires.
    """

    kind: str
    at: int

    def __post_init__(self) -> None:
        if self.kind not in ALL_FAULTS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {sorted(ALL_FAULTS)}")
        if not isinstance(self.at, int) or isinstance(self.at, bool) or self.at < 1:
            raise ValueError(f"a fault point is a number from 1, got {self.at!r}")

    def describe(self) -> str:
        return f"{self.kind} #{self.at}"


@dataclass(frozen=True)
class FaultRun:
    """One operation run with a fault injected (or, from ``count_points``, with none).

    ``outcome``: what the engine returned, or, when it was killed, a failed ``Outcome`` with
    ``CODE_CRASH`` (``CODE_TIMEOUT`` when it hung). ``fired``: the point was reached and the
    fault happened (always False when counting). ``points``: points of the kind seen by the
    run -- ``at`` when a kill fired; the whole run's count otherwise (so when counting, how
    many such points a whole run has, and a fault that did not fire tells the sweep to stop).
    """

    outcome: Outcome
    fired: bool
    points: int

    @property
    def crashed(self) -> bool:
        return self.fired and self.outcome.error_code == CODE_CRASH


@dataclass(frozen=True)
class Diagnostics:
    """The engine's structured self-report (the seed's ``DbDiagnostics``)."""

    schema_version: int | None
    applied_migrations: int
    expected_migrations: int
    continuity: str  # "ok" or an error code such as "migration_gap"
    integrity: str  # "ok" or the first integrity_check message
    foreign_key_violations: int
    extra: Mapping[str, object] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return (
            self.continuity == "ok"
            and self.integrity == "ok"
            and self.foreign_key_violations == 0
            and self.applied_migrations == self.expected_migrations
        )


@runtime_checkable
class Engine(Protocol):
    """The engine under test, as the harness drives it.

    ``db`` is always a path inside a temporary directory the harness owns; the engine may
    create siblings there (``backups/``, ``corrupted/``): its data directory is ``db.parent``.
    Operations never raise for engine failures: they return an ``Outcome`` with ``ok=False``.

    Optional fault injection (implemented in ``harness.engines.faults``). These members are
    not declared below, so ``isinstance(x, Engine)`` does not require them: an engine
    that has them is ``harness.engines.capabilities.FaultInjectable``; without them it
    supports no fault kind (``harness.engines.faults.supported_faults(engine)``).

    ``faults: frozenset[str]``
        The ``FAULT_*`` kinds this adapter can inject; may be empty (no ``strace``, ptrace
        forbidden, no ``os.fork``).
    ``count_points(db, target, kind) -> FaultRun``
        Run ``migrate(db, target)`` for real (it changes ``db``) with no fault, under the
        same instrumentation as a faulted run, and count the points of ``kind``:
        ``FaultRun.points``, ``fired`` False, and ``outcome`` the run's own outcome (a count
        from a failed run is no basis for a sweep). A method of its own rather than
        ``migrate_with_fault(fault=None)``: a fault run always has a fault, a count always
        an outcome and a kind. Each call is one run.
    ``migrate_with_fault(db, target, fault: Fault) -> FaultRun``
        ``migrate(db, target)`` with ``fault`` injected; ``ValueError`` when ``fault.kind``
        is not in ``faults``, otherwise never raises for engine failures. A fault whose
        ``at`` lies past the run's last point does not fire: the run completes normally and
        ``points`` is the whole run's count, so a sweep ``at = 1, 2, ...`` stops at the
        first run with ``fired`` False.
    """

    name: str
    operations: frozenset[str]

    def migrations(self) -> Sequence[Migration]:
        """Every migration the engine ships, in the order it applies them."""
        ...

    def migrate(self, db: Path, target: int | None = None) -> Outcome:
        """Apply pending migrations (up to and including ``target`` when given)."""
        ...

    def open(self, db: Path) -> Outcome:
        """The application's startup path: integrity check, quarantine, restore. No migration."""
        ...

    def diagnostics(self, db: Path) -> Diagnostics | Outcome:
        """The engine's self-report, or the failed ``Outcome`` when it could not give one."""
        ...

    def posture(self, db: Path) -> Mapping[str, str] | Outcome:
        """PRAGMA values in force on the connection the application would use."""
        ...
