"""Broken variants of the reference engine for the migration matrix: each has one bug a matrix check exists for.

Most carry migrations after the reference's seven (so every legacy fixture's history,
versions up to 7, stays a valid prefix and only the targeted check has something to see).
``migrations_with`` builds that set once, at import time, in a temporary directory: copies
of ``harness/reference/migrations/*.sql`` plus fixed extra files, so checksums are stable
for as long as the process lives (the fault checks fork: children see the same files).

The bug for ``crash-safe`` (a history row committed separately) is
``broken_engines.HistoryCommittedSeparately``.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import sqlite3
import tempfile
from contextlib import closing
from pathlib import Path

from harness.engines.protocol import Migration
from harness.reference import ReferenceEngine
from harness.reference import migrator


def migrations_with(extra: dict[str, str | bytes], *, prefix: str = "broken-migrations-") -> Path:
    """A new directory: the reference's migrations plus ``extra`` (file name -> exact contents)."""
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    for path in sorted(migrator.DEFAULT_DIRECTORY.glob("*.sql")):
        shutil.copyfile(path, directory / path.name)
    for name, text in extra.items():
        (directory / name).write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    owner = os.getpid()  # forked children (fault injection) must not remove the parent's files
    atexit.register(lambda: os.getpid() == owner and shutil.rmtree(directory, ignore_errors=True))
    return directory


HEAD = len(migrator.load(migrator.DEFAULT_DIRECTORY))

# --- data-preserved ------------------------------------------------------------------------

DROPS_TRANSCRIPTS = migrations_with({"0008_runs_without_transcript.sql": """\
-- reference: foreign_keys=off
-- Transcripts moved to files: rebuild runs without the column (its data goes with it).
CREATE TABLE runs_new (
    id TEXT PRIMARY KEY NOT NULL,
    project_id TEXT NOT NULL
        REFERENCES talk_projects (id) ON DELETE CASCADE ON UPDATE CASCADE,
    audio_path TEXT,
    duration_ms INTEGER,
    feedback_id TEXT
        REFERENCES auto_feedback (id) ON DELETE SET NULL ON UPDATE CASCADE,
    created_at TEXT NOT NULL
);
INSERT INTO runs_new (id, project_id, audio_path, duration_ms, feedback_id, created_at)
SELECT id, project_id, audio_path, duration_ms, feedback_id, created_at FROM runs;
DROP TABLE runs;
ALTER TABLE runs_new RENAME TO runs;
CREATE INDEX idx_runs_project_created ON runs (project_id, created_at);
CREATE INDEX idx_runs_feedback ON runs (feedback_id);
"""})


class DropsColumnData(ReferenceEngine):
    """Ships a migration that drops a column's data: 0008 rebuilds runs without transcript.

    A fresh install does the same, so the schemas converge: only data preservation sees it.
    """

    def __init__(self, **options: object) -> None:
        super().__init__(migrations_dir=DROPS_TRANSCRIPTS, **options)  # type: ignore[arg-type]


# --- schema-converges ----------------------------------------------------------------------

FORGOTTEN_INDEX = "idx_runs_created"


class ForgetsIndexOnUpgrade(ReferenceEngine):
    """An engine that forgets an index on the upgrade path only: fresh installs are made from a
    head schema dump that has idx_runs_created, which no migration creates, so upgraded
    databases lack it (the index named in the schema diff)."""

    def migrate(self, db: Path, target: int | None = None) -> None:
        new_install = not db.exists()
        super().migrate(db, target)
        if new_install and target in (None, HEAD):
            with closing(self.connect(db)) as conn:
                conn.execute(f"CREATE INDEX {FORGOTTEN_INDEX} ON runs (created_at)")


# --- path-equivalent -----------------------------------------------------------------------

RELIES_ON_CONNECTION = migrations_with({
    "0008_case_sensitive_like.sql": """\
-- Outline search must tell 'Intro' from 'intro'.
PRAGMA case_sensitive_like = ON;
""",
    "0009_record_like_mode.sql": """\
-- Remember how LIKE compares, for the search screen.
INSERT OR REPLACE INTO settings (key, value)
SELECT 'like_mode', CASE WHEN 'a' LIKE 'A' THEN 'insensitive' ELSE 'sensitive' END;
""",
})


class ConnectionSettingAcrossMigrations(ReferenceEngine):
    """Has a connection-level setting one migration relies on but another sets: 0008 turns
    case_sensitive_like on (connection state, not the database's), 0009 records what LIKE does.
    One run on one connection records 'sensitive'; a new connection per step 'insensitive'."""

    def __init__(self, **options: object) -> None:
        super().__init__(migrations_dir=RELIES_ON_CONNECTION, **options)  # type: ignore[arg-type]


