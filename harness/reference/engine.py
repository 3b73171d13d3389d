"""ReferenceEngine: the correct SQLite data layer the harness gates by default."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property, partial
from pathlib import Path

from harness.engines.protocol import Diagnostics, Migration
from harness.reference import connection, diagnostics, migrator, recovery, snapshots
from harness.reference.connection import Posture
from harness.reference.errors import (
    DB_CANTOPEN,
    DB_ORPHANED_SIDECARS,
    DB_RECOVERY_NO_SNAPSHOT,
    MIGRATION_SCHEMA_MISMATCH,
    MIGRATION_TARGET_INVALID,
    SNAPSHOT_VERIFY_FAILED,
    StorageError,
    sqlite_errors,
)

#: File-name timestamps: fixed width, so names sort by age; microseconds, so they rarely tie.
STAMP_FORMAT = "%Y%m%dT%H%M%S%fZ"


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class MigrationPlan:
    """What ``migrate`` will do, decided from a read-only look before anything is written."""

    baseline: tuple[Migration, ...]  # already in a legacy schema: to be recorded, not run
    pending: tuple[Migration, ...]
    has_data: bool  # an existing file with at least one table: snapshot first
    legacy_fingerprint: migrator.Fingerprint | None  # set exactly when there is a baseline


class ReferenceEngine:
    """The native Python engine contract: ``migrations``, ``migrate``, ``open``, ``diagnostics``,
    ``connect`` (and ``posture``); failures raise ``StorageError`` with a deterministic code.

    Every step is a small method so that a test can subclass and break exactly one:

    - ``apply_posture(conn)``: set WAL, synchronous=NORMAL, foreign_keys, busy_timeout
      (``connect`` then reads each back, so skipping one is caught as ``db_posture_mismatch``).
    - ``validate_history(conn_ro)``: continuity of ``schema_migrations`` on a read-only
      connection; returns the applied version or raises (gap, order, unknown, checksum).
    - ``apply_migration(conn, migration)``: the migration and its history row, one transaction.
    - ``record_history(conn, migration)``: the history INSERT (also used for a legacy baseline).
    - ``take_snapshot(db) -> Path``: online-backup copy into ``<data_dir>/backups/``.
    - ``verify_snapshot(path) -> bool``: integrity_check ok, foreign_key_check clean, not empty.
    - ``prune_snapshots(data_dir)``: keep the newest ``snapshot_retention`` valid snapshots.
    - ``is_corrupt(db) -> bool``: quick_check, re-checked once on a fresh connection.
    - ``quarantine_dir(db) -> Path``: a new, never reused directory under ``<data_dir>/corrupted/``.
    - ``quarantine(db) -> Path``: move the database and its sidecars together into it.
    - ``restore(snapshot, db)``: backup API into a temp file, verify, atomic rename.

    ``busy_timeout_ms`` below 2000 fails the harness's posture gate; it exists so tests can
    make lock waits short. ``clock`` must return aware datetimes (tests pin it to force
    name collisions).
    """

    name = "reference"

    def __init__(
        self,
        *,
        snapshot_retention: int = 5,
        busy_timeout_ms: int = 5000,
        backups_dirname: str = "backups",
        corrupted_dirname: str = "corrupted",
        migrations_dir: Path | str | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if snapshot_retention < 1:
            raise ValueError("snapshot_retention must be at least 1")
        if busy_timeout_ms < 0:
            raise ValueError("busy_timeout_ms must not be negative")
        self.snapshot_retention = snapshot_retention
        self.posture_spec = Posture(busy_timeout_ms)
        self.backups_dirname = backups_dirname
        self.corrupted_dirname = corrupted_dirname
        self.migrations_dir = Path(migrations_dir) if migrations_dir else migrator.DEFAULT_DIRECTORY
        self.clock = clock

    # --- public contract -----------------------------------------------------------------

    def migrations(self) -> tuple[Migration, ...]:
        return self._migrations

    def connect(self, db: Path) -> sqlite3.Connection:
        """The application's connection (autocommit: transactions are explicit), posture proven."""
        with sqlite_errors(f"connect {db.name}"):
            conn = connection.open_autocommit(db)
            try:
                self.apply_posture(conn)
                connection.verify_posture(conn, self.posture_spec)
            except BaseException:
                conn.close()
                raise
        return conn

    def posture(self, db: Path) -> dict[str, str | int]:
        """The pragma values read back from ``connect(db)``."""
        with closing(self.connect(db)) as conn, sqlite_errors("read posture"):
            return connection.read_posture(conn)

    def migrate(self, db: Path, target: int | None = None) -> None:
        """Apply pending migrations up to ``target`` (inclusive) or head.

        Everything is judged on a read-only look first: an invalid history or unknown
        legacy schema leaves the file byte-identical, and nothing pending writes nothing.
        """
        plan = self._plan(db, self._resolve_target(target))
        if not plan.baseline and not plan.pending:
            return
        if plan.has_data:
            self._snapshot(db)
        with closing(self.connect(db)) as conn:
            if plan.legacy_fingerprint is not None:
                migrator.baseline(conn, plan.baseline, self.record_history, plan.legacy_fingerprint)
            for migration in plan.pending:
                self.apply_migration(conn, migration)

    def open(self, db: Path) -> None:
        """Startup: create, or check; on corruption quarantine and restore. Never migrates."""
        if db.exists() and not db.is_file():  # a directory or device where the file should be
            raise StorageError(DB_CANTOPEN, f"{db.name} exists but is not a regular file; left as it is")
        if not db.exists() and not connection.existing_sidecars(db):
            # A crash between quarantine and restore leaves no database but valid snapshots:
            # finish the recovery rather than start an empty database over the user's data.
            if not self._restore_newest(db):
                self._establish(db)  # a new install
            return
        evidence = recovery.keep_hot_journal(db)  # SQLite's rollback consumes the journal
        try:
            healthy = db.exists() and not self.is_corrupt(db)
        except StorageError:  # busy, read-only, I/O: nothing is judged, nothing is kept
            recovery.discard_evidence(evidence)
            raise
        if healthy:
            if not (recovery.holds_no_tables(db) and self._has_valid_snapshot(db)):
                recovery.discard_evidence(evidence)
                return
            # an empty database where snapshots of real data exist: the data was lost (a
            # truncated file, a reset by another program); restore rather than carry on
        lost_database = db.exists()  # else only sidecars were left: quarantine them too
        quarantined = self.quarantine(db)
        recovery.file_evidence(evidence, quarantined)
        if self._restore_newest(db):
            return
        if lost_database:
            raise StorageError(
                DB_RECOVERY_NO_SNAPSHOT,
                f"{db.name} is corrupt and no valid snapshot exists; "
                f"quarantined in {quarantined.parent.name}/{quarantined.name}",
            )
        self._establish(db)

    def diagnostics(self, db: Path) -> Diagnostics:
        """The self-report, read-only; continuity also judges a history-less (legacy) schema."""
        return diagnostics.collect(
            db, self._migrations, lambda conn: self._inspect(conn)[0], self.posture_spec.busy_timeout_ms
        )

    # --- overridable steps ---------------------------------------------------------------

    def apply_posture(self, conn: sqlite3.Connection) -> None:
        connection.apply_posture(conn, self.posture_spec)

    def validate_history(self, conn_ro: sqlite3.Connection) -> int:
        return migrator.check_continuity(migrator.read_history(conn_ro), self._migrations)

    def apply_migration(self, conn: sqlite3.Connection, migration: Migration) -> None:
        migrator.apply(conn, migration, self.record_history)

    def record_history(self, conn: sqlite3.Connection, migration: Migration) -> None:
        applied_at = self._now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # RFC 3339, sorts as text
        migrator.insert_history(conn, migration, applied_at)

    def take_snapshot(self, db: Path) -> Path:
        with sqlite_errors(f"snapshot {db.name}"):
            return snapshots.create(
                db, self._backups(db), self._stamp(), self.posture_spec.busy_timeout_ms
            )

    def verify_snapshot(self, path: Path) -> bool:
        return snapshots.verify(path)

    def prune_snapshots(self, data_dir: Path) -> None:
        snapshots.prune(data_dir / self.backups_dirname, self.snapshot_retention, self.verify_snapshot)

    def is_corrupt(self, db: Path) -> bool:
        # A transient read error (EIO) also reports SQLITE_CORRUPT: only a second look on a
        # fresh connection that agrees makes it corruption. The look uses a bare connection:
        # the application's posture would switch the journal mode, writing to the very file
        # that may have to be quarantined byte-identical.
        check = partial(recovery.looks_corrupt, db,
                        partial(connection.open_plain, db, self.posture_spec.busy_timeout_ms))
        return check() and check()

    def quarantine_dir(self, db: Path) -> Path:
        return recovery.make_quarantine_dir(db.parent / self.corrupted_dirname, db.stem, self._stamp())

    def quarantine(self, db: Path) -> Path:
        into = self.quarantine_dir(db)
        recovery.move_together(db, into)
        return into

    def restore(self, snapshot: Path, db: Path) -> None:
        with sqlite_errors(f"restore {snapshot.name}"):
            recovery.restore(snapshot, db)

    # --- internals -----------------------------------------------------------------------

    @cached_property
    def _migrations(self) -> tuple[Migration, ...]:
        return migrator.load(self.migrations_dir)

    @cached_property
    def _fingerprints(self) -> tuple[migrator.Fingerprint, ...]:
        return migrator.schema_fingerprints(self._migrations)

    def _now(self) -> datetime:
        return self.clock().astimezone(timezone.utc)

    def _stamp(self) -> str:
        return self._now().strftime(STAMP_FORMAT)

    def _backups(self, db: Path) -> Path:
        return db.parent / self.backups_dirname

    def _resolve_target(self, target: int | None) -> int:
        head = len(self._migrations)
        if target is None:
            return head
        if not 1 <= target <= head:
            raise StorageError(MIGRATION_TARGET_INVALID, f"target {target} is not a version 1..{head}")
        return target

    def _plan(self, db: Path, target: int) -> MigrationPlan:
        if not db.exists():
            if connection.existing_sidecars(db):  # connecting would silently discard them
                raise StorageError(
                    DB_ORPHANED_SIDECARS, f"{db.name} is missing but its sidecars exist; open it first"
                )
            return MigrationPlan((), self._migrations[:target], False, None)
        with sqlite_errors(f"inspect {db.name}"), closing(
            connection.connect_readonly(db, self.posture_spec.busy_timeout_ms)
        ) as conn:
            applied, legacy_fingerprint = self._inspect(conn)
            has_data = conn.execute("SELECT 1 FROM sqlite_schema WHERE type = 'table'").fetchone() is not None
        if target < applied:
            raise StorageError(
                MIGRATION_TARGET_INVALID, f"{db.name} is at version {applied}, past target {target}"
            )
        baseline = self._migrations[:applied] if legacy_fingerprint is not None else ()
        return MigrationPlan(baseline, self._migrations[applied:target], has_data, legacy_fingerprint)

    def _inspect(self, conn_ro: sqlite3.Connection) -> tuple[int, migrator.Fingerprint | None]:
        """The applied version: from the history, else recognised from a legacy schema
        (then also that schema's fingerprint, for the baseline to re-check)."""
        applied = self.validate_history(conn_ro)
        if applied:
            if migrator.fingerprint(conn_ro) != self._fingerprints[applied]:
                raise StorageError(
                    MIGRATION_SCHEMA_MISMATCH,
                    f"the history records {applied} migrations but the schema is not what they leave "
                    "(half-applied, or edited by hand); left untouched",
                )
            return applied, None
        current = migrator.fingerprint(conn_ro)
        applied = migrator.recognise(current, self._fingerprints)
        return applied, current if applied else None

    def _snapshot(self, db: Path) -> None:
        path = self.take_snapshot(db)
        if not self.verify_snapshot(path):
            aside = snapshots.set_aside(path)
            raise StorageError(
                SNAPSHOT_VERIFY_FAILED,
                f"snapshot of {db.name} failed verification, kept as {aside.name}; nothing migrated",
            )
        self.prune_snapshots(db.parent)

    def _has_valid_snapshot(self, db: Path) -> bool:
        return any(self.verify_snapshot(c) for c in snapshots.of_database(self._backups(db), db))

    def _restore_newest(self, db: Path) -> Path | None:
        for candidate in snapshots.of_database(self._backups(db), db):
            if self.verify_snapshot(candidate):
                self.restore(candidate, db)
                self._establish(db)
                return candidate
        return None

    def _establish(self, db: Path) -> None:
        """Open with the application's posture and close: creates a new file, or sets WAL
        on a restored one, so the next connection finds the file as the app leaves it."""
        self.connect(db).close()
