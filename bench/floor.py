"""The floor: the bare SQLite work the matrix needs, in a tight loop, standard library only.

Per fixture: copy it (``shutil.copyfile``, as the harness copies), read the applied
version, apply each pending migration in one transaction with its history row (one
``executescript`` per file: ``BEGIN`` … history ``INSERT`` … ``COMMIT``), then
``PRAGMA integrity_check``, ``PRAGMA foreign_key_check`` and a schema read
(``sqlite_schema``), and delete the copy. Nothing else: no per-case directory, no
hashing, no second copy, no reports. It imports nothing from the harness, so it can also
run as ``python bench/floor.py MIGRATIONS_DIR FIXTURE…``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

HISTORY_DDL = ("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
               "name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)")


def load_migrations(directory: Path) -> list[tuple[int, str, str]]:
    """``(version, script, description)`` per file, the script wrapped with its history row."""
    out = []
    for path in sorted(directory.glob("*.sql"), key=lambda p: int(p.name.split("_", 1)[0])):
        raw = path.read_bytes()
        version = int(path.name.split("_", 1)[0])
        name = path.stem.split("_", 1)[1]
        checksum = hashlib.sha256(raw).hexdigest()
        script = (f"BEGIN;\n{raw.decode('utf-8')}\n;{HISTORY_DDL};\n"
                  f"INSERT INTO schema_migrations (version, name, checksum, applied_at) "
                  f"VALUES ({version}, '{name}', '{checksum}', strftime('%Y-%m-%dT%H:%M:%fZ'));\nCOMMIT;")
        out.append((version, script, path.name))
    return out


def migrate(conn: sqlite3.Connection, migrations: list[tuple[int, str, str]]) -> int:
    """Apply the migrations past the recorded version; how many ran."""
    applied = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]
    pending = [m for m in migrations if m[0] > applied]
    for _, script, _ in pending:
        conn.executescript(script)
    return len(pending)


def checks(conn: sqlite3.Connection) -> tuple[bool, int]:
    """integrity_check, foreign_key_check and a schema read: (sound, schema objects)."""
    integrity = conn.execute("PRAGMA integrity_check").fetchall()
    violations = conn.execute("PRAGMA foreign_key_check").fetchall()
    schema = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY name").fetchall()
    return integrity == [("ok",)] and not violations, len(schema)


def check_one(source: Path, migrations: list[tuple[int, str, str]], scratch: Path, *,
              keep: bool = False) -> dict[str, object]:
    """One fixture's matrix work; ``keep`` leaves the upgraded copy at ``scratch/app.sqlite3``."""
    db = scratch / "app.sqlite3"
    shutil.copyfile(source, db)
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        applied = migrate(conn, migrations)
        ok, objects = checks(conn)
    finally:
        conn.close()
    if not keep:
        os.unlink(db)
    return {"applied": applied, "ok": ok, "objects": objects}


def run(migrations_dir: Path, fixtures: list[Path], scratch_dir: Path | None = None) -> dict[str, object]:
    """Check every fixture; wall seconds and what was found (every one must come out sound)."""
    start, cpu = time.perf_counter(), time.process_time()
    migrations = load_migrations(migrations_dir)
    results, each, each_cpu = [], [], []
    with tempfile.TemporaryDirectory(prefix="bench-floor-", dir=scratch_dir) as scratch:
        for fixture in fixtures:
            t0, c0 = time.perf_counter(), time.process_time()
            results.append(check_one(fixture, migrations, Path(scratch)))
            each.append(time.perf_counter() - t0)
            each_cpu.append(time.process_time() - c0)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "cpu_seconds": round(time.process_time() - cpu, 4), "cases": len(results),
            "sound": sum(1 for r in results if r["ok"]),
            "migrations_applied": sum(int(r["applied"]) for r in results),
            "first_case_seconds": each[0] if each else 0.0, "first_case_cpu_seconds": each_cpu[0] if each else 0.0,
            "case_seconds": [round(t, 5) for t in each]}


if __name__ == "__main__":
    out = run(Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]])
    print(out)
