"""What one run of a statement costs, counted (not timed) so budgets do not flake.

* **VM steps**: a progress handler called every 1 VM instruction counts them; the count
  is the same on every rerun of the same statement on the same data and SQLite build.
* **Full-scan steps, sorts, automatic indexes**: SQLite's per-statement counters
  (``SQLITE_STMTSTATUS_FULLSCAN_STEP``, ``SORT``, ``AUTOINDEX``). The stdlib module has no
  binding for them; where SQLite was built with ``SQLITE_ENABLE_STMTVTAB`` (Debian's is)
  the ``sqlite_stmt`` virtual table shows them (``nscan``, ``nsort``, ``naidx``, ``nstep``)
  for every statement the connection holds prepared. They accumulate across runs, so the
  statement is run once to prepare it (Python's statement cache keeps it), the counters are
  read, it is run again under measurement and the difference taken. With APSW the
  ``SQLITE_TRACE_PROFILE`` event of ``trace_v2`` carries them for each run.
  Where neither is available the three are ``None`` and :attr:`Cost.counters` says why.

Both runs are wrapped in a transaction that is rolled back: a hot query that writes is
measured on the same data every time. Works with a stdlib ``sqlite3.Connection`` and with an
``apsw.Connection`` (two small backends behind :func:`backend_for`).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any, Callable, Protocol, Sequence

__all__ = ["Cost", "measure", "stmt_counters_available", "backend_for", "METRICS", "UNAVAILABLE"]

#: Budget names, in report order: VM steps always; the others from the counters.
METRICS = ("vm_steps", "full_scan_steps", "sorts", "automatic_indexes")
#: The prefix of :attr:`Cost.counters` when the counters could not be read.
UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class Cost:
    vm_steps: int  # progress-handler calls with N = 1
    full_scan_steps: int | None  # None: not measurable on this build (see counters)
    sorts: int | None
    automatic_indexes: int | None
    rows: int  # rows the statement returned
    counters: str  # "sqlite_stmt", "apsw trace_v2", or "unavailable: <why>"
    sqlite_version: str = ""
    counter_vm_steps: int | None = None  # SQLite's own VM_STEP count, for comparison

    def value(self, metric: str) -> int | None:
        value: int | None = getattr(self, metric)
        return value

    @property
    def counters_available(self) -> bool:
        return not self.counters.startswith(UNAVAILABLE)

    def as_dict(self) -> dict[str, Any]:
        return {"vm_steps": self.vm_steps, "full_scan_steps": self.full_scan_steps, "sorts": self.sorts,
                "automatic_indexes": self.automatic_indexes, "rows": self.rows, "counters": self.counters,
                "sqlite_version": self.sqlite_version, "counter_vm_steps": self.counter_vm_steps}


class Backend(Protocol):
    """The little a measurement needs from a connection."""

    def run(self, sql: str, params: Any) -> int: ...  # execute, fetch every row, return the count
    def run_counted(self, sql: str, params: Any) -> tuple[int, int, dict[str, int] | None]: ...
    def begin(self) -> None: ...
    def rollback(self) -> None: ...
    def counters_reason(self) -> str | None: ...  # None: available; else why not
    def version(self) -> str: ...


class _Steps:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> int:
        self.count += 1
        return 0


def _compile_options(rows: Sequence[Sequence[Any]]) -> set[str]:
    return {str(r[0]).upper() for r in rows}


class StdlibBackend:
    """``sqlite3.Connection``: progress handler plus the ``sqlite_stmt`` virtual table."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._reason: str | None | bool = False  # False: not probed yet

    def version(self) -> str:
        return sqlite3.sqlite_version

    def begin(self) -> None:
        if not self.conn.in_transaction:
            self.conn.execute("BEGIN")

    def rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def run(self, sql: str, params: Any) -> int:
        cur = self.conn.execute(sql, params)
        try:
            return len(cur.fetchall())
        finally:
            cur.close()

    def counters_reason(self) -> str | None:
        if self._reason is False:
            self._reason = stmt_counters_available(self.conn)
        return self._reason  # type: ignore[return-value]

    def _stmt(self, sql: str) -> dict[str, int] | None:
        rows = self.conn.execute(
            "SELECT nscan, nsort, naidx, nstep, run FROM sqlite_stmt WHERE sql = ?", (sql,)).fetchall()
        if not rows:
            return None
        names = ("nscan", "nsort", "naidx", "nstep", "run")
        return {name: sum(int(r[k] or 0) for r in rows) for k, name in enumerate(names)}

    def run_counted(self, sql: str, params: Any) -> tuple[int, int, dict[str, int] | None]:
        reason = self.counters_reason()
        before = self._stmt(sql) if reason is None else None
        steps = _Steps()
        self.conn.set_progress_handler(steps, 1)
        try:
            rows = self.run(sql, params)
        finally:
            self.conn.set_progress_handler(None, 1)
        if before is None:
            return rows, steps.count, None
        after = self._stmt(sql)
        if after is None or after["run"] - before["run"] != 1:
            return rows, steps.count, None  # the statement was not reused from the cache
        return rows, steps.count, {k: after[k] - before[k] for k in ("nscan", "nsort", "naidx", "nstep")}


