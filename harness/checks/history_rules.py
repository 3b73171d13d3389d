"""Judging a history table, read from the file, against the migrations an engine ships."""

from __future__ import annotations

from typing import Sequence

from harness.engines.protocol import Migration
from harness.sqlite.history import History


def history_problems(history: History, migrations: Sequence[Migration], *, complete: bool) -> list[str]:
    """Every way ``history`` is not a gap-free, in-order, unaltered prefix of ``migrations``.

    With ``complete`` the prefix must be all of them (the database is at head).
    """
    problems: list[str] = []
    known = {m.version: m for m in migrations}
    order = [m.version for m in migrations]
    rows = history.rows
    for row in rows:
        if not row.success:
            problems.append(f"version {row.version} is recorded as failed / dirty")
        if row.version not in known:
            problems.append(f"version {row.version} is not a migration the engine knows")
    seen = list(history.applied(order))
    if len(set(seen)) != len(seen):
        dupes = sorted({v for v in seen if seen.count(v) > 1})
        problems.append(f"versions recorded more than once: {dupes}")
    if seen != sorted(seen):
        problems.append(f"history rows are out of order: {seen}")
    expected_prefix = order[: len(seen)]
    if sorted(seen) != expected_prefix and not problems:
        missing = sorted(set(expected_prefix) - set(seen))
        problems.append(f"gap in history: recorded {seen}, missing {missing}")
    if complete and len(seen) < len(order):
        problems.append(f"history ends at {seen[-1] if seen else 'nothing'}, head is {order[-1] if order else '-'}"
                        f" ({len(seen)} of {len(order)} migrations recorded)")
    for row in rows:
        migration = known.get(row.version)
        if migration and row.checksum and migration.checksum and row.checksum != migration.checksum:
            problems.append(f"version {row.version} checksum {row.checksum[:16]}… differs from the "
                            f"engine's {migration.checksum[:16]}…")
        if migration and row.name and migration.name and row.name != migration.name:
            problems.append(f"version {row.version} is recorded as '{row.name}', the engine calls it '{migration.name}'")
    return problems
