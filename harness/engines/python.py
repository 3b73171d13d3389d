"""The python adapter: drive an engine object that lives in the harness's own process.

Native Python engine contract (the object the scenario's ``engine.target`` names, or the
object that calling it with ``engine.options`` returns):

``migrations()``
    An iterable of objects or dicts with ``version`` (int), ``name``, ``checksum`` and
    optionally ``sql`` and ``source``, in the order the engine applies them.
``migrate(db, target=None)``
    Apply pending migrations, up to and including version ``target`` when given (it is
    called as ``migrate(db)`` when there is no target). Raises on failure; an exception's
    ``code`` attribute, when it is a string, is taken as the engine's error code.
``open(db)`` (optional)
    The application's startup path, raising like ``migrate``.
``diagnostics(db)`` (optional)
    A ``Diagnostics``, or a mapping or dataclass with the keys ``schema_version``,
    ``applied_migrations``, ``expected_migrations``, ``continuity``, ``integrity`` and
    ``foreign_key_violations`` (other keys are kept as ``extra``).
``connect(db)`` (optional)
    The ``sqlite3.Connection`` the application would use. The harness reads the PRAGMAs
    on it itself (``posture``) rather than trusting a report, then closes it.

Every operation runs in a forked child of the harness (``harness.tracing.fork``), bounded
by the scenario's ``engine.timeout``: an engine that hangs, aborts, segfaults, calls
``sys.exit`` or ``os._exit`` ends only that child, and the operation is a failed ``Outcome``
(``harness_timeout`` or ``engine_crash``) naming what happened, so its case is errored and
the run goes on. The object is built once, in the harness's process; what an operation
changes in the object itself does not carry over to the next one (as across restarts of
the application).

Fault injection needs nothing more from the engine: ``migrate`` is run in a forked child
whose ``sqlite3.connect`` counts (see ``harness.engines.faults`` for what is and is not seen).

The same record shapes are what command engines print as JSON (see ``command``).
"""

from __future__ import annotations

import dataclasses
import faulthandler
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from harness.engines.faults import InProcessFaults
from harness.engines.protocol import (
    CODE_CRASH, CODE_TIMEOUT, CODE_UNSPECIFIED, OP_CRASH, OP_DIAGNOSTICS, OP_MIGRATE, OP_OPEN, OP_POSTURE,
    Diagnostics, Migration, Outcome,
)
from harness.errors import InputError
from harness.tracing import fork

DEFAULT_TIMEOUT = 60.0  # seconds per operation (the scenario's engine.timeout)
OUTPUT_LIMIT = 4000  # the last bytes an operation printed, kept with its outcome

#: The PRAGMAs ``posture`` reads from the application's connection.
POSTURE_PRAGMAS = ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
_DIAGNOSTICS_KEYS = ("schema_version", "applied_migrations", "expected_migrations", "continuity",
                     "integrity", "foreign_key_violations")


def is_engine_object(value: object) -> bool:
    """Whether ``value`` already is an engine (not a class or factory that makes one)."""
    return (not isinstance(value, type) and callable(getattr(value, "migrate", None))
            and callable(getattr(value, "migrations", None)))


def parse_migration(item: object) -> Migration:
    """A ``Migration`` from a dict or object of the native contract; ``ValueError`` if malformed."""
    version = _field(item, "version")
    if isinstance(version, str) and version.isascii() and version.isdigit():
        version = int(version)
    if not isinstance(version, int) or isinstance(version, bool):
        raise ValueError(f"version must be an integer, got {version!r:.40}")
    name, checksum = _field(item, "name"), _field(item, "checksum")
    if not isinstance(name, str):
        raise ValueError(f"migration {version}: name must be a string, got {name!r:.40}")
    if not isinstance(checksum, (str, int)) or isinstance(checksum, bool):
        raise ValueError(f"migration {version}: checksum must be a string, got {checksum!r:.40}")
    sql, source = _field(item, "sql", None), _field(item, "source", None)
    for key, value in (("sql", sql), ("source", source)):
        if value is not None and not isinstance(value, str):
            raise ValueError(f"migration {version}: {key} must be a string, got {value!r:.40}")
    return Migration(version, name, str(checksum), sql, source)