class ApswBackend:
    """``apsw.Connection``: progress handler plus ``trace_v2`` profile events."""

    def __init__(self, conn: Any) -> None:
        import apsw  # noqa: PLC0415 - optional dependency

        self.apsw = apsw
        self.conn = conn

    def version(self) -> str:
        return str(self.apsw.sqlite_lib_version())

    def begin(self) -> None:
        if self.conn.getautocommit():
            self.conn.execute("BEGIN")

    def rollback(self) -> None:
        if not self.conn.getautocommit():
            self.conn.execute("ROLLBACK")

    def run(self, sql: str, params: Any) -> int:
        return sum(1 for _row in self.conn.cursor().execute(sql, params))

    def counters_reason(self) -> str | None:
        if not hasattr(self.conn, "trace_v2") or not hasattr(self.apsw, "SQLITE_TRACE_PROFILE"):
            return f"{UNAVAILABLE}: this APSW ({self.apsw.apsw_version()}) has no trace_v2"
        return None

    def run_counted(self, sql: str, params: Any) -> tuple[int, int, dict[str, int] | None]:
        events: list[dict[str, Any]] = []
        tracing = self.counters_reason() is None
        key = object()
        if tracing:
            self.conn.trace_v2(self.apsw.SQLITE_TRACE_PROFILE, events.append, id=key)
        steps = _Steps()
        self.conn.set_progress_handler(steps, 1)
        try:
            rows = self.run(sql, params)
        finally:
            self.conn.set_progress_handler(None, 1)
            if tracing:
                self.conn.trace_v2(0, None, id=key)
        mine = [e for e in events if not e.get("trigger") and e.get("sql") == sql and "stmt_status" in e]
        if not mine:
            return rows, steps.count, None
        status = mine[-1]["stmt_status"]
        return rows, steps.count, {
            "nscan": int(status.get("SQLITE_STMTSTATUS_FULLSCAN_STEP", 0)),
            "nsort": int(status.get("SQLITE_STMTSTATUS_SORT", 0)),
            "naidx": int(status.get("SQLITE_STMTSTATUS_AUTOINDEX", 0)),
            "nstep": int(status.get("SQLITE_STMTSTATUS_VM_STEP", 0)),
        }


def backend_for(conn: Any) -> Backend:
    if isinstance(conn, sqlite3.Connection):
        return StdlibBackend(conn)
    if type(conn).__module__.split(".")[0] == "apsw":
        return ApswBackend(conn)
    raise TypeError(f"cannot measure on a {type(conn).__name__}: expected sqlite3.Connection or apsw.Connection")


def stmt_counters_available(conn: sqlite3.Connection) -> str | None:
    """``None`` when ``sqlite_stmt`` can be read on ``conn``; otherwise why not."""
    try:
        options = _compile_options(conn.execute("PRAGMA compile_options").fetchall())
    except sqlite3.Error:
        options = set()
    try:
        conn.execute("SELECT nscan, nsort, naidx, nstep, run FROM sqlite_stmt LIMIT 0").fetchall()
    except sqlite3.Error as exc:
        built = "built without SQLITE_ENABLE_STMTVTAB" if "ENABLE_STMTVTAB" not in options else f"error: {exc}"
        return f"{UNAVAILABLE}: SQLite {sqlite3.sqlite_version} has no sqlite_stmt virtual table ({built})"
    return None


def measure(conn: Any, sql: str, params: Sequence[Any] | dict[str, Any] = (), *,
            backend: Backend | None = None) -> Cost:
    """Run ``sql`` twice (prepare, then measure), each inside a rolled-back transaction.

    ``conn`` must not be inside a transaction of its own (stdlib: ``isolation_level=None``
    is simplest). Raises what SQLite raises for a statement that fails.
    """
    chosen = backend or backend_for(conn)
    for counted in (False, True):
        chosen.begin()
        try:
            if counted:
                rows, steps, counters = chosen.run_counted(sql, params)
            else:
                chosen.run(sql, params)
        finally:
            chosen.rollback()
    reason = chosen.counters_reason()
    label = "sqlite_stmt" if isinstance(chosen, StdlibBackend) else "apsw trace_v2"
    if counters is None:
        why = reason or f"{UNAVAILABLE}: the statement's counters could not be read back"
        return Cost(steps, None, None, None, rows, why, chosen.version())
    return Cost(steps, counters["nscan"], counters["nsort"], counters["naidx"], rows, label, chosen.version(),
                counters["nstep"])


def measure_with(connect: Callable[[], Any], sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Cost:
    """:func:`measure` on a new connection from ``connect()``, closed afterwards."""
    conn = connect()
    try:
        return measure(conn, sql, params)
    finally:
        conn.close()
