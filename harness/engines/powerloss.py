"""Power loss: the files a power cut at each sync point would leave, rebuilt from a trace.

A kill (``harness.engines.faults``) tests the application crashing: the kernel's page cache
survives, so every write the process made reaches the disk. A power cut also loses what was
written but not yet synced, and may tear the write in flight. This module builds the file
images such a cut leaves, at every sync point in turn, for a migration or a recovery.

The parts: ``harness.tracing.recording`` (the run under strace, read into a log of file
operations, ``harness.tracing.fileops``) and ``harness.tracing.durability`` (the images a
cut leaves); this module is the engine glue.

Engines (``power_loss_runs``)
    Python engines run in a child process, ``python -m harness.engines.child`` (the
    engine's import target, and ``options`` for a class or factory), so the library traced
    is the stdlib ``sqlite3`` the engine uses in the harness too. Command engines run their
    own ``migrate``/``open`` command, through the command adapter (its timeout, process
    group and error pattern apply). The run happens on the caller's ``db`` (like
    ``count_points``): afterwards it holds the operation's result. Each run records the
    SQLite library of the engine process (the child reports ``sqlite_version`` and
    ``PRAGMA compile_options``; for an executable the ``libsqlite3`` it opened, if any) and
    the harness's own (the one reopening the images), for every drill result.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping, Sequence

from harness.engines.child import MARKER, sqlite_build
from harness.engines.command import CommandEngine
from harness.engines.capabilities import Traceable
from harness.engines.protocol import OP_MIGRATE, OP_OPEN, Engine, Outcome
from harness.tracing.durability import MODES, Image, images, start_files
from harness.tracing.fileops import (
    Allocate, Create, Mkdir, Op, PowerLossError, Rename, Rmdir, Sync, SyncAll, Truncate, Unlink, Write, WriteLog,
    sync_points,
)
from harness.tracing.recording import SqliteBuild, parse, record_run, strace_argv
from harness.tracing.strace import strace_tool

DEFAULT_TIMEOUT = 120.0


def unsupported_reason(engine: object, operation: str = OP_MIGRATE, *, python_target: str | None = None) -> str | None:
    """Why ``power_loss_runs`` cannot run ``operation`` of ``engine`` here (None: it can).

    A ``Traceable`` engine runs its own process; any other engine is rebuilt in a child
    process from ``python_target`` (default: its name, which the loader sets to the
    scenario's ``engine.target``), so that must be an import target."""
    if operation not in (OP_MIGRATE, OP_OPEN):
        return f"power loss drills run migrate or open, not {operation}"
    tool = strace_tool()
    if not tool.usable:
        return f"strace cannot trace here: {tool.reason}"
    if not isinstance(engine, Engine):
        return f"{type(engine).__name__} is no engine"
    if operation not in engine.operations:
        return f"{engine.name} has no {operation} operation"
    if not isinstance(engine, Traceable) and ":" not in (python_target or engine.name):
        return (f"{engine.name!r} runs in this process and is no import target (module:attr or file.py:attr) "
                "for a child process; pass python_target")
    return None


def supported(engine: object, operation: str = OP_MIGRATE, *, python_target: str | None = None) -> bool:
    """Whether strace and ptrace work here and ``engine`` is of a kind that can be traced."""
    return unsupported_reason(engine, operation, python_target=python_target) is None


def harness_sqlite() -> SqliteBuild:
    """The harness's own SQLite: the library that reopens and judges the images."""
    build = sqlite_build()
    return SqliteBuild("harness", str(build["sqlite_version"]), tuple(build["compile_options"]))  # type: ignore[arg-type]


def _child_sqlite(stdout: str, libraries: tuple[str, ...]) -> SqliteBuild | None:
    for line in reversed(stdout.splitlines()):
        if line.startswith(MARKER):
            try:
                found = json.loads(line[len(MARKER):])
                return SqliteBuild("engine", str(found["sqlite_version"]),
                                   tuple(str(o) for o in found["compile_options"]), libraries)
            except (ValueError, KeyError, TypeError):
                return None
    return None


@dataclass
class PowerLossRun:
    """One traced operation and the images it leads to (``images()``, lazily, every mode)."""

    operation: str
    target: int | None
    log: WriteLog
    start: Mapping[str, Path | bytes]
    modes: tuple[str, ...]
    seed: int
    into: Path
    engine_sqlite: SqliteBuild
    harness_sqlite: SqliteBuild
    owns_into: bool = False

    @property
    def outcome(self) -> Outcome:
        return self.log.outcome

    @property
    def sync_points(self) -> int:
        return sync_points(self.log)

    @property
    def sqlite(self) -> tuple[SqliteBuild, ...]:
        return (self.engine_sqlite, self.harness_sqlite)

    def images(self, modes: Sequence[str] | None = None) -> Iterator[Image]:
        """Every image of ``modes`` (default: the run's), each carrying ``sqlite``; kept in
        ``into/images/<mode>-<point>`` (a second call rebuilds them there)."""
        for mode in modes or self.modes:
            for image in images(self.log, self.start, mode, self.seed, into=self.into / "images"):
                yield dataclasses.replace(image, sqlite=self.sqlite)

    def observations(self) -> dict[str, object]:
        """For a verdict: the run's size and the SQLite libraries involved."""
        return {"operation": self.operation, "sync_points": self.sync_points, "ops": len(self.log.ops),
                "written_bytes": self.log.written_bytes(), "trace_bytes": self.log.trace_bytes,
                "traced_seconds": round(self.log.seconds, 3), "modes": list(self.modes), "seed": self.seed,
                "sqlite": [build.as_dict() for build in self.sqlite]}

    def close(self) -> None:
        if self.owns_into:
            shutil.rmtree(self.into, ignore_errors=True)

    def __enter__(self) -> PowerLossRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _child_command(python_target: str, operation: str, options: Mapping[str, object] | None,
                   sys_path: Sequence[str | os.PathLike[str]], scenario: Path | None) -> list[str]:
    argv = [sys.executable, "-m", "harness.engines.child", python_target, operation, "{db}"]
    if operation == OP_MIGRATE:
        argv += ["--target", "{target}"]
    if options:
        argv += ["--options", json.dumps(dict(options))]
    for entry in sys_path:
        argv += ["--sys-path", os.fspath(entry)]
    if scenario is not None:
        argv += ["--scenario", str(scenario)]
    return argv


def _child_runner(engine: Engine, operation: str, python_target: str | None, options: Mapping[str, object] | None,
                  sys_path: Sequence[str | os.PathLike[str]], scenario: Path | None,
                  timeout: float | None) -> Traceable:
    """``engine``'s operation as a process: ``python -m harness.engines.child`` on its import target."""
    command = _child_command(python_target or engine.name, operation, options, sys_path, scenario)
    package_root = str(Path(__file__).resolve().parents[2])  # harness importable in the child
    python_path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH", "")) if p)
    fault_timeout = getattr(engine, "fault_timeout", None)
    return CommandEngine(engine.name, {operation: command}, timeout=timeout or fault_timeout or DEFAULT_TIMEOUT,
                         env={"PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": python_path})


def power_loss_runs(engine: object, db: Path, target: int | None = None, *, operation: str = OP_MIGRATE,
                    modes: Sequence[str] = MODES, seed: int = 0, into: Path | None = None,
                    timeout: float | None = None, python_target: str | None = None,
                    options: Mapping[str, object] | None = None, sys_path: Sequence[str | os.PathLike[str]] = (),
                    scenario: Path | None = None) -> PowerLossRun:
    """Run ``operation`` (``migrate`` up to ``target``, or ``open``) of ``engine`` on ``db``
    once under strace, and return the run, whose ``images()`` are the power cuts.

    ``db``'s directory is the data directory: its files are copied first (the start), then
    the operation runs there for real. Python engines run in ``python -m
    harness.engines.child`` with ``python_target`` (default: the engine's name, which the
    loader sets to the scenario's ``engine.target``), ``options`` (for a class or factory),
    ``sys_path`` and ``scenario`` (what relative file targets are relative to); command
    engines run their own command. ``timeout``: python engines' child (default: the
    engine's ``fault_timeout``, else 120 s);
    command engines keep their own. ``into``: where the start copy and images go (default:
    a temporary directory the run removes on ``close()``).
    """
    problem = unsupported_reason(engine, operation, python_target=python_target)
    if problem:
        raise PowerLossError(problem)
    for mode in modes:
        if mode not in MODES:
            raise ValueError(f"unknown power-loss mode {mode!r}; expected one of {', '.join(MODES)}")
    owns = into is None
    base = Path(tempfile.mkdtemp(prefix="harness-powerloss-")) if into is None else into
    try:
        base.mkdir(parents=True, exist_ok=True)
        start_dir = base / "start"
        if start_dir.exists():
            shutil.rmtree(start_dir)
        start_dir.mkdir()
        db.parent.mkdir(parents=True, exist_ok=True)
        start = start_files(db.parent, start_dir)
        runner = engine if isinstance(engine, Traceable) else _child_runner(
            engine, operation, python_target, options, sys_path, scenario, timeout)  # type: ignore[arg-type]
        log = record_run(lambda wrap: runner.run_wrapped(operation, db, target, wrap), db, runner.trace_cwd)
        # the child reports its SQLite library; an executable's own cannot be asked
        engine_build = None if runner is engine else _child_sqlite(log.outcome.stdout, log.libraries)
        if engine_build is None:
            engine_build = SqliteBuild("engine", None, (), log.libraries)  # an executable's own: unknown
        return PowerLossRun(operation, target, log, start, tuple(modes), seed, base, engine_build, harness_sqlite(),
                            owns)
    except BaseException:
        if owns:
            shutil.rmtree(base, ignore_errors=True)
        raise


def record(command: Sequence[str], db: Path, *, timeout: float, env: Mapping[str, str] | None = None,
           cwd: Path | None = None) -> WriteLog:
    """Run ``command`` once under strace and log what it did to ``db``'s directory.

    The command runs as the command adapter runs one (its own session; the whole process
    group killed at ``timeout``; ``env`` added to the environment); the adapter's
    placeholders (``{db}``, ``{data_dir}``, ``{harness_python}``) are expanded.
    """
    runner = CommandEngine("power-loss", {OP_MIGRATE: list(command)}, timeout=timeout, cwd=cwd, env=env)
    return record_run(lambda wrap: runner.run_wrapped(OP_MIGRATE, db, None, wrap), db, cwd)


__all__ = [
    "MODES", "Allocate", "Create", "Image", "Mkdir", "Op", "PowerLossError", "PowerLossRun", "Rename", "Rmdir",
    "SqliteBuild", "Sync", "SyncAll", "Truncate", "Unlink", "Write", "WriteLog", "harness_sqlite", "images", "parse",
    "power_loss_runs", "record", "start_files", "strace_argv", "supported", "sync_points",
    "unsupported_reason",
]
