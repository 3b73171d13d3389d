"""The reference engine's failure vocabulary: one exception, deterministic codes.

Callers (the harness, the CLI, the app's UI) branch on ``StorageError.code``, never on the
message, so every refusal has its own code and SQLite's own errors are mapped onto them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

MIGRATION_FAILED = "migration_failed"
MIGRATION_FK_VIOLATION = "migration_fk_violation"
MIGRATION_GAP = "migration_gap"
MIGRATION_OUT_OF_ORDER = "migration_out_of_order"
MIGRATION_UNKNOWN_VERSION = "migration_unknown_version"
MIGRATION_CHECKSUM_MISMATCH = "migration_checksum_mismatch"
MIGRATION_HISTORY_INVALID = "migration_history_invalid"
MIGRATION_LEGACY_UNRECOGNISED = "migration_legacy_unrecognised"
MIGRATION_SCHEMA_MISMATCH = "migration_schema_mismatch"  # history and schema disagree: dirty or hand-edited
MIGRATION_TARGET_INVALID = "migration_target_invalid"
MIGRATION_SET_INVALID = "migration_set_invalid"
SNAPSHOT_VERIFY_FAILED = "snapshot_verify_failed"
DB_BUSY = "db_busy"
DB_FULL = "db_full"
DB_READONLY = "db_readonly"
DB_IO_ERROR = "db_io_error"
DB_CORRUPT = "db_corrupt"
DB_CANTOPEN = "db_cantopen"
DB_ERROR = "db_error"
DB_NOT_FOUND = "db_not_found"
DB_ORPHANED_SIDECARS = "db_orphaned_sidecars"
DB_POSTURE_MISMATCH = "db_posture_mismatch"
DB_RECOVERY_NO_SNAPSHOT = "db_recovery_no_snapshot"
DB_RESTORE_FAILED = "db_restore_failed"

#: Conditions that pass: the file is fine, so they must never trigger quarantine.
TRANSIENT = frozenset({DB_BUSY, DB_FULL, DB_READONLY, DB_IO_ERROR})

# Primary result codes (the low byte of an extended code) and the code each maps to.
_BY_PRIMARY = {
    5: DB_BUSY,  # SQLITE_BUSY
    6: DB_BUSY,  # SQLITE_LOCKED
    8: DB_READONLY,
    10: DB_IO_ERROR,
    11: DB_CORRUPT,
    13: DB_FULL,
    14: DB_CANTOPEN,
    15: DB_BUSY,  # SQLITE_PROTOCOL: a locking race
    26: DB_CORRUPT,  # SQLITE_NOTADB
}
# Fallback when an exception carries no result code (older builds, some wrappers).
_BY_MESSAGE = (
    ("not a database", DB_CORRUPT),
    ("locked", DB_BUSY),
    ("disk is full", DB_FULL),
    ("readonly", DB_READONLY),
    ("read-only", DB_READONLY),
    ("disk i/o error", DB_IO_ERROR),
    ("unable to open", DB_CANTOPEN),
)


class StorageError(Exception):
    """A refusal with a deterministic ``code`` and a human ``message``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)  # args match __init__: it pickles across processes
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message  # the code travels separately (``.code``, ``error_code=``)


def classify(exc: sqlite3.Error, context: str) -> StorageError:
    """Map a SQLite exception to a StorageError; ``context`` says what was being done."""
    raw = getattr(exc, "sqlite_errorcode", None)
    primary = raw & 0xFF if isinstance(raw, int) else None
    text = str(exc).lower()
    if "malformed" in text or "unsupported file format" in text:  # the latter: a damaged header field
        code = DB_CORRUPT
    elif primary in _BY_PRIMARY:
        code = _BY_PRIMARY[primary]
    else:
        code = next((c for hint, c in _BY_MESSAGE if hint in text), DB_ERROR)
    name = getattr(exc, "sqlite_errorname", None) or type(exc).__name__
    return StorageError(code, f"{context}: {name}: {exc}")


@contextmanager
def sqlite_errors(context: str) -> Iterator[None]:
    """Re-raise any ``sqlite3.Error`` in the block as a classified StorageError."""
    try:
        yield
    except sqlite3.Error as exc:
        raise classify(exc, context) from exc
