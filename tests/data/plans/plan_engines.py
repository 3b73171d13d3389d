"""Reference engine variants, each with the one index regression a plans check exists for.

Each is the correct ``ReferenceEngine`` plus one small change: a copy of its migrations with
an extra migration that drops, renames or adds an index, or an upgrade path that loses one.
The plan tests gate each and expect exactly the named cases to go red.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from pathlib import Path

from harness.engines.protocol import Migration
from harness.reference import ReferenceEngine, migrator

_made: dict[str, Path] = {}


def with_extra_migration(name: str, sql: str) -> Path:
    """A copy of the reference migrations plus ``0008_<name>.sql`` (made once per process)."""
    if name not in _made:
        directory = Path(tempfile.mkdtemp(prefix=f"plans-engine-{name}-"))
        for path in sorted(migrator.DEFAULT_DIRECTORY.glob("*.sql")):
            shutil.copyfile(path, directory / path.name)
        (directory / f"0008_{name}.sql").write_text(sql, encoding="utf-8")
        _made[name] = directory
    return _made[name]


class DropsRunsIndex(ReferenceEngine):
    """A later migration drops the index behind a talk's run list."""

    def __init__(self, **kw: object) -> None:
        super().__init__(migrations_dir=with_extra_migration(
            "drop_runs_index", "DROP INDEX idx_runs_project_created;\n"), **kw)  # type: ignore[arg-type]


class RenamesRunsIndex(ReferenceEngine):
    """Rebuilds the index under a name that contains the old one (substring matching would pass)."""

    def __init__(self, **kw: object) -> None:
        super().__init__(migrations_dir=with_extra_migration(
            "rename_runs_index",
            "DROP INDEX idx_runs_project_created;\n"
            "CREATE INDEX idx_runs_project_created_old ON runs (project_id, created_at);\n"), **kw)  # type: ignore


class DropsNotesRunIndex(ReferenceEngine):
    """Drops the index of feedback_notes.run_id, a foreign key column."""

    def __init__(self, **kw: object) -> None:
        super().__init__(migrations_dir=with_extra_migration(
            "drop_notes_run_index", "DROP INDEX idx_feedback_notes_run;\n"), **kw)  # type: ignore[arg-type]


class AddsRedundantIndex(ReferenceEngine):
    """Adds an index that is a leading prefix of idx_runs_project_created."""

    def __init__(self, **kw: object) -> None:
        super().__init__(migrations_dir=with_extra_migration(
            "redundant_runs_index", "CREATE INDEX idx_runs_project ON runs (project_id);\n"), **kw)  # type: ignore


class LosesIndexUpgradingFromV5(ReferenceEngine):
    """Upgrading a database at version 5, 0007 forgets to recreate idx_runs_project_created.

    Fresh installs and every other starting version get the index: only the upgrade path
    from v5 lacks it.
    """

    def migrate(self, db: Path, target: int | None = None) -> None:
        self._start = _recorded_version(db)
        super().migrate(db, target)

    def apply_migration(self, conn: sqlite3.Connection, migration: Migration) -> None:
        super().apply_migration(conn, migration)
        if migration.version == 7 and getattr(self, "_start", 0) == 5:
            conn.execute("DROP INDEX IF EXISTS idx_runs_project_created")


def _recorded_version(db: Path) -> int:
    if not db.exists():
        return 0
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        has = conn.execute("SELECT 1 FROM sqlite_schema WHERE name = 'schema_migrations'").fetchone()
        return int(conn.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] or 0) if has else 0
    finally:
        conn.close()
