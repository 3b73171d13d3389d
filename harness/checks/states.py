"""Logical database states: what "equal to the state after k migrations" means.

A state is the schema (every object's SQL), the content of every table except the history
table, the history's (version, name, checksum) rows and ``user_version``. Timestamps in the
history differ between runs and are left out; everything a user or the next migration
could notice is in. An empty history table is no step: tools such as dbmate and alembic
create theirs before the first migration's transaction, so a failure there leaves it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from harness.engines.formats import HistorySpec, read_history
from harness.sqlite import inspect


@dataclass(frozen=True)
class State:
    readable: bool
    error: str | None
    schema: tuple[tuple[str, str, str], ...]  # (type, name, sql)
    content: tuple[tuple[str, int, str], ...]  # (table, rows, sha256)
    history: tuple[tuple[int, str | None, str | None], ...]
    user_version: int | None

    def describe(self) -> str:
        if not self.readable:
            return f"unreadable ({self.error})"
        versions = [v for v, _, _ in self.history]
        return f"history {versions or '[]'}, {len(self.schema)} schema objects, user_version {self.user_version}"


def state_of(db: Path, history_format: HistorySpec = None, volatile: inspect.Window | None = None) -> State:
    """The logical state of ``db``; with ``volatile``, values stamped "now" during it compare equal."""
    if not db.exists():
        return State(True, None, (), (), (), 0)  # a missing file and an empty one are alike
    try:
        with inspect.reading(db) as conn:
            found = read_history(conn, history_format)
            # A history table that records nothing is no state of its own: some frameworks (dbmate,
            # Drizzle, Diesel, Atlas) create it before the first migration's transaction.
            bare = found.table if found.table and not found.rows else None
            schema = tuple(sorted(
                (t, n, " ".join((s or "").split())) for t, n, owner, s in conn.execute(
                    "SELECT type, name, tbl_name, sql FROM sqlite_schema WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")
                if owner != bare))
            skip = frozenset({found.table}) if found.table else frozenset()
            content = tuple((t, c.rows, c.sha256) for t, c in sorted(inspect.content(conn, skip, volatile).items()))
            rows = tuple((r.version, r.name, r.checksum) for r in found.rows)
            return State(True, None, schema, content, rows, conn.execute("PRAGMA user_version").fetchone()[0])
    except Exception as exc:  # noqa: BLE001 - an unreadable file is a state too
        return State(False, f"{inspect.error_name(exc)}: {exc}", (), (), (), None)


def matching_step(state: State, steps: Sequence[State]) -> int | None:
    """The k for which ``state`` equals the state after k migrations, if any."""
    for k, candidate in enumerate(steps):
        if state == candidate:
            return k
    return None


def difference(state: State, nearest: State) -> list[str]:
    """Readable differences between two states, for a failure's details."""
    if not state.readable or not nearest.readable:
        return [f"{state.describe()} vs {nearest.describe()}"]
    lines = []
    if state.history != nearest.history:
        lines.append(f"history: {[v for v, _, _ in state.history]} vs {[v for v, _, _ in nearest.history]}")
    mine, theirs = {n: (t, s) for t, n, s in state.schema}, {n: (t, s) for t, n, s in nearest.schema}
    for name in sorted(set(mine) | set(theirs)):
        if name not in theirs:
            lines.append(f"schema: {mine[name][0]} {name} exists but should not")
        elif name not in mine:
            lines.append(f"schema: {theirs[name][0]} {name} is missing")
        elif mine[name] != theirs[name]:
            lines.append(f"schema: {mine[name][0]} {name} differs")
    a, b = {t: (r, h) for t, r, h in state.content}, {t: (r, h) for t, r, h in nearest.content}
    for table in sorted(set(a) & set(b)):
        if a[table] != b[table]:
            lines.append(f"content: table {table} has {a[table][0]} rows vs {b[table][0]}"
                         + ("" if a[table][0] != b[table][0] else " (values differ)"))
    if state.user_version != nearest.user_version:
        lines.append(f"user_version: {state.user_version} vs {nearest.user_version}")
    return lines


def reopened_step(db: Path, states: Sequence[State], *, history_format: HistorySpec = None,
                  volatile: tuple[float, float] | None = None) -> tuple[int | None, str]:
    """Reopen ``db`` after a crash or power cut and find which of ``states`` (the start, then
    after each migration) it equals: (k, "") or (None, what is wrong with it)."""
    checked = inspect.reopen_integrity(db)
    if checked != "ok":
        return None, f"the reopened database fails integrity_check: {checked}"
    after = state_of(db, history_format, volatile)
    step = matching_step(after, states)
    if step is None:
        nearest = min(states, key=lambda s: len(difference(after, s)))
        return None, (f"the database is no whole number of migrations ({after.describe()}); nearest legitimate "
                      "state differs: " + "; ".join(difference(after, nearest)[:3]))
    return step, ""
