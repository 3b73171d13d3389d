"""The command adapter: drive any executable (a Rust, Go or Node CLI) through argv templates.

Each operation is an argument list from the scenario, run directly (never through a shell)
after these placeholders are replaced in every argument (plain text replacement, so other
braces in arguments are passed through untouched):

``{db}``              the database file
``{data_dir}``        its directory (the engine may create ``backups/`` etc. there)
``{target}``          the migration version to stop at, or empty
``{harness_python}``  the Python running the harness, for Python CLIs

The ``{target}`` rule: when there is no target, an argument that is exactly ``{target}`` is
dropped, together with the argument before it if that one is an option flag (``--target``,
``--to``, ``-t``: a ``-`` or ``--`` followed by a name, without ``=``); an argument of the
form ``--flag={target}`` is dropped as well. So ``["app", "migrate", "--to", "{target}"]``
runs ``app migrate`` without a target. Write a positional ``{target}`` before any flags.

Exit status 0 is success. Otherwise the error code is the ``code`` group (else group 1) of
``error_pattern`` searched in stderr, then stdout; ``engine_error`` when it does not match,
``engine_crash`` when the process was killed by a signal or could not be started. A run
that outlives ``timeout`` has its whole process group killed (children included) and is
reported as ``harness_timeout``.

Fault injection (``faults``, ``count_points``, ``migrate_with_fault``): the migrate command
is run under ``strace`` with syncs or writes on the database's files counted, killed at or
failed with ``ENOSPC`` (``harness.engines.faults``); without a usable strace ``faults`` is empty.

JSON outputs use the native contract's shapes (see ``python``): ``migrations`` prints an
array of ``{version, name, checksum}`` objects (``sql``, ``source`` optional),
``diagnostics`` an object with the ``Diagnostics`` keys, ``posture`` an object mapping
PRAGMA name to value.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import selectors
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from harness.engines.faults import StraceFaults
from harness.engines.protocol import (
    ALL_OPERATIONS, CODE_CRASH, CODE_TIMEOUT, CODE_UNSPECIFIED, OP_DIAGNOSTICS, OP_MIGRATE, OP_OPEN,
    OP_POSTURE, Diagnostics, Fault, FaultRun, Migration, Outcome,
)
from harness.engines.python import parse_diagnostics, parse_migration, posture_value
from harness.errors import InputError
from harness.scenario import DEFAULT_ERROR_PATTERN

OP_MIGRATIONS = "migrations"  # a command key, not an operation: it lists migrations
MAX_OUTPUT = 1 << 20  # bytes kept of each of stdout and stderr
_FLAG = re.compile(r"^--?[A-Za-z][\w-]*$")
_READ_SIZE = 1 << 16


@dataclasses.dataclass(frozen=True)
class _Run:
    returncode: int | None  # None when the harness killed it
    stdout: str
    stderr: str


def expand(template: Sequence[str], *, db: Path | None = None, target: int | None = None) -> tuple[str, ...]:
    """The argument list for one run: placeholders replaced, an empty ``{target}`` dropped."""
    values = {"{target}": "" if target is None else str(target), "{harness_python}": sys.executable}
    if db is not None:
        values.update({"{db}": str(db), "{data_dir}": str(db.parent)})
    argv: list[str] = []
    for arg in template:
        if target is None and arg == "{target}":
            if len(argv) > 1 and _FLAG.match(argv[-1]):
                argv.pop()
            continue
        if target is None and arg.startswith("-") and arg.endswith("={target}"):
            continue
        for placeholder, value in values.items():
            arg = arg.replace(placeholder, value)
        argv.append(arg)
    return tuple(argv)


class CommandEngine:
    """An engine run as a child process per operation."""

    def __init__(
        self,
        name: str,
        commands: Mapping[str, Sequence[str]],
        timeout: float = 60.0,
        error_pattern: str = DEFAULT_ERROR_PATTERN,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.operations = frozenset(op for op in commands if op in ALL_OPERATIONS)
        self._commands = {op: tuple(argv) for op, argv in commands.items()}
        self._timeout = timeout
        self._pattern = re.compile(error_pattern)
        self._cwd = cwd
        self._env = dict(env or {})
        self._migrations: tuple[Migration, ...] | None = None
        self._strace = StraceFaults(lambda db, target, wrap: self._invoke(OP_MIGRATE, db, target, wrap),
                                    f"{name} (command adapter)")

    @property
    def lists_migrations(self) -> bool:
        """Whether there is a ``migrations`` command (without one, checks that judge each
        migration have nothing to judge: an input error, see ``runner.expand``)."""
        return OP_MIGRATIONS in self._commands

    @property
    def faults(self) -> frozenset[str]:
        """The executable fault kinds, when there is a migrate command and strace may trace."""
        return self._strace.faults if OP_MIGRATE in self._commands else frozenset()

    def count_points(self, db: Path, target: int | None, kind: str) -> FaultRun:
        """Migrate ``db`` under strace and count the syncs or writes on its files."""
        if OP_MIGRATE not in self._commands:
            raise ValueError(f"{self.name} has no migrate command")
        return self._strace.count_points(db, target, kind)

    def migrate_with_fault(self, db: Path, target: int | None, fault: Fault) -> FaultRun:
        """Migrate ``db`` under strace, killed at or failing the ``fault.at``-th sync or write."""
        if OP_MIGRATE not in self._commands:
            raise ValueError(f"{self.name} has no migrate command")
        return self._strace.migrate_with_fault(db, target, fault)

    @property
    def trace_cwd(self) -> Path | None:
        """Where its commands start (``Traceable``)."""
        return self._cwd

    def run_wrapped(self, operation: str, db: Path, target: int | None,
                    wrap: Callable[[Sequence[str]], Sequence[str]]) -> Outcome:
        """Run ``operation``'s command with its argv rewritten by ``wrap`` (``Traceable``)."""
        return self._invoke(operation, db, target, wrap)

    def migrations(self) -> Sequence[Migration]:
        """The ``migrations`` command's list, run once; none without that command."""
        if self._migrations is None:
            self._migrations = self._read_migrations()
        return self._migrations

    def migrate(self, db: Path, target: int | None = None) -> Outcome:
        return self._invoke(OP_MIGRATE, db, target)

    def open(self, db: Path) -> Outcome:
        return self._invoke(OP_OPEN, db)

    def diagnostics(self, db: Path) -> Diagnostics | Outcome:
        outcome = self._invoke(OP_DIAGNOSTICS, db)
        if not outcome.ok:
            return outcome
        try:
            return parse_diagnostics(_json(outcome.stdout))
        except ValueError as exc:
            return dataclasses.replace(outcome, ok=False, error_code=CODE_UNSPECIFIED,
                                       message=f"diagnostics output is not usable: {exc}")

    def posture(self, db: Path) -> Mapping[str, str] | Outcome:
        outcome = self._invoke(OP_POSTURE, db)
        if not outcome.ok:
            return outcome
        try:
            report = _json(outcome.stdout)
            if not isinstance(report, dict):
                raise ValueError(f"expected a JSON object, got {type(report).__name__}")
        except ValueError as exc:
            return dataclasses.replace(outcome, ok=False, error_code=CODE_UNSPECIFIED,
                                       message=f"posture output is not usable: {exc}")
        return {str(k): posture_value(v) for k, v in report.items()}

    def _read_migrations(self) -> tuple[Migration, ...]:
        template = self._commands.get(OP_MIGRATIONS)
        if template is None:
            return ()
        command, key = shlex.join(template), f"engine.commands.{OP_MIGRATIONS}"
        outcome = self._invoke(OP_MIGRATIONS)
        if not outcome.ok:
            raise InputError(command, f"the command failed: {outcome.describe()}", key=key)
        try:
            listing = _json(outcome.stdout)
            if not isinstance(listing, list):
                raise ValueError(f"expected a JSON array, got {type(listing).__name__}")
            return tuple(parse_migration(item) for item in listing)
        except ValueError as exc:
            raise InputError(command, f"did not print a usable migration list: {exc}", key=key) from None

    def _invoke(self, operation: str, db: Path | None = None, target: int | None = None,
                wrap: Callable[[Sequence[str]], Sequence[str]] | None = None) -> Outcome:
        """Run one operation's command; ``wrap`` rewrites its argv (to run it under strace)."""
        template = self._commands.get(operation)
        if template is None:
            return Outcome(operation, ok=False, error_code=CODE_UNSPECIFIED,
                           message=f"{self.name} has no {operation} command")
        argv = expand(template, db=db, target=target)
        if wrap is not None:
            argv = tuple(wrap(argv))
        start = time.perf_counter()
        try:
            run = self._run(argv)
        except OSError as exc:
            return Outcome(operation, ok=False, error_code=CODE_CRASH,
                           message=f"cannot run {argv[0]}: {exc.strerror or exc}",
                           seconds=time.perf_counter() - start)
        outcome = Outcome(operation, ok=run.returncode == 0, seconds=time.perf_counter() - start,
                          stdout=run.stdout, stderr=run.stderr)
        if run.returncode is None:
            return dataclasses.replace(outcome, error_code=CODE_TIMEOUT, timed_out=True,
                                       message=f"no result within the {self._timeout:g} s timeout; "
                                               "the process group was killed")
        if run.returncode < 0:
            return dataclasses.replace(outcome, error_code=CODE_CRASH,
                                       message=f"killed by {_signal_name(-run.returncode)}")
        if run.returncode > 0:
            detail = (_last_line(run.stderr) or _last_line(run.stdout))[:500]
            return dataclasses.replace(outcome, error_code=self._error_code(run),
                                       message=f"exit status {run.returncode}" + (f": {detail}" if detail else ""))
        return outcome

    def _run(self, argv: Sequence[str]) -> _Run:
        """Run ``argv`` in its own session, capturing output, killing its group on timeout."""
        deadline = time.monotonic() + self._timeout
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=self._cwd, env={**os.environ, **self._env}, start_new_session=True,
        )
        stdout, stderr = bytearray(), bytearray()
        killed = False
        with proc:
            try:
                _collect(proc, deadline, stdout, stderr)
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            finally:
                if proc.returncode is None:  # not reaped yet, so its group id is still its own
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                    killed = True
        return _Run(None if killed else proc.returncode, _decode(stdout), _decode(stderr))

    def _error_code(self, run: _Run) -> str:
        for text in (run.stderr, run.stdout):
            match = self._pattern.search(text)
            if match:
                code = match.group("code") if "code" in self._pattern.groupindex else match.group(1)
                if code:
                    return code
        return CODE_UNSPECIFIED


