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

Fault injection needs nothing more from the engine: ``migrate`` is run in a forked child
whose ``sqlite3.connect`` counts (see ``harness.engines.faults`` for what is and is not seen).

The same record shapes are what command engines print as JSON (see ``command``).
"""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from harness.engines.faults import InProcessFaults
from harness.engines.protocol import (
    CODE_UNSPECIFIED, OP_CRASH, OP_DIAGNOSTICS, OP_MIGRATE, OP_OPEN, OP_POSTURE, Diagnostics, Migration,
    Outcome,
)
from harness.errors import InputError

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

    def __init__(self, obj: Any, name: str) -> None:  # Any: the contract above is duck-typed
        self.name = name
        self._obj = obj
        optional = {OP_OPEN: "open", OP_DIAGNOSTICS: "diagnostics", OP_POSTURE: "connect"}
        self.operations = frozenset(
            {OP_MIGRATE, OP_CRASH} | {op for op, attr in optional.items() if callable(getattr(obj, attr, None))})
        self._migrations: tuple[Migration, ...] | None = None

    def migrations(self) -> Sequence[Migration]:
        """The engine's list, read once; a list the harness cannot read is an ``InputError``."""
        if self._migrations is None:
            try:
                self._migrations = tuple(parse_migration(m) for m in self._obj.migrations())
            except Exception as exc:  # noqa: BLE001 - any failure means the list is unusable
                raise InputError(self.name, f"migrations() did not give a usable list: {exc}",
                                 key="engine.target") from None
        return self._migrations

    def migrate(self, db: Path, target: int | None = None) -> Outcome:
        if target is None:
            return _call(OP_MIGRATE, self._obj.migrate, db)[0]
        return _call(OP_MIGRATE, self._obj.migrate, db, target=target)[0]

    def open(self, db: Path) -> Outcome:
        if OP_OPEN not in self.operations:
            return self._unsupported(OP_OPEN)
        return _call(OP_OPEN, self._obj.open, db)[0]

    def diagnostics(self, db: Path) -> Diagnostics | Outcome:
        if OP_DIAGNOSTICS not in self.operations:
            return self._unsupported(OP_DIAGNOSTICS)
        outcome, report = _call(OP_DIAGNOSTICS, self._obj.diagnostics, db)
        if not outcome.ok:
            return outcome
        try:
            return parse_diagnostics(report)
        except ValueError as exc:
            return dataclasses.replace(outcome, ok=False, error_code=CODE_UNSPECIFIED,
                                       message=f"diagnostics() returned an unusable report: {exc}")

    def posture(self, db: Path) -> Mapping[str, str] | Outcome:
        """PRAGMAs read by the harness on the connection ``connect(db)`` returns."""
        if OP_POSTURE not in self.operations:
            return self._unsupported(OP_POSTURE)
        outcome, conn = _call(OP_POSTURE, self._obj.connect, db)
        if not outcome.ok:
            return outcome
        if not isinstance(conn, sqlite3.Connection):
            return dataclasses.replace(outcome, ok=False, error_code=CODE_UNSPECIFIED,
                                       message=f"connect() returned {type(conn).__name__}, "
                                               "not a sqlite3.Connection")
        try:
            return {p: posture_value(conn.execute(f"PRAGMA {p}").fetchone()[0]) for p in POSTURE_PRAGMAS}
        except sqlite3.Error as exc:
            return dataclasses.replace(outcome, ok=False, error_code=CODE_UNSPECIFIED,
                                       message=f"reading PRAGMAs failed: {exc}")
        finally:
            conn.close()

    def _unsupported(self, operation: str) -> Outcome:
        return Outcome(operation, ok=False, error_code=CODE_UNSPECIFIED,
                       message=f"{self.name} has no {operation} operation")


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
