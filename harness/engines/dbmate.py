"""The dbmate adapter: a dbmate project gated through the real ``dbmate`` binary.

``adapter = "dbmate"`` with ``directory`` (default ``db/migrations``, dbmate's own). When a
``dbmate`` executable is found (``binary``, else ``$PATH``, else ``node_modules/.bin`` next
to the scenario: the npm package ships the binary), migrating runs it exactly as a team's
deploy does: ``dbmate --url sqlite:<db> --migrations-dir <dir> --no-dump-schema migrate``.
dbmate has no target version, so migrating to version V runs it on a private copy of the
directory holding the files up to V. The files, the history table and diagnostics are read
by the harness as the sqlfiles adapter's dbmate format reads them (the same files, the same
``schema_migrations``), and executables are fault-injected under strace.

Without a binary the sqlfiles adapter's dbmate emulation runs instead (``emulated`` says
which ran; a note says so), so a project is gated either way.
"""

from __future__ import annotations

import atexit
import dataclasses
import os
import shutil
import tempfile
from pathlib import Path

from harness.engines.command import CommandEngine
from harness.engines.protocol import (
    CODE_UNSPECIFIED, OP_DIAGNOSTICS, OP_MIGRATE, Fault, FaultRun, Outcome,
)
from harness.engines.sqlfiles import CODE_FAILED, Setup, SqlFilesEngine

DEFAULT_DIRECTORY = "db/migrations"
BINARY = "dbmate"
ENV_BINARY = "HARNESS_DBMATE"  # an explicit binary, as engine.binary


def find_binary(explicit: str | None, near: Path) -> str | None:
    """The dbmate executable: ``explicit``, ``$HARNESS_DBMATE``, ``$PATH``, or ``node_modules/.bin``
    in ``near`` or a parent (where ``npm install dbmate`` puts it)."""
    for candidate in (explicit, os.environ.get(ENV_BINARY)):
        if candidate:
            found = shutil.which(candidate) or (candidate if Path(candidate).is_file() else None)
            return found
    found = shutil.which(BINARY)
    if found:
        return found
    for folder in (near, *near.parents):
        local = folder / "node_modules" / ".bin" / BINARY
        if local.is_file() and os.access(local, os.X_OK):
            return str(local)
    return None


class DbmateEngine(SqlFilesEngine):
    """The real dbmate binary migrates; the harness reads files and history itself."""

    operations = frozenset({OP_MIGRATE, OP_DIAGNOSTICS})
    emulated = False

    def __init__(self, directory: Path, binary: str, *, timeout: float = 60.0, setup: Setup | None = None,
                 foreign_keys: bool = True) -> None:
        super().__init__(directory, "dbmate", setup, foreign_keys=foreign_keys)
        self.binary = binary
        self._stage = Path(tempfile.mkdtemp(prefix="harness-dbmate-"))
        atexit.register(shutil.rmtree, self._stage, True)
        for migration in self.files:  # one directory per target: the files up to it
            self._copy_upto(self._stage / f"upto-{migration.version}", migration.version)
        self._copy_upto(self._stage / "upto-", None)
        url = "sqlite:{db}" + ("?_fk=true" if foreign_keys else "")
        argv = (binary, "--url", url, "--migrations-dir", str(self._stage / "upto-{target}"),
                "--no-dump-schema", "migrate")
        self._command = CommandEngine(f"dbmate ({directory.name})", {OP_MIGRATE: argv}, timeout,
                                      cwd=self._stage, env={"DATABASE_URL": ""})

    def _copy_upto(self, target: Path, version: int | None) -> None:
        target.mkdir()
        for migration in self.files:
            if version is None or migration.version <= version:
                shutil.copyfile(migration.path, target / migration.path.name)

    def migrate(self, db: Path, target: int | None = None) -> Outcome:
        return _named(self._command.migrate(db, target))

    @property
    def faults(self) -> frozenset[str]:  # type: ignore[override]
        return self._command.faults

    def count_points(self, db: Path, target: int | None, kind: str) -> FaultRun:
        return self._command.count_points(db, target, kind)

    def migrate_with_fault(self, db: Path, target: int | None, fault: Fault) -> FaultRun:
        run = self._command.migrate_with_fault(db, target, fault)
        return dataclasses.replace(run, outcome=_named(run.outcome))


def _named(outcome: Outcome) -> Outcome:
    """dbmate prints ``Error: …`` and exits non-zero: a failed migration, as the emulation names it."""
    if not outcome.ok and outcome.error_code == CODE_UNSPECIFIED:
        return dataclasses.replace(outcome, error_code=CODE_FAILED)
    return outcome


def dbmate_engine(directory: Path, binary: str | None, *, timeout: float = 60.0, setup: Setup | None = None,
                  foreign_keys: bool = True) -> SqlFilesEngine:
    """The real binary when there is one, else the emulation (marked ``emulated``, with a note)."""
    if binary:
        return DbmateEngine(directory, binary, timeout=timeout, setup=setup, foreign_keys=foreign_keys)
    engine = SqlFilesEngine(directory, "dbmate", setup, foreign_keys=foreign_keys)
    engine.emulated = True  # type: ignore[attr-defined]
    engine.notes = (*engine.notes, "no dbmate binary found (engine.binary, $PATH, node_modules/.bin): "
                                   "the harness's dbmate emulation runs the migrations")
    return engine

