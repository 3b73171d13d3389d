"""The reference core engine: a correct SQLite data layer for the LePupitre profile database.

The harness gates it by default, and it is meant to be read as the model of a correct
engine: migrations with continuity checks and one transaction each, a proven connection
posture, verified pre-migration snapshots, and a startup path that quarantines a corrupt
database (never deleting it) and restores the newest valid snapshot.
"""

from harness.reference.engine import ReferenceEngine
from harness.reference.errors import (
    DB_BUSY,
    DB_CANTOPEN,
    DB_CORRUPT,
    DB_ERROR,
    DB_FULL,
    DB_IO_ERROR,
    DB_NOT_FOUND,
    DB_ORPHANED_SIDECARS,
    DB_POSTURE_MISMATCH,
    DB_READONLY,
    DB_RECOVERY_NO_SNAPSHOT,
    DB_RESTORE_FAILED,
    MIGRATION_CHECKSUM_MISMATCH,
    MIGRATION_FAILED,
    MIGRATION_FK_VIOLATION,
    MIGRATION_GAP,
    MIGRATION_HISTORY_INVALID,
    MIGRATION_LEGACY_UNRECOGNISED,
    MIGRATION_OUT_OF_ORDER,
    MIGRATION_SCHEMA_MISMATCH,
    MIGRATION_SET_INVALID,
    MIGRATION_TARGET_INVALID,
    MIGRATION_UNKNOWN_VERSION,
    SNAPSHOT_VERIFY_FAILED,
    StorageError,
)

__all__ = [
    "DB_BUSY",
    "DB_CANTOPEN",
    "DB_CORRUPT",
    "DB_ERROR",
    "DB_FULL",
    "DB_IO_ERROR",
    "DB_NOT_FOUND",
    "DB_ORPHANED_SIDECARS",
    "DB_POSTURE_MISMATCH",
    "DB_READONLY",
    "DB_RECOVERY_NO_SNAPSHOT",
    "DB_RESTORE_FAILED",
    "MIGRATION_CHECKSUM_MISMATCH",
    "MIGRATION_FAILED",
    "MIGRATION_FK_VIOLATION",
    "MIGRATION_GAP",
    "MIGRATION_HISTORY_INVALID",
    "MIGRATION_LEGACY_UNRECOGNISED",
    "MIGRATION_OUT_OF_ORDER",
    "MIGRATION_SCHEMA_MISMATCH",
    "MIGRATION_SET_INVALID",
    "MIGRATION_TARGET_INVALID",
    "MIGRATION_UNKNOWN_VERSION",
    "SNAPSHOT_VERIFY_FAILED",
    "ReferenceEngine",
    "StorageError",
    "engine",
]

#: The instance the harness's python adapter loads (``harness.reference:engine``).
engine = ReferenceEngine()