def parse_diagnostics(value: object) -> Diagnostics:
    """A ``Diagnostics`` from the native contract's shapes; ``ValueError`` if malformed."""
    if isinstance(value, Diagnostics):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if not isinstance(value, Mapping):
        raise ValueError(f"expected a mapping or dataclass, got {type(value).__name__}")
    missing = [key for key in _DIAGNOSTICS_KEYS if key not in value]
    if missing:
        raise ValueError(f"missing key(s): {', '.join(missing)}")
    schema_version = value["schema_version"]
    if schema_version is not None:
        schema_version = _int(value, "schema_version")
    extra = {k: v for k, v in value.items() if k not in _DIAGNOSTICS_KEYS and k != "extra"}
    nested = value.get("extra") or {}
    if not isinstance(nested, Mapping):
        raise ValueError(f"extra must be a mapping, got {nested!r:.40}")
    extra.update(nested)
    return Diagnostics(
        schema_version=schema_version,
        applied_migrations=_int(value, "applied_migrations"),
        expected_migrations=_int(value, "expected_migrations"),
        continuity=_str(value, "continuity"),
        integrity=_str(value, "integrity"),
        foreign_key_violations=_int(value, "foreign_key_violations"),
        extra=extra,
    )


def _field(item: object, key: str, *default: Any) -> Any:
    if isinstance(item, Mapping):
        if key in item:
            return item[key]
    elif hasattr(item, key):
        return getattr(item, key)
    if default:
        return default[0]
    raise ValueError(f"missing '{key}' in {item!r:.80}")


def _int(values: Mapping[str, Any], key: str) -> int:
    value = values[key]
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{key} must be an integer, got {value!r:.40}")
    return value


def _str(values: Mapping[str, Any], key: str) -> str:
    value = values[key]
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string, got {value!r:.40}")
    return value


def posture_value(value: object) -> str:
    """A PRAGMA value as text, the same whoever reported it (booleans as ``1``/``0``)."""
    return str(int(value)) if isinstance(value, bool) else str(value)


class PythonEngine(InProcessFaults):
    """An in-process engine object, driven through the native contract above.

    Fault injection (``faults``, ``count_points``, ``migrate_with_fault``) comes from
    ``InProcessFaults``: ``migrate`` runs in a forked child whose stdlib ``sqlite3``
    connections count commit points and VM steps (``harness.engines.faults``).
    """

    def __init__(self, obj: Any, name: str, *, timeout: float = DEFAULT_TIMEOUT,
                 isolate: bool = hasattr(os, "fork")) -> None:  # Any: the contract above is duck-typed
        self.name = name
        self._obj = obj
        self.timeout = timeout
        self.fault_timeout = timeout  # a hang under fault injection is bounded too
        self.isolate = isolate  # each operation in a forked child (module docstring)
        self._home = os.getpid()  # already in a child (fault injection forks): call directly
        optional = {OP_OPEN: "open", OP_DIAGNOSTICS: "diagnostics", OP_POSTURE: "connect"}
        self.operations = frozenset(
            {OP_MIGRATE, OP_CRASH} | {op for op, attr in optional.items() if callable(getattr(obj, attr, None))})
        self._migrations: tuple[Migration, ...] | None = None

    def migrations(self) -> Sequence[Migration]:
        """The engine's list, read once; a list the harness cannot read is an ``InputError``."""
        if self._migrations is None:
            outcome, listing = self._run("migrations", lambda: _listing(self._obj))
            if not outcome.ok:
                raise InputError(self.name, f"migrations() did not give a usable list: {outcome.message}",
                                 key="engine.target")
            self._migrations = listing
        return self._migrations

    def migrate(self, db: Path, target: int | None = None) -> Outcome:
        if target is None:
            return self._run(OP_MIGRATE, lambda: self._obj.migrate(db))[0]
        return self._run(OP_MIGRATE, lambda: self._obj.migrate(db, target=target))[0]

    def open(self, db: Path) -> Outcome:
        if OP_OPEN not in self.operations:
            return self._unsupported(OP_OPEN)
        return self._run(OP_OPEN, lambda: self._obj.open(db))[0]

    def diagnostics(self, db: Path) -> Diagnostics | Outcome:
        if OP_DIAGNOSTICS not in self.operations:
            return self._unsupported(OP_DIAGNOSTICS)
        outcome, report = self._run(OP_DIAGNOSTICS, lambda: _report(self._obj, db))
        if not outcome.ok:
            return outcome
        if isinstance(report, str):
            return dataclasses.replace(outcome, ok=False, error_code=CODE_UNSPECIFIED,
                                       message=f"diagnostics() returned an unusable report: {report}")
        return report  # type: ignore[no-any-return]

    def posture(self, db: Path) -> Mapping[str, str] | Outcome:
        """PRAGMAs read by the harness on the connection ``connect(db)`` returns."""
        if OP_POSTURE not in self.operations:
            return self._unsupported(OP_POSTURE)
        outcome, values = self._run(OP_POSTURE, lambda: _pragmas(self._obj, db))
        if not outcome.ok:
            return outcome
        if isinstance(values, str):
            return dataclasses.replace(outcome, ok=False, error_code=CODE_UNSPECIFIED, message=values)
        return values  # type: ignore[no-any-return]

    def _run(self, operation: str, call: Callable[[], Any]) -> tuple[Outcome, Any]:
        """``call`` in a forked child (bounded by ``timeout``), or here when not isolating."""
        if not self.isolate or os.getpid() != self._home:
            return _call(operation, call)
        with tempfile.TemporaryFile() as output:
            report = fork.run_forked(lambda: _captured(output.fileno(), call), timeout=self.timeout)
            output.seek(0)
            printed = output.read()[-OUTPUT_LIMIT:].decode("utf-8", "replace")
        outcome = _outcome_of(operation, report, self.timeout)
        return dataclasses.replace(outcome, stderr=printed) if printed else outcome, report.value

    def _unsupported(self, operation: str) -> Outcome:
        return Outcome(operation, ok=False, error_code=CODE_UNSPECIFIED,
                       message=f"{self.name} has no {operation} operation")


