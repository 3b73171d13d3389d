"""Killing an in-process (Python) engine at a chosen point, as a crash would.

Uncommitted work rolls back, so the durable states a crash can leave are exactly the states
right after each transaction ends. The operation runs in a forked child whose
``sqlite3.connect`` hands out connections that count those points (a statement after which
the connection is no longer in a transaction) and ``os._exit`` right after the Nth: no
rollback, no close, no atexit, as in a real crash. Sweeping N over every point is exhaustive
for transaction atomicity; a VM-step point (``at_step``) kills mid-statement instead.
"""

from __future__ import annotations

import os
import sqlite3
import struct
from dataclasses import dataclass
from typing import Any, Callable

CRASH_STATUS = 75  # the child's exit status when it was "killed" at the chosen point
_COUNT = struct.Struct(">ii")  # (points seen, steps seen // 1000)


@dataclass(frozen=True)
class CrashRun:
    crashed: bool  # the chosen point was reached and the child died there
    points: int  # transaction ends seen (before the crash, or in total)
    ok: bool  # the operation itself returned without raising (when not crashed)
    error: str = ""


class _Counter:
    def __init__(self, crash_after: int | None, at_step: int | None) -> None:
        self.crash_after = crash_after
        self.at_step = at_step
        self.points = 0
        self.steps = 0

    def boundary(self, conn: sqlite3.Connection) -> None:
        if not conn.in_transaction:
            self.points += 1
            if self.crash_after is not None and self.points >= self.crash_after:
                os._exit(CRASH_STATUS)

    def step(self) -> int:
        self.steps += 1
        if self.at_step is not None and self.steps >= self.at_step:
            os._exit(CRASH_STATUS)
        return 0


def _connection_class(counter: _Counter) -> type[sqlite3.Connection]:
    class Counting(sqlite3.Connection):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            if counter.at_step is not None:
                self.set_progress_handler(counter.step, 1)

        def execute(self, *args: Any, **kwargs: Any) -> sqlite3.Cursor:
            cursor = super().execute(*args, **kwargs)
            counter.boundary(self)
            return cursor

        def executemany(self, *args: Any, **kwargs: Any) -> sqlite3.Cursor:
            cursor = super().executemany(*args, **kwargs)
            counter.boundary(self)
            return cursor

        def executescript(self, *args: Any, **kwargs: Any) -> sqlite3.Cursor:
            cursor = super().executescript(*args, **kwargs)
            counter.boundary(self)
            return cursor

        def commit(self) -> None:
            super().commit()
            counter.boundary(self)

        def cursor(self, *args: Any, **kwargs: Any) -> sqlite3.Cursor:  # type: ignore[override]
            conn = self

            class CountingCursor(sqlite3.Cursor):
                def execute(self, *a: Any, **k: Any) -> sqlite3.Cursor:
                    result = super().execute(*a, **k)
                    counter.boundary(conn)
                    return result

                def executemany(self, *a: Any, **k: Any) -> sqlite3.Cursor:
                    result = super().executemany(*a, **k)
                    counter.boundary(conn)
                    return result

            return super().cursor(CountingCursor)

    return Counting


def run_with_crash(operation: Callable[[], None], *, crash_after: int | None = None,
                   at_step: int | None = None) -> CrashRun:
    """Run ``operation`` in a forked child, killed right after transaction end ``crash_after``
    (1-based) or at VM step ``at_step``; with neither, count the points of a whole run."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_end)
        counter = _Counter(crash_after, at_step)
        original = sqlite3.connect
        klass = _connection_class(counter)

        def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
            kwargs.setdefault("factory", klass)
            return original(*args, **kwargs)

        sqlite3.connect = connect  # type: ignore[assignment]
        status = 0
        try:
            operation()
        except BaseException:  # noqa: BLE001 - reported as "operation failed", the parent judges
            status = 1
        os.write(write_end, _COUNT.pack(counter.points, counter.steps // 1000))
        os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    _, wait_status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(wait_status)
    if code == CRASH_STATUS:
        return CrashRun(crashed=True, points=crash_after or 0, ok=False)
    points = _COUNT.unpack(data)[0] if len(data) == _COUNT.size else 0
    return CrashRun(crashed=False, points=points, ok=code == 0, error="" if code == 0 else f"exit status {code}")
