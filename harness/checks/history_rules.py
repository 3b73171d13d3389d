"""Judging a history table, read from the file, against the migrations an engine ships.

Rows are matched to migrations by the version as the history table writes it (so Flyway's
"1.1" and alembic's revision ids match), and order is the engine's migration list, never
the versions' own order (text ids have none).
"""

from __future__ import annotations

from typing import Sequence

from harness.engines.formats import HistoryRow, Recorded
from harness.engines.protocol import Migration


def history_problems(history: Recorded, migrations: Sequence[Migration], *, complete: bool) -> list[str]:
    """Every way ``history`` is not a gap-free, in-order, unaltered prefix of ``migrations``.

    With ``complete`` the prefix must be all of them (the database is at head).
    """
    problems: list[str] = []
    position = history.positions(migrations)
    rows = [r for r in history.rows if not r.repeatable]
    matched: list[tuple[int, HistoryRow]] = []  # (index in the engine's list, row)
    for row in rows:
        shown = row.version if row.version is not None else row.key
        if not row.success:
            problems.append(f"version {shown} is recorded as failed / dirty")
        index = position.get(history.normalize(row.key))
        if index is None:
            problems.append(f"version {shown} is not a migration the engine knows")
        else:
            matched.append((index, row))
    indexes = [i for i, row in matched if row.success]
    if history.cumulative:
        indexes = list(range(max(indexes) + 1)) if indexes else []
    seen = [migrations[i].version for i in indexes]
    if len(set(indexes)) != len(indexes):
        dupes = [migrations[i].version for i in sorted({i for i in indexes if indexes.count(i) > 1})]
        problems.append(f"versions recorded more than once: {dupes}")
    if indexes != sorted(indexes):
        problems.append(f"history rows are out of order: {seen}")
    if sorted(set(indexes)) != list(range(len(set(indexes)))) and not problems:
        missing = [migrations[i].version for i in range(max(indexes)) if i not in set(indexes)]
        problems.append(f"gap in history: recorded {seen}, missing {missing}")
    if complete and len(set(indexes)) < len(migrations):
        problems.append(f"history ends at {seen[-1] if seen else 'nothing'}, head is "
                        f"{migrations[-1].version if migrations else '-'}"
                        f" ({len(seen)} of {len(migrations)} migrations recorded)")
    for index, row in matched:
        migration = migrations[index]
        shown = row.version if row.version is not None else row.key
        if row.checksum and migration.checksum and row.checksum != migration.checksum:
            problems.append(f"version {shown} checksum {row.checksum[:16]}… differs from the "
                            f"engine's {migration.checksum[:16]}…")
        if row.name and migration.name and row.name != migration.name:
            problems.append(f"version {shown} is recorded as '{row.name}', the engine calls it '{migration.name}'")
    return problems