# --- idempotent ----------------------------------------------------------------------------


class StampsEveryMigrate(ReferenceEngine):
    """An engine that is not idempotent: every migrate, even with nothing pending, stores
    'last_migrated' in settings."""

    def migrate(self, db: Path, target: int | None = None) -> None:
        super().migrate(db, target)
        with closing(self.connect(db)) as conn:
            if conn.execute("SELECT 1 FROM sqlite_schema WHERE name = 'settings'").fetchone():
                conn.execute("INSERT OR REPLACE INTO settings (key, value) VALUES ('last_migrated', ?)",
                             (self._now().strftime("%Y-%m-%dT%H:%M:%S.%fZ"),))


# --- integrity -----------------------------------------------------------------------------

LEAVES_ORPHAN = migrations_with({"0008_demo_run.sql": """\
-- reference: foreign_keys=off
-- A demo run for the onboarding screen; its project is created by the app on first start.
INSERT OR IGNORE INTO runs (id, project_id, audio_path, duration_ms, transcript, feedback_id, created_at)
VALUES ('demo-run', 'demo-project', NULL, 0, NULL, NULL, '2026-01-01T00:00:00Z');
"""})


class SkipsForeignKeyCheck(ReferenceEngine):
    """An engine that leaves a foreign-key violation: it runs a foreign_keys=off migration (0008
    inserts a run whose project does not exist) without the foreign_key_check before COMMIT."""

    def __init__(self, **options: object) -> None:
        super().__init__(migrations_dir=LEAVES_ORPHAN, **options)  # type: ignore[arg-type]

    def apply_migration(self, conn: sqlite3.Connection, migration: Migration) -> None:
        keys_off = migrator.needs_foreign_keys_off(migration)
        if keys_off:
            migrator.set_foreign_keys(conn, False)
        try:
            with migrator.transaction(conn, migrator.label(migration)):
                conn.execute(migrator.HISTORY_DDL)
                for statement in migrator.split_statements(migration):
                    conn.execute(statement).fetchall()
                # the bug: no PRAGMA foreign_key_check here
                conn.execute(f"PRAGMA user_version = {migration.version}")
                self.record_history(conn, migration)
        finally:
            if keys_off:
                migrator.set_foreign_keys(conn, True)


# --- history-continuous --------------------------------------------------------------------

CRLF_MIGRATION = migrations_with({"0008_runs_created_index.sql": (
    b"-- Saved on Windows: CRLF line endings.\r\n"
    b"CREATE INDEX idx_runs_created ON runs (created_at);\r\n"
)})


class NormalisedChecksum(ReferenceEngine):
    """An engine that records a wrong checksum for one migration: it hashes the text with line endings
    normalised (as a text-mode read does), so the one CRLF file (0008) gets another checksum
    than the bytes the engine ships and validates against."""

    def __init__(self, **options: object) -> None:
        super().__init__(migrations_dir=CRLF_MIGRATION, **options)  # type: ignore[arg-type]

    def record_history(self, conn: sqlite3.Connection, migration: Migration) -> None:
        text = (migration.sql or "").replace("\r\n", "\n")
        conn.execute(
            "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)",
            (migration.version, migration.name, hashlib.sha256(text.encode("utf-8")).hexdigest(),
             self._now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")),
        )


# --- atomic-on-failure ---------------------------------------------------------------------


class AutocommitStatements(ReferenceEngine):
    """An engine that applies each statement in autocommit (no transaction) and records the
    history after: a failure (an interrupt) part-way leaves half a migration."""

    def apply_migration(self, conn: sqlite3.Connection, migration: Migration) -> None:
        keys_off = migrator.needs_foreign_keys_off(migration)
        if keys_off:
            migrator.set_foreign_keys(conn, False)
        try:
            conn.execute(migrator.HISTORY_DDL)
            for statement in migrator.split_statements(migration):
                conn.execute(statement).fetchall()
            conn.execute(f"PRAGMA user_version = {migration.version}")
        finally:
            if keys_off:
                migrator.set_foreign_keys(conn, True)
        with migrator.transaction(conn, "history"):
            self.record_history(conn, migration)


class AnalyzesEveryMigrate(ReferenceEngine):
    """An engine that writes on every migrate without changing what a query sees: it runs
    ANALYZE even with nothing pending (sqlite_stat1 is rewritten). The logical state stays
    equal; the file's bytes do not."""

    def migrate(self, db: Path, target: int | None = None) -> None:
        super().migrate(db, target)
        with closing(self.connect(db)) as conn:
            conn.execute("ANALYZE")
            conn.execute("INSERT OR REPLACE INTO sqlite_stat1 (tbl, idx, stat) VALUES ('runs', NULL, ?)",
                         (str(self._now().timestamp()),))
