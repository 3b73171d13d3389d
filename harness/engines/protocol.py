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


@dataclass(frozen=True)
class Migration:
    """One migration the engine knows, in the engine's order."""

    version: int
    name: str
    checksum: str
    sql: str | None = None  # present when the harness can read the SQL (python, sqlfiles)
    source: str | None = None  # file the migration lives in, for annotations


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