def _captured(fd: int, call: Callable[[], Any]) -> Any:
    """In the child: what the engine prints goes to ``fd`` (kept as the outcome's text, never the
    harness's terminal), and a crash does not dump Python's fault handler report there."""
    faulthandler.disable()
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    return call()


def _listing(obj: Any) -> tuple[Migration, ...]:
    return tuple(parse_migration(m) for m in obj.migrations())


def _report(obj: Any, db: Path) -> Diagnostics | str:
    """The engine's diagnostics, parsed where they were made (only data crosses back)."""
    report = obj.diagnostics(db)
    try:
        return parse_diagnostics(report)
    except ValueError as exc:
        return str(exc)


def _pragmas(obj: Any, db: Path) -> dict[str, str] | str:
    """The PRAGMAs of the connection ``connect(db)`` returns, read by the harness, then closed."""
    conn = obj.connect(db)
    if not isinstance(conn, sqlite3.Connection):
        return f"connect() returned {type(conn).__name__}, not a sqlite3.Connection"
    try:
        return {p: posture_value(conn.execute(f"PRAGMA {p}").fetchone()[0]) for p in POSTURE_PRAGMAS}
    except sqlite3.Error as exc:
        return f"reading PRAGMAs failed: {exc}"
    finally:
        conn.close()


def _outcome_of(operation: str, report: fork.ChildReport, timeout: float) -> Outcome:
    """What became of an operation's child, as an ``Outcome`` whose message names the cause."""
    seconds = report.seconds
    if report.status == fork.RETURNED:
        return Outcome(operation, ok=True, seconds=seconds)
    if report.status == fork.RAISED:
        exc = report.exception
        if isinstance(exc, KeyboardInterrupt):
            raise exc
        if isinstance(exc, SystemExit):
            return Outcome(operation, ok=False, error_code=CODE_CRASH, seconds=seconds,
                           message=f"the engine called sys.exit({exc.code!r}) during {operation}: an application "
                                   "that exits instead of raising")
        if exc is not None and not isinstance(exc, Exception):
            return Outcome(operation, ok=False, error_code=CODE_CRASH, seconds=seconds,
                           message=f"the engine raised {type(exc).__name__} during {operation}")
        code = getattr(exc, "code", None)
        if isinstance(exc, fork.ChildException):  # an exception that could not be rebuilt whole
            message = exc.message or exc.type_name
        else:
            message = str(exc) or type(exc).__name__
        return Outcome(operation, ok=False, error_code=code if isinstance(code, str) else CODE_UNSPECIFIED,
                       message=message, seconds=seconds)
    if report.status == fork.TIMED_OUT:
        return Outcome(operation, ok=False, error_code=CODE_TIMEOUT, timed_out=True, seconds=seconds,
                       message=f"{operation} gave no result within the {timeout:g} s timeout (engine.timeout); "
                               "its process was killed")
    if report.status == fork.CRASHED:
        return Outcome(operation, ok=False, error_code=CODE_CRASH, seconds=seconds,
                       message=f"the engine's process died during {operation}: {report.describe()} (os.abort(), "
                               "a segmentation fault or a signal)")
    return Outcome(operation, ok=False, error_code=CODE_CRASH, seconds=seconds,
                   message=f"the engine ended its process during {operation}: {report.describe()} (os._exit?)")


def _call(operation: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Outcome, Any]:
    """Run one engine method, turning an ``Exception`` (only) into a failed ``Outcome``."""
    start = time.perf_counter()
    try:
        result = method(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - engine failures are results, not crashes
        code = getattr(exc, "code", None)
        return Outcome(operation, ok=False,
                       error_code=code if isinstance(code, str) else CODE_UNSPECIFIED,
                       message=str(exc) or type(exc).__name__,
                       seconds=time.perf_counter() - start), None
    return Outcome(operation, ok=True, seconds=time.perf_counter() - start), result