def _collect(proc: subprocess.Popen[bytes], deadline: float, stdout: bytearray,
             stderr: bytearray) -> None:
    """Read both pipes until they close, keeping ``MAX_OUTPUT`` (+1, to tell) bytes of each.

    Reading never stops early, so a chatty engine cannot block on a full pipe. Raises
    ``TimeoutExpired`` at the deadline, leaving what was read so far in the buffers.
    """
    assert proc.stdout is not None and proc.stderr is not None
    buffers = {proc.stdout.fileno(): stdout, proc.stderr.fileno(): stderr}
    with selectors.DefaultSelector() as selector:
        for fd in buffers:
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise subprocess.TimeoutExpired(proc.args, 0)
            for key, _ in selector.select(remaining):
                data = os.read(key.fd, _READ_SIZE)
                if not data:
                    selector.unregister(key.fd)
                    continue
                buffer = buffers[key.fd]
                buffer += data[:max(0, MAX_OUTPUT + 1 - len(buffer))]


def _decode(raw: bytes | bytearray) -> str:
    text = raw[:MAX_OUTPUT].decode("utf-8", errors="replace")
    return text + "\n[output truncated at 1 MiB]" if len(raw) > MAX_OUTPUT else text


def _json(text: str) -> Any:
    """The JSON document ``text`` holds, or its last line does (after log lines); else ValueError."""
    try:
        return json.loads(text)
    except ValueError as exc:
        try:
            return json.loads(_last_line(text))
        except ValueError:
            raise ValueError(f"not JSON ({exc})") from None


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
